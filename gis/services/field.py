"""The grid worker's app (/m): my grids and whether each is patrolled in this half day, the
incidents dispatched to me and the two steps I take on them (handle, feedback), the nearest
buildings, likely duplicates near a place, and household visits with today's count against
the five-a-day norm. Queries: :mod:`gis.store.field`."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from gis.errors import Forbidden, InputError
from gis.patrol import DAILY_VISIT_NORM
from gis.services.idempotency import Once, write_once
from gis.services.uow import unit_of_work
from gis.store import assessment as visits_repo
from gis.store import field as repo
from gis.store import incidents as incidents_repo
from gis.store import patrol as patrol_repo
from gis.store.incidents import feature
from gis.store.users import Principal

__all__ = ["DAILY_VISIT_NORM", "act", "grids", "nearby_incidents", "nearest_buildings",
           "my_buildings", "record_visit", "today", "work"]


def half_day(now: datetime, tz: str) -> tuple[datetime, datetime]:
    """The half-day window (00:00-12:00 or 12:00-24:00 local time) holding ``now``."""
    local = now.astimezone(ZoneInfo(tz))
    start = local.replace(hour=0 if local.hour < 12 else 12, minute=0, second=0, microsecond=0)
    return start, start + timedelta(hours=12)


def _day(now: datetime, tz: str) -> tuple[datetime, datetime]:
    local = now.astimezone(ZoneInfo(tz))
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def grids(engine: Engine, principal: Principal, *, tz: str,
          now: datetime | None = None) -> dict:
    """My grids, each with the minutes patrolled and whether it counts as patrolled in the
    current half day (the same rule as /patrol/compliance)."""
    now = now or datetime.now(timezone.utc)
    start, end = half_day(now, tz)
    with unit_of_work(engine, read_only=True) as session:
        mine = repo.my_grids(session, principal)
        res = patrol_repo.compliance(session, principal,
                                     patrol_repo.Period(start=start, end=end, tz=tz), now=now)
    table = res.table.set_index("grid") if len(res.table) else None
    for g in mine:
        row = table.loc[g["code"]] if table is not None and g["code"] in table.index else None
        g["patrolled"] = bool(row["patrolled"]) if row is not None else False
        g["minutes"] = round(float(row["minutes"]), 1) if row is not None else 0.0
    return {"window_start": start.isoformat(), "window_end": end.isoformat(), "grids": mine}


def work(engine: Engine, principal: Principal) -> list[dict]:
    """Incidents dispatched to my grids or being handled there, overdue first."""
    with unit_of_work(engine, read_only=True) as session:
        return [feature(r) for r in repo.work(session, principal)]


def act(engine: Engine, principal: Principal, incident_id: int, action: str, *,
        version: int, note: str | None = None, once: Once | None = None) -> dict:
    """A grid worker's step on an incident of their grids: handle (处置) or feedback (反馈);
    a stale ``version`` is a Conflict (the incident moved on). A step resent with the same
    Idempotency-Key gets the first answer and changes nothing."""
    if action not in repo.WORKER_ACTIONS:
        raise Forbidden(f"from the field app an incident can only be "
                        f"{' or '.join(repo.WORKER_ACTIONS)}d, not {action!r}")

    def work(session):
        if principal.role == "grid_worker":
            repo.check_my_incident(session, principal, incident_id)
        return feature(incidents_repo.transition(session, incident_id, action, version=version,
                                                 principal=principal, note=note))

    return write_once(engine, once, principal, work)


def nearest_buildings(engine: Engine, principal: Principal, lon: float, lat: float, *,
                      limit: int = 5) -> list[dict]:
    with unit_of_work(engine, read_only=True) as session:
        return repo.nearest_buildings(session, principal, lon, lat, limit=limit)


def my_buildings(engine: Engine, principal: Principal) -> list[dict]:
    """The buildings of my grids, for choosing one offline."""
    with unit_of_work(engine, read_only=True) as session:
        return repo.my_buildings(session, principal)


def nearby_incidents(engine: Engine, principal: Principal, lon: float, lat: float, *,
                     category: str | None = None) -> list[dict]:
    """Open incidents reported nearby lately: likely duplicates of a new report."""
    with unit_of_work(engine, read_only=True) as session:
        return repo.nearby_incidents(session, principal, lon, lat, category=category)


def record_visit(engine: Engine, principal: Principal, row: dict, *, tz: str,
                 now: datetime | None = None, once: Once | None = None) -> dict:
    """Record a visit (入户走访) by the caller at a building (by id, or the nearest within
    30 m of lon/lat). ``key_household``: the visit is to the building's key household
    (the register's reference is kept, nothing personal). Returns the visit and today's
    count against the norm; resent with the same Idempotency-Key, the first answer."""
    now = now or datetime.now(timezone.utc)
    when = row.get("time") or now
    if when > now + timedelta(minutes=5):
        raise InputError("the visit's time is in the future", field="time")
    return write_once(engine, once, principal,
                      lambda session: _visit(session, principal, row, when, tz))


def _visit(session, principal: Principal, row: dict, when: datetime, tz: str) -> dict:
    building = repo.visit_building(session, principal, row)
    ref = None
    if row.get("key_household"):
        ref = repo.key_household_of(session, building["id"])
        if ref is None:
            raise InputError(f"building {building['id']} has no registered key household",
                             field="key_household")
    visit_id = visits_repo.add_visit(session, principal, {
        "worker": principal.username, "time": when, "household_ref": ref,
        "building_id": building["id"], "community_code": building["community_code"],
        "note": row.get("note"), "lon": row.get("lon"), "lat": row.get("lat")})
    start, end = _day(when, tz)
    count = repo.visits_between(session, principal.username, start, end)
    return {"id": visit_id, "building_id": building["id"], "key_household": ref is not None,
            "time": when.isoformat(), "today": count, "norm": DAILY_VISIT_NORM}


def today(engine: Engine, principal: Principal, *, tz: str,
          now: datetime | None = None) -> dict:
    """My visits today (local day) against the five-a-day norm."""
    start, end = _day(now or datetime.now(timezone.utc), tz)
    with unit_of_work(engine, read_only=True) as session:
        count = repo.visits_between(session, principal.username, start, end)
    return {"day": start.date().isoformat(), "visits": count, "norm": DAILY_VISIT_NORM}
