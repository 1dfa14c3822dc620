"""Patrol windows: half days (00:00–12:00, 12:00–24:00 local) or any length that divides
a day, anchored at local midnight in a named time zone (Asia/Shanghai by default).

Times are carried as int64 nanoseconds since the Unix epoch in UTC; windows are
identified by the UTC instant of their start and shown as ISO time with the local
offset (``2026-10-30T12:00:00+08:00``).
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from gis.errors import InputError

DAY_NS = 86_400 * 10**9
DEFAULT_TZ = "Asia/Shanghai"


def parse_window(text: str | pd.Timedelta) -> pd.Timedelta:
    """``"12h"``, ``"6h"``, ``"1d"``, ``"30min"`` → Timedelta; it must divide a day
    (so windows line up with local midnight) or be a whole number of days."""
    try:
        length = pd.Timedelta(text)
    except (ValueError, TypeError) as exc:
        raise InputError(f"cannot read window length {text!r} (e.g. 12h, 1d)", field="window") from exc
    ns = length.value
    if ns <= 0 or (DAY_NS % ns and ns % DAY_NS):
        raise InputError(f"window {text!r} must divide a day (e.g. 12h, 6h) or be whole days",
                         field="window")
    return length


def check_tz(tz: str) -> str:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(f"unknown time zone {tz!r} (e.g. Asia/Shanghai)", field="tz") from exc
    return tz


@dataclass(frozen=True)
class Windows:
    """Fixed-length windows anchored at local midnight.

    Examples
    --------
    >>> w = Windows.of("12h")
    >>> t = pd.Timestamp("2026-10-30T13:05:00+08:00").value
    >>> w.label(w.start_of(np.array([t]))[0])
    '2026-10-30T12:00:00+08:00'
    """

    length_ns: int
    tz: str = DEFAULT_TZ

    @classmethod
    def of(cls, window: str | pd.Timedelta = "12h", tz: str = DEFAULT_TZ) -> "Windows":
        return cls(int(parse_window(window).value), check_tz(tz))

    def _wall(self, utc_ns: np.ndarray) -> np.ndarray:
        idx = pd.DatetimeIndex(np.asarray(utc_ns, dtype="datetime64[ns]"), tz="UTC")
        return np.asarray(idx.tz_convert(self.tz).tz_localize(None).asi8)

    def _utc(self, wall_ns: np.ndarray) -> np.ndarray:
        """Local wall-clock instants → UTC; a start skipped by DST moves forward."""
        uniq, inverse = np.unique(np.asarray(wall_ns, dtype=np.int64), return_inverse=True)
        idx = pd.DatetimeIndex(uniq.astype("datetime64[ns]"))
        loc = idx.tz_localize(self.tz, ambiguous=np.zeros(len(uniq), dtype=bool),
                              nonexistent="shift_forward")
        return np.asarray(loc.tz_convert("UTC").asi8)[inverse]

    def start_of(self, utc_ns) -> np.ndarray:
        """UTC start (ns) of the window holding each instant."""
        wall = self._wall(utc_ns)
        return self._utc(wall - np.mod(wall, self.length_ns))

    def end_of(self, start_utc_ns) -> np.ndarray:
        """UTC end (ns, exclusive) of windows given by their UTC start."""
        wall = self._wall(start_utc_ns)
        return self._utc(wall + self.length_ns)

    def span(self, first_ns: int, last_ns: int) -> np.ndarray:
        """Starts of every window from the one holding ``first_ns`` to the one holding
        ``last_ns`` (inclusive), in order."""
        wall0 = int(self._wall(np.array([first_ns]))[0])
        wall1 = int(self._wall(np.array([last_ns]))[0])
        w0 = wall0 - wall0 % self.length_ns
        walls = np.arange(w0, wall1 + 1, self.length_ns, dtype=np.int64)
        return self._utc(walls) if len(walls) else np.array([], dtype=np.int64)

    def table(self, first_ns: int, last_ns: int) -> tuple[np.ndarray, np.ndarray]:
        """Starts and ends (UTC ns) of every window from the one holding ``first_ns`` to
        the one holding ``last_ns``: the window of an instant ``t`` is then
        ``searchsorted(starts, t, "right") - 1``, no time zone work per instant."""
        starts = self.span(first_ns, last_ns)
        return starts, self.end_of(starts)

    def label(self, start_ns: int) -> str:
        """ISO 8601 with the local offset, e.g. ``2026-10-30T12:00:00+08:00``."""
        return pd.Timestamp(int(start_ns), tz="UTC").tz_convert(self.tz).isoformat()

    def labels(self, starts) -> list[str]:
        return [self.label(s) for s in starts]


def parse_instant(text, tz: str, field: str) -> int:
    """``--from``/``--to``: an ISO time (naive = local in ``tz``) → UTC ns."""
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError) as exc:
        raise InputError(f"cannot read time {text!r} (use ISO 8601, e.g. 2026-10-30T08:00)",
                         field=field) from exc
    if ts.tzinfo is None:
        ts = ts.tz_localize(tz)
    return int(ts.tz_convert("UTC").value)


def to_ns(times: pd.Series) -> np.ndarray:
    """UTC nanoseconds (int64) of a datetime column, aware or naive-as-UTC."""
    return np.asarray(pd.DatetimeIndex(times).as_unit("ns").asi8)
