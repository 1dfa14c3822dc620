"""How each department handled its cases in a period, and the worst-first ranking (逆排名).

Pure: pandas frames in and out, time limits from :mod:`gis.clocks`. One *assignment* is one
department's part in one incident: it begins when the incident is dispatched to the
department or the department is summoned (吹哨), and then the department acknowledges
(报到) and feeds back (反馈). From the events of the closed loop:

* ``received``: assignments that began in the period;
* ``acknowledged_on_time``: of those, acknowledged by the acknowledge limit;
* ``closed_on_time`` (按期办结): of those, whose last feedback came by the handle limit;
  a part reopened (重办) after its last feedback is not closed until it feeds back again;
* ``reopened`` / ``returned``: reopen (重办: an unsatisfied call-back or a repeat report)
  and return events naming the department;
* ``median_hours_to_close``: wall-clock hours from receipt to the last feedback.

A merged incident counts once, through its survivor (:func:`gis.duplicates.count_once`).

Examples
--------
>>> import pandas as pd
>>> t = pd.Timestamp("2026-09-01 09:00", tz="Asia/Shanghai")
>>> events = pd.DataFrame({"incident_id": [1, 1, 1], "department_code": ["zj"] * 3,
...     "action": ["dispatch", "acknowledge", "feedback"],
...     "at": [t, t + pd.Timedelta(hours=1), t + pd.Timedelta(hours=30)]})
>>> incidents = pd.DataFrame({"id": [1], "category": ["environment"]})
>>> perf = performance(assignments(events, incidents), t, t + pd.Timedelta(days=30))
>>> perf[["received", "acknowledged_on_time", "closed_on_time"]].values.tolist()
[[1, 1, 1]]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from gis.clocks import (DEFAULT_LIMITS, Calendar, Extension, Limit, LimitTable, due_at,
                        limit_for)
from gis.duplicates import count_once
from gis.errors import InputError

RECEIVE = ("dispatch", "whistle")   # the department's part begins
MEASURES = ["department_code", "received", "acknowledged_on_time", "ack_on_time_rate",
            "closed", "closed_on_time", "on_time_rate", "reopened", "returned",
            "median_hours_to_close"]
_EVENT_COLUMNS = ("incident_id", "department_code", "action", "at")


def _first(events: pd.DataFrame, actions: tuple, how: str, name: str) -> pd.Series:
    rows = events[events["action"].isin(actions)]
    return rows.groupby(["incident_id", "department_code"])["at"].agg(how).rename(name)


def _count(events: pd.DataFrame, action: str, name: str) -> pd.Series:
    rows = events[events["action"] == action]
    return rows.groupby(["incident_id", "department_code"]).size().rename(name)


def assignments(events: pd.DataFrame, incidents: pd.DataFrame, *,
                calendar: Calendar = Calendar(), limits: LimitTable = DEFAULT_LIMITS,
                extensions: Mapping[tuple, Iterable[Extension]] | None = None,
                part_limits: Mapping[tuple, tuple[Limit, Limit]] | None = None
                ) -> pd.DataFrame:
    """One row per (incident, department) that received the incident, with due times.

    ``events`` has ``incident_id``, ``department_code``, ``action``, ``at`` (aware); only rows
    naming a department matter. ``incidents`` has ``id``, ``category``, and optionally
    ``level`` and ``merged_into``. ``extensions`` maps ``(incident_id, department_code)`` to
    that assignment's extensions (approved ones move the handle due time). ``part_limits``
    maps the same key to ``(acknowledge, handle)`` limits fixed on the part when it began
    (the deployment's department limits); ``limits`` gives the others.
    """
    missing = [c for c in _EVENT_COLUMNS if c not in events.columns]
    if missing:
        raise InputError(f"events lack column(s) {', '.join(missing)}", field=missing[0])
    events = events[events["department_code"].notna()]
    counted = count_once(incidents)[["id", "category", *(
        ["level"] if "level" in incidents.columns else [])]]
    events = events[events["incident_id"].isin(counted["id"])]
    parts = pd.concat([_first(events, RECEIVE, "min", "received_at"),
                       _first(events, ("acknowledge",), "min", "acknowledged_at"),
                       _first(events, ("feedback",), "max", "done_at"),
                       _first(events, ("reopen",), "max", "reopened_at"),
                       _count(events, "reopen", "reopened"),
                       _count(events, "return", "returned")], axis=1).reset_index()
    parts = parts[parts["received_at"].notna()]
    undone = parts["reopened_at"].notna() & (parts["reopened_at"] >= parts["done_at"])
    parts = parts.assign(done_at=parts["done_at"].mask(undone)).drop(columns="reopened_at")
    parts = parts.merge(counted.rename(columns={"id": "incident_id"}), on="incident_id")
    parts[["reopened", "returned"]] = parts[["reopened", "returned"]].fillna(0).astype(int)
    ack_due, handle_due = [], []
    for row in parts.itertuples(index=False):
        level = getattr(row, "level", None)
        key = (row.incident_id, row.department_code)
        extra = (extensions or {}).get(key, ())
        ack, handle = (part_limits or {}).get(key) or (
            limit_for("acknowledge", row.category, level, limits),
            limit_for("handle", row.category, level, limits))
        ack_due.append(due_at(row.received_at, ack, calendar))
        handle_due.append(due_at(row.received_at, handle, calendar, extensions=extra))
    return parts.assign(ack_due_at=pd.to_datetime(ack_due, utc=True),
                        handle_due_at=pd.to_datetime(handle_due, utc=True))


def performance(assigned: pd.DataFrame, start, end, *,
                departments: Iterable[str] = ()) -> pd.DataFrame:
    """The measures per department for assignments received in ``[start, end)``.

    Departments listed in ``departments`` that received nothing appear with zeros (and no
    rates), so a quiet department is visible rather than missing.
    """
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    rows = assigned[(assigned["received_at"] >= start) & (assigned["received_at"] < end)]
    rows = rows.assign(
        ack_ok=rows["acknowledged_at"].notna() & (rows["acknowledged_at"] <= rows["ack_due_at"]),
        closed=rows["done_at"].notna(),
        close_ok=rows["done_at"].notna() & (rows["done_at"] <= rows["handle_due_at"]),
        hours=(rows["done_at"] - rows["received_at"]).dt.total_seconds() / 3600)
    grouped = rows.groupby("department_code")
    out = pd.DataFrame({"received": grouped.size(),
                        "acknowledged_on_time": grouped["ack_ok"].sum(),
                        "closed": grouped["closed"].sum(),
                        "closed_on_time": grouped["close_ok"].sum(),
                        "reopened": grouped["reopened"].sum(),
                        "returned": grouped["returned"].sum(),
                        "median_hours_to_close": grouped["hours"].median()})
    quiet = sorted(set(departments) - set(out.index))
    out = pd.concat([out, pd.DataFrame(index=pd.Index(quiet))]) if quiet else out
    counts = ["received", "acknowledged_on_time", "closed", "closed_on_time", "reopened",
              "returned"]
    out[counts] = out[counts].fillna(0).astype(int)
    received = out["received"].where(out["received"] > 0)
    out["ack_on_time_rate"] = (out["acknowledged_on_time"] / received).round(4)
    out["on_time_rate"] = (out["closed_on_time"] / received).round(4)
    out["median_hours_to_close"] = out["median_hours_to_close"].astype(float).round(2)
    return out.rename_axis("department_code").reset_index()[MEASURES]


def ranking(perf: pd.DataFrame) -> pd.DataFrame:
    """Worst first (逆排名): lowest 按期办结率, then lowest acknowledge rate, then most
    reopened, most returned, slowest; departments that received nothing come last, unranked.
    """
    ranked = perf[perf["received"] > 0].sort_values(
        ["on_time_rate", "ack_on_time_rate", "reopened", "returned", "median_hours_to_close",
         "department_code"],
        ascending=[True, True, False, False, False, True], na_position="first")
    ranked = ranked.assign(rank=np.arange(1, len(ranked) + 1))
    quiet = perf[perf["received"] == 0].sort_values("department_code").assign(rank=pd.NA)
    return pd.concat([ranked, quiet]).reset_index(drop=True)
