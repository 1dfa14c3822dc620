"""Incidents: report, move through the closed loop, read, list, statistics, hot spots,
locate, and bulk import of a file. The loop's rules are :mod:`gis.incidents`; the queries
are :mod:`gis.store.incidents` and :mod:`gis.store.incident_queries`."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from gis.errors import Forbidden
from gis.services.idempotency import Once, write_once
from gis.services.uow import unit_of_work
from gis.settings import Settings
from gis.store import incident_queries as queries
from gis.store import incidents as repo
from gis.store.incidents import MAX_PAGE, IncidentFilter, NewIncident, feature
from gis.store.users import Principal

__all__ = ["MAX_PAGE", "IncidentFilter", "NewIncident", "create", "get", "hotspots",
           "import_upload", "list_page", "locate", "stats", "transition"]


def create(engine: Engine, settings: Settings, new: NewIncident, principal: Principal, *,
           once: Once | None = None) -> dict:
    """Report an incident (上报): stored, assigned to its grid, its ``report`` event and
    audit entry written, all committed; returns it as a GeoJSON Feature. With ``once``
    (an Idempotency-Key) a retry returns the first answer and stores nothing new."""
    return write_once(engine, once, principal, lambda session: feature(repo.create_incident(
        session, new, actor=principal.username, tolerance_m=settings.tolerance_m,
        principal=principal)))


def get(engine: Engine, incident_id: int, principal: Principal) -> dict:
    """One incident in the caller's scope with its events, as a Feature (NotFound else)."""
    with unit_of_work(engine, read_only=True) as session:
        return feature(repo.get_incident(session, incident_id, principal))


def transition(engine: Engine, incident_id: int, action: str, *, version: int,
               principal: Principal, note: str | None = None,
               department_code: str | None = None, once: Once | None = None) -> dict:
    """Apply one step of the closed loop (optimistic: 409 if ``version`` is stale; a retry
    with the same Idempotency-Key gets the first answer instead).

    ``dispatch`` may name a department (issue 16): the incident is handed to it in the same
    unit of work. ``verify`` and ``close`` wait until every summoned department has fed
    back (联合处置)."""
    from gis.errors import InputError
    from gis.store import summons

    if department_code is not None and action != "dispatch":
        raise InputError("department_code goes only with action 'dispatch'",
                         field="department_code")

    def work(session) -> dict:
        if action in ("verify", "close"):
            summons.check_joint(session, incident_id)
        row = repo.transition(session, incident_id, action, version=version,
                              principal=principal, note=note)
        if department_code is not None:
            summons.dispatch_to(session, incident_id, department_code, principal=principal,
                                note=note)
            row = repo.get_incident(session, incident_id, principal)
        return feature(row)

    return write_once(engine, once, principal, work)


def list_page(engine: Engine, principal: Principal, flt: IncidentFilter, *, limit: int,
              offset: int) -> tuple[int, list[dict]]:
    """``(total matching, one page of Features)``, newest report first."""
    with unit_of_work(engine, read_only=True) as session:
        total, rows = repo.list_incidents(session, principal, flt, limit=limit, offset=offset)
    return total, [feature(r) for r in rows]


def stats(engine: Engine, principal: Principal, flt: IncidentFilter) -> dict:
    with unit_of_work(engine, read_only=True) as session:
        return queries.grid_stats(session, principal, flt)


def hotspots(engine: Engine, principal: Principal, flt: IncidentFilter, *, size_m: float,
             limit: int) -> dict:
    with unit_of_work(engine, read_only=True) as session:
        return queries.hotspots(session, principal, flt, size_m=size_m, limit=limit)


def locate(engine: Engine, settings: Settings, principal: Principal, lon: float, lat: float, *,
           crs: str = "wgs84", patrol_hours: float = 12.0) -> dict:
    """Grid, community, township, staff and nearest worker of a place."""
    with unit_of_work(engine, read_only=True) as session:
        return queries.locate(session, lon, lat, principal, crs=crs,
                              tolerance_m=settings.tolerance_m, patrol_hours=patrol_hours)


def import_upload(engine: Engine, settings: Settings, principal: Principal, path: Path, *,
                  name: str, crs: str | None = None, lon: str | None = None,
                  lat: str | None = None, skip_invalid: bool = False) -> dict:
    """Bulk import an uploaded file of incidents in one transaction. A scoped reporter may
    only add incidents inside their area: one outside and nothing of the file is kept."""
    from gis.io import read_layer
    from gis.store.importer import import_frame

    gdf = read_layer(path, crs=crs, lon=lon, lat=lat)
    with unit_of_work(engine) as session:
        first_id = repo.max_incident_id(session)
        report = import_frame(session, "incidents", gdf, skip_invalid=skip_invalid, file=name,
                              timezone=settings.timezone, actor=principal.username,
                              tolerance_m=settings.tolerance_m)
        outside = repo.outside_scope(session, first_id, principal)
        if outside:  # raising rolls the unit of work back: nothing of the file is kept
            raise Forbidden(f"{outside} incident(s) of the file lie outside your area; "
                            "nothing was imported")
    return report.as_dict()
