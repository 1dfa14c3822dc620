"""A duty roster's rows (worker, date, on/off) checked before they are stored: strict, as
an importer is (every problem listed by row and field, nothing written if any). The
assessment reads the stored roster exactly as the ``--roster`` file of ``gridgis assess``
(:func:`gis.assessment.month.off_days`): a day off is not required for patrol windows."""

from __future__ import annotations

from datetime import date

import pandas as pd

from gis.assessment.inputs import require, text
from gis.assessment.month import ON_WORDS
from gis.errors import InvalidRows, RowProblem

COLUMNS = ("worker", "date", "on")


def roster_rows(df: pd.DataFrame, file: str | None = None) -> list[dict]:
    """``{worker, day, on_duty}`` per (worker, day); a day listed both on and off is on
    (as :func:`gis.assessment.month.off_days` counts it).

    Examples
    --------
    >>> roster_rows(pd.DataFrame({"worker": ["w1", "w1"], "date": ["2026-10-30", "2026-10-30"],
    ...                           "on": ["off", "上班"]}))
    [{'worker': 'w1', 'day': datetime.date(2026, 10, 30), 'on_duty': True}]
    """
    require(df, COLUMNS, "a roster")
    problems, seen = [], {}
    for i, (worker, day, on) in enumerate(zip(text(df["worker"]), text(df["date"]),
                                              text(df["on"]))):
        where = lambda field, why: RowProblem(i + 1, field, why, file)  # noqa: E731
        parsed = _day(day)
        duty = None if on is None else ON_WORDS.get(on.lower())
        if worker is None or len(worker) > 100:
            problems.append(where("worker", "missing" if worker is None else "too long"))
        if parsed is None:
            problems.append(where("date", f"{day!r} is not a date (YYYY-MM-DD)" if day
                                  else "missing"))
        if duty is None:
            problems.append(where("on", f"{on!r} is neither on nor off" if on else "missing"))
        if worker is not None and parsed is not None and duty is not None:
            seen[(worker, parsed)] = seen.get((worker, parsed), False) or duty
    if problems:
        raise InvalidRows(problems, file=file)
    return [{"worker": w, "day": d, "on_duty": on} for (w, d), on in seen.items()]


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    stamp = pd.to_datetime(value, errors="coerce", format="mixed")
    return None if pd.isna(stamp) else stamp.date()
