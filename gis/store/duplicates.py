"""Likely duplicates and merging in the store. Repositories: they flush, never commit. The
rule (same category, metres, hours, open and not merged) is :func:`gis.duplicates.likely_
duplicates`; SQL only narrows the candidates to the same category, the time window and a
box around the incident, then the pure rule decides. Both incidents of a merge must be in
the caller's scope (404 otherwise: another area's incidents do not exist for the caller).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import geopandas as gpd
import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.duplicates import likely_duplicates, plan_merge
from gis.errors import Conflict, NotFound
from gis.store import attachments, audit
from gis.store.incidents import get_incident, in_scope, locked_incident
from gis.store.models import Incident, IncidentEvent, Summons
from gis.store.notifications import notify_users, users_of_department
from gis.store.users import Principal

_COLUMNS = (Incident.id, Incident.category, Incident.status, Incident.reported_at,
            Incident.merged_into, Incident.grid_code, func.ST_AsBinary(Incident.geom))


def _frame(rows) -> gpd.GeoDataFrame:
    names = ["id", "category", "status", "reported_at", "merged_into", "grid_code"]
    data = {n: [r[i] for r in rows] for i, n in enumerate(names)}
    geoms = shapely.from_wkb([bytes(r[-1]) for r in rows]) if rows else []
    return gpd.GeoDataFrame(data, geometry=list(geoms), crs=4326)


def duplicates_of(session: Session, incident_id: int, principal: Principal | None, *,
                  distance_m: float, within_hours: float) -> list[dict]:
    """Open incidents in the caller's scope that likely report the same problem, nearest
    first, with ``distance_m`` and ``hours_apart``."""
    row = session.execute(select(*_COLUMNS).where(Incident.id == incident_id,
                                                  in_scope(principal))).first()
    if row is None:
        raise NotFound(f"no incident {incident_id}")
    window = timedelta(hours=within_hours)
    near = func.ST_Intersects(Incident.geom, func.gridgis_expand_m(
        select(Incident.geom).where(Incident.id == incident_id).scalar_subquery(),
        distance_m * 1.5))   # a box with margin (index); the pure rule measures in metres
    rows = session.execute(select(*_COLUMNS).where(
        in_scope(principal), Incident.category == row.category, Incident.id != incident_id,
        Incident.reported_at.between(row.reported_at - window, row.reported_at + window),
        near)).all()
    found = likely_duplicates(_frame([row]), _frame(rows), distance_m=distance_m,
                              within_hours=within_hours)
    info = {r[0]: r for r in rows}
    return [{"id": int(d.duplicate_id), "distance_m": float(d.distance_m),
             "hours_apart": float(d.hours_apart), "status": info[d.duplicate_id].status,
             "reported_at": info[d.duplicate_id].reported_at,
             "grid_code": info[d.duplicate_id].grid_code} for d in found.itertuples()]


def merge(session: Session, incident_id: int, into: int, *, version: int,
          principal: Principal, now: datetime | None = None) -> dict:
    """Merge incident ``incident_id`` (read at ``version``) into ``into``: it closes with
    ``merged_into`` set, its reporter and attachments move to the survivor, both record an
    event. Returns the survivor."""
    now = now or datetime.now(timezone.utc)
    first, second = sorted((incident_id, into))        # one lock order: no deadlock
    locked = {i: locked_incident(session, i, principal) for i in (first, second) if i}
    merged, survivor = locked[incident_id], locked[into]
    if merged.version != version:
        raise Conflict(f"incident {incident_id} changed since version {version} (now "
                       f"{merged.version}); reload it", current_version=merged.version)
    plan = plan_merge(_as_plan_row(merged), _as_plan_row(survivor))
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
    for department in session.scalars(select(Summons.department_code)
                                      .where(Summons.incident_id == merged.id)):
        notify_users(session, users_of_department(session, department), "merged", merged.id,
                     department, f"incident {merged.id} was merged into #{survivor.id}")
    audit.record(session, actor, "merge", "incident", merged.id, {"status": before},
                 {"status": "closed", "merged_into": survivor.id, "attachments": moved})
    return get_incident(session, survivor.id, principal, now=now)


def _as_plan_row(row: Incident) -> dict:
    return {"id": row.id, "status": row.status, "merged_into": row.merged_into,
            "reporters": [r.strip() for r in (row.reporter or "").split(";") if r.strip()]}
