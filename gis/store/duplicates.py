"""Likely duplicates and merging in the store. Repositories: they flush, never commit. The
rule (same category, metres, hours, open and not merged) is :func:`gis.duplicates.near_
reports`; SQL only narrows the candidates to the same category, the time window and a
box around the incident, then the pure rule decides. Both incidents of a merge must be in
the caller's scope (404 otherwise: another area's incidents do not exist for the caller).

Closed incidents of the same category nearby, closed within the reopen window, are listed
too (``"reopen": true``): merging the new report into one of them reopens it (重办, reason
``repeat_report``), counted against the departments (or the grid's staff) that closed it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import geopandas as gpd
import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.duplicates import REPEAT_REPORT, near_reports, plan_merge
from gis.errors import Conflict, NotFound
from gis.store import attachments, audit, summons
from gis.store.incidents import get_incident, in_scope, locked_incident
from gis.store.models import Incident, IncidentEvent, Summons
from gis.store.notifications import notify_users, users_of_department
from gis.store.users import Principal

_COLUMNS = (Incident.id, Incident.category, Incident.status, Incident.reported_at,
            Incident.merged_into, Incident.grid_code, Incident.closed_at,
            func.ST_AsBinary(Incident.geom))


def _frame(rows) -> gpd.GeoDataFrame:
    names = ["id", "category", "status", "reported_at", "merged_into", "grid_code", "closed_at"]
    data = {n: [r[i] for r in rows] for i, n in enumerate(names)}
    geoms = shapely.from_wkb([bytes(r[-1]) for r in rows]) if rows else []
    return gpd.GeoDataFrame(data, geometry=list(geoms), crs=4326)


def duplicates_of(session: Session, incident_id: int, principal: Principal | None, *,
                  distance_m: float, within_hours: float, reopen_days: float,
                  now: datetime | None = None) -> list[dict]:
    """Incidents in the caller's scope that likely report the same problem: open ones
    (nearest first, with ``distance_m`` and ``hours_apart``), then closed ones closed within
    ``reopen_days`` (nearest first, ``"reopen": true``: merging into one reopens it)."""
    now = now or datetime.now(timezone.utc)
    row = session.execute(select(*_COLUMNS).where(Incident.id == incident_id,
                                                  in_scope(principal))).first()
    if row is None:
        raise NotFound(f"no incident {incident_id}")
    window = timedelta(hours=within_hours)
    since = now - timedelta(days=reopen_days)
    near = func.ST_Intersects(Incident.geom, func.gridgis_expand_m(
        select(Incident.geom).where(Incident.id == incident_id).scalar_subquery(),
        distance_m * 1.5))   # a box with margin (index); the pure rule measures in metres
    rows = session.execute(select(*_COLUMNS).where(
        in_scope(principal), Incident.category == row.category, Incident.id != incident_id,
        near, (Incident.reported_at.between(row.reported_at - window, row.reported_at + window)
               | (Incident.closed_at >= since)))).all()
    found, closed = near_reports(_frame([row]), _frame(rows), distance_m=distance_m,
                                 within_hours=within_hours, closed_since=since)
    info = {r[0]: r for r in rows}
    return ([_listed(info[d.duplicate_id], d.distance_m, d.hours_apart, False)
             for d in found.itertuples()]
            + [_listed(info[d.duplicate_id], d.distance_m, d.hours_apart, True)
               for d in closed.itertuples()])


def _listed(row, distance_m: float, hours_apart: float, reopen: bool) -> dict:
    return {"id": int(row.id), "distance_m": float(distance_m),
            "hours_apart": float(hours_apart),
            "status": row.status, "reported_at": row.reported_at, "grid_code": row.grid_code,
            "closed_at": row.closed_at, "reopen": reopen}


def merge(session: Session, incident_id: int, into: int, *, version: int,
          principal: Principal, reopen_days: float, now: datetime | None = None) -> dict:
    """Merge incident ``incident_id`` (read at ``version``) into ``into``: it closes with
    ``merged_into`` set, its reporter and attachments move to the survivor, both record an
    event. A survivor closed within ``reopen_days`` reopens (:func:`_reopen`); one closed
    earlier refuses (409). Returns the survivor."""
    now = now or datetime.now(timezone.utc)
    first, second = sorted((incident_id, into))        # one lock order: no deadlock
    locked = {i: locked_incident(session, i, principal) for i in (first, second) if i}
    merged, survivor = locked[incident_id], locked[into]
    if merged.version != version:
        raise Conflict(f"incident {incident_id} changed since version {version} (now "
                       f"{merged.version}); reload it", current_version=merged.version)
    plan = plan_merge(_as_plan_row(merged), _as_plan_row(survivor), now=now,
                      reopen_window=timedelta(days=reopen_days))
    moved = attachments.move(session, plan.merged_id, plan.survivor_id)
    before = merged.status
    merged.status, merged.closed_at, merged.merged_into = "closed", now, plan.survivor_id
    merged.version += 1
    survivor.reporter = "; ".join(plan.reporters) or None
    survivor.version += 1
    actor = principal.username
    session.add_all([
        IncidentEvent(incident_id=merged.id, action="merge", from_status=before,
                      to_status="closed", actor=actor, note=f"merged into #{survivor.id}",
                      grid_code=merged.grid_code, at=now),
        IncidentEvent(incident_id=survivor.id, action="merge", from_status=survivor.status,
                      to_status=survivor.status, actor=actor,
                      note=f"#{merged.id} merged in ({moved} attachment(s))",
                      grid_code=survivor.grid_code, at=now)])
    session.flush()
    reopened = _reopen(session, survivor, merged, actor, now) if plan.reopen else None
    for department in session.scalars(select(Summons.department_code)
                                      .where(Summons.incident_id == merged.id)):
        notify_users(session, users_of_department(session, department), "merged", merged.id,
                     department, f"incident {merged.id} was merged into #{survivor.id}")
    audit.record(session, actor, "merge", "incident", merged.id, {"status": before},
                 {"status": "closed", "merged_into": survivor.id, "attachments": moved,
                  **({"reopened": reopened} if reopened is not None else {})})
    return get_incident(session, survivor.id, principal, now=now)


def _reopen(session: Session, survivor: Incident, merged: Incident, actor: str,
            now: datetime) -> list[str]:
    """重办 by a repeat report: the closed survivor goes back to handling, a ``reopen``
    event with reason ``repeat_report`` names each department that had fed back (or none:
    the grid's staff, named in the note by the last feedback's author)."""
    handled_by = session.scalar(
        select(IncidentEvent.actor).where(IncidentEvent.incident_id == survivor.id,
                                          IncidentEvent.action == "feedback")
        .order_by(IncidentEvent.at.desc(), IncidentEvent.id.desc()).limit(1))
    days = (now - survivor.closed_at) / timedelta(days=1)
    note = (f"{REPEAT_REPORT}: #{merged.id} reported the same problem {days:.1f} days after "
            f"closing" + (f" (fed back by {handled_by})" if handled_by else ""))
    closed_at = survivor.closed_at
    reopened = summons.reopen(session, survivor, actor=actor, before="closed", note=note,
                              at=now)
    session.flush()
    audit.record(session, actor, "reopen", "incident", survivor.id,
                 {"status": "closed", "closed_at": closed_at},
                 {"status": survivor.status, "reason": REPEAT_REPORT, "merged": merged.id,
                  "departments": reopened})
    return reopened


def _as_plan_row(row: Incident) -> dict:
    return {"id": row.id, "status": row.status, "merged_into": row.merged_into,
            "closed_at": row.closed_at,
            "reporters": [r.strip() for r in (row.reporter or "").split(";") if r.strip()]}
