"""Move a generated district's timeline to now, for a live demo.

The generator is deterministic: its incidents and patrols end on 31 October 2026, so a demo
loaded weeks later shows every open incident overdue and no patrol today. :func:`end_now`
shifts every time by whole days, so the generated last day becomes today (local time of
the deployment) with each event at the same hour of its day, and keeps only what has
happened by ``now``: later reports and fixes are dropped, and a closure still to come is
undone (the incident is being handled now).

Examples
--------
>>> from datetime import datetime, timezone
>>> from gis.generate import generate_district
>>> d = end_now(generate_district(2000, 1), datetime(2027, 3, 5, 6, 0, tzinfo=timezone.utc))
>>> str(d.patrol_points["time"].max().date())
'2027-03-05'
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pandas as pd

from gis.generate.incidents import END

LAST_DAY: date = (END - pd.Timedelta(days=1)).date()   # the generated last day
TIME_COLUMNS = ("reported_at", "closed_at", "due_at")


def shift_days(now: datetime, tz: str) -> int:
    """Whole days from the generated last day to today in ``tz``."""
    return (now.astimezone(ZoneInfo(tz)).date() - LAST_DAY).days


def _iso(times: pd.Series, tz: str) -> pd.Series:
    local = times.dt.tz_convert(tz)
    return local.map(lambda t: t.isoformat() if pd.notna(t) else None).astype(object)


def _incidents(incidents, shift: pd.Timedelta, now: pd.Timestamp, tz: str):
    out = incidents.copy()
    times = {c: pd.to_datetime(out[c], utc=True, format="ISO8601") + shift for c in TIME_COLUMNS}
    keep = (times["reported_at"] <= now).to_numpy()
    later = (times["closed_at"] > now).to_numpy()
    times["closed_at"] = times["closed_at"].where(~later)
    out.loc[later, "status"] = "handling"  # closed after now: being handled now
    for c in TIME_COLUMNS:
        out[c] = _iso(times[c], tz)
    return out.loc[keep].reset_index(drop=True)


def end_now(district, now: datetime, tz: str = "Asia/Shanghai"):
    """A copy of ``district`` whose incidents and patrol fixes end at ``now`` (aware)."""
    if now.tzinfo is None:
        raise ValueError("now needs a time zone")
    shift = pd.Timedelta(days=shift_days(now, tz))
    at = pd.Timestamp(now).tz_convert("UTC")
    fixes = district.patrol_points.copy()
    fixes["time"] = fixes["time"] + shift
    fixes = fixes.loc[fixes["time"].dt.tz_convert("UTC") <= at].reset_index(drop=True)
    return dataclasses.replace(district, incidents=_incidents(district.incidents, shift, at, tz),
                               patrol_points=fixes)
