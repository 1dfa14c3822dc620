"""The assessed month in local time: its bounds, days and ISO weeks, and the roster's
days off.

Days and weeks are local (``tz``); instants are int64 UTC nanoseconds, as in
:mod:`gis.patrol.windows`. An ISO week counts when any of its days lies in the month,
and only those days count towards it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from gis.errors import InputError
from gis.patrol.windows import Windows, check_tz

_MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")
ON_WORDS = {"on": True, "1": True, "true": True, "yes": True, "y": True, "work": True,
            "duty": True, "班": True, "上班": True, "在岗": True,
            "off": False, "0": False, "false": False, "no": False, "n": False, "rest": False,
            "leave": False, "休": False, "休息": False, "请假": False}


@dataclass(frozen=True)
class Month:
    """One calendar month in a time zone.

    Examples
    --------
    >>> m = Month.parse("2026-02", "Asia/Shanghai")
    >>> len(m.day_labels), m.day_labels[0], m.week_labels[0]
    (28, '2026-02-01', '2026-W05')
    """

    label: str
    tz: str
    start_ns: int
    end_ns: int  # exclusive
    day_starts: np.ndarray
    day_labels: tuple[str, ...]
    week_of_day: np.ndarray  # position in week_labels of each day
    week_labels: tuple[str, ...]

    @classmethod
    def parse(cls, text: str, tz: str) -> "Month":
        found = _MONTH.match(str(text or ""))
        if not found or not 1 <= int(found.group(2)) <= 12:
            raise InputError(f"cannot read month {text!r} (use YYYY-MM, e.g. 2026-10)",
                             field="month")
        check_tz(tz)
        first = pd.Timestamp(int(found.group(1)), int(found.group(2)), 1)
        start = int(first.tz_localize(tz).tz_convert("UTC").value)
        end = int((first + pd.offsets.MonthBegin(1)).tz_localize(tz).tz_convert("UTC").value)
        days = Windows.of("24h", tz)
        starts = days.span(start, end - 1)
        labels = tuple(days.label(s)[:10] for s in starts)
        weeks = [_iso_week(d) for d in labels]
        week_labels = tuple(dict.fromkeys(weeks))
        return cls(f"{first:%Y-%m}", tz, start, end, starts, labels,
                   np.array([week_labels.index(w) for w in weeks]), week_labels)

    def day_of(self, t_ns) -> np.ndarray:
        """Position of each instant's local day in the month, -1 outside it."""
        t = np.asarray(t_ns, dtype=np.int64)
        pos = np.searchsorted(self.day_starts, t, side="right") - 1
        return np.where((t >= self.start_ns) & (t < self.end_ns), pos, -1)

    def days_in_week(self) -> np.ndarray:
        """How many of the month's days fall in each of its ISO weeks."""
        return np.bincount(self.week_of_day, minlength=len(self.week_labels))


def _iso_week(day: str) -> str:
    year, week, _ = date.fromisoformat(day).isocalendar()
    return f"{year}-W{week:02d}"


def off_days(roster: pd.DataFrame | None, month: Month) -> tuple[pd.DataFrame, dict[str, int]]:
    """Days off duty in the month from a roster (``worker, date, on``).

    Returns ``(worker, day)`` pairs (``day`` = position in the month) and the rows
    dropped per reason (``missing``, ``bad_date``, ``bad_on``); days outside the month
    are ignored. A day listed both on and off counts as on (the worker was there).
    """
    empty = pd.DataFrame({"worker": pd.Series([], dtype=object),
                          "day": pd.Series([], dtype=np.int64)})
    dropped = {"missing": 0, "bad_date": 0, "bad_on": 0}
    if roster is None or not len(roster):
        return empty, dropped
    worker = roster["worker"].astype("string").str.strip()
    day = pd.to_datetime(roster["date"].astype("string").str.strip(), errors="coerce",
                         format="mixed").dt.strftime("%Y-%m-%d")
    on = roster["on"].astype("string").str.strip().str.lower().map(ON_WORDS)
    missing = worker.isna() | (worker == "") | roster["date"].isna() | roster["on"].isna()
    dropped["missing"] = int(missing.sum())
    dropped["bad_date"] = int((~missing & day.isna()).sum())
    dropped["bad_on"] = int((~missing & day.notna() & on.isna()).sum())
    ok = ~missing & day.notna() & on.notna()
    rows = pd.DataFrame({"worker": worker[ok].astype(object), "day": day[ok], "on": on[ok].astype(bool)})
    pos = {d: i for i, d in enumerate(month.day_labels)}
    rows = rows[rows["day"].isin(pos)]
    on_any = rows.groupby(["worker", "day"])["on"].any()
    off = on_any[~on_any].reset_index()[["worker", "day"]]
    off["day"] = off["day"].map(pos).astype(np.int64)
    return off.sort_values(["worker", "day"]).reset_index(drop=True), dropped
