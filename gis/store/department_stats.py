"""The rows behind the department figures (issue 16 item 8): the departments' events and
their incidents, in the caller's scope, as frames for :mod:`gis.department_performance`.
Read-only queries."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.clocks import Limit
from gis.department_performance import RECEIVE
from gis.store.incidents import IncidentFilter, in_scope
from gis.store.models import Incident, IncidentEvent, Summons
from gis.store.users import Principal

ACTIONS = (*RECEIVE, "acknowledge", "feedback", "return", "reopen")


def frames(session: Session, principal: Principal | None,
           filters: IncidentFilter) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(events, incidents)``: every event naming a department on an incident the caller
    may see that matches the area and category filters (the period is applied to the
    departments' receipt, by the caller)."""
    now = datetime.now(timezone.utc)
    where = [in_scope(principal), *replace(filters, start=None, end=None).clauses(now)]
    own = getattr(principal, "department_code", None)
    if own:   # a department sees its own figures, not those of others on shared cases
        where.append(IncidentEvent.department_code == own)
    events = session.execute(
        select(IncidentEvent.incident_id, IncidentEvent.department_code, IncidentEvent.action,
               IncidentEvent.at)
        .join(Incident, Incident.id == IncidentEvent.incident_id)
        .where(*where, IncidentEvent.department_code.is_not(None),
               IncidentEvent.action.in_(ACTIONS))).all()
    ids = sorted({e.incident_id for e in events})
    incidents = session.execute(
        select(Incident.id, Incident.category, Incident.level, Incident.merged_into,
               func.left(Incident.community_code, 6))
        .where(Incident.id.in_(ids))).all() if ids else []
    return (pd.DataFrame(events, columns=["incident_id", "department_code", "action", "at"]),
            pd.DataFrame(incidents, columns=["id", "category", "level", "merged_into",
                                             "county"]))


def part_limits(session: Session, incident_ids) -> dict[tuple[int, str], tuple[Limit, Limit]]:
    """``{(incident, department): (acknowledge, handle)}``: the limits fixed on each part
    when it began (parts made before they were recorded are left out: built-in limits)."""
    ids = sorted(set(int(i) for i in incident_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(Summons.incident_id, Summons.department_code, Summons.ack_limit_amount,
               Summons.ack_limit_unit, Summons.handle_limit_amount, Summons.handle_limit_unit)
        .where(Summons.incident_id.in_(ids), Summons.ack_limit_amount.is_not(None),
               Summons.handle_limit_amount.is_not(None))).all()
    return {(r[0], r[1]): (Limit(r[2], r[3]), Limit(r[4], r[5])) for r in rows}
