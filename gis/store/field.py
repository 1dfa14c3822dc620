"""What the grid worker's app (/m) reads and writes: the worker's grids (grid_staff rows with
``worker_id`` = the account name, the link patrol tracks use), the incidents dispatched to
them, the nearest buildings for a visit, open incidents near a place (likely duplicates),
and today's visits. Repositories: they flush, the service commits."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import Float, and_, func, select
from sqlalchemy.orm import Session

from gis.errors import InputError, NotFound
from gis.store.incidents import _columns, in_scope, overdue_expr
from gis.store.models import Building, Grid, GridStaff, Incident, KeyHousehold, Visit
from gis.store.scope import code_in_scope
from gis.store.users import Principal

# Work a grid worker acts on: dispatched to the grid (handle) or being handled (feedback).
WORK_STATUSES = ("dispatched", "handling")
WORKER_ACTIONS = ("handle", "feedback")
VISIT_RADIUS_M = 30.0     # a visit's position names the nearest building within this
NEARBY_M = 150.0          # likely duplicates: open incidents this close ...
NEARBY_DAYS = 7           # ... reported this recently


def _point(lon: float, lat: float):
    return func.ST_SetSRID(func.ST_MakePoint(float(lon), float(lat)), 4326)


def _metres(geom, point):
    return func.ST_Distance(func.geography(geom), func.geography(point), type_=Float)


def my_grid_codes(session: Session, principal: Principal) -> list[str]:
    """Current grids where the caller is staff (grid_staff.worker_id = their account)."""
    rows = session.scalars(
        select(GridStaff.grid_code).distinct()
        .join(Grid, and_(Grid.code == GridStaff.grid_code, Grid.valid_to.is_(None)))
        .where(GridStaff.worker_id == principal.username,
               code_in_scope(Grid.code, principal)).order_by(GridStaff.grid_code))
    return list(rows)


def my_grids(session: Session, principal: Principal) -> list[dict]:
    """The caller's grids with their outline (GeoJSON) and households."""
    codes = my_grid_codes(session, principal)
    rows = session.execute(
        select(Grid.code, Grid.name, Grid.households, func.ST_AsGeoJSON(Grid.geom, 6))
        .where(Grid.code.in_(codes), Grid.valid_to.is_(None)).order_by(Grid.code)).all()
    return [{"code": c, "name": n, "households": h, "geometry": json.loads(g)}
            for c, n, h, g in rows]


def work(session: Session, principal: Principal, now: datetime | None = None) -> list[dict]:
    """Incidents dispatched to the caller's grids or being handled there: overdue first,
    then the earliest due."""
    now = now or datetime.now(timezone.utc)
    codes = my_grid_codes(session, principal)
    reason = overdue_expr(now)
    rows = session.execute(
        select(*_columns(now)).where(Incident.grid_code.in_(codes),
                                     Incident.status.in_(WORK_STATUSES), in_scope(principal))
        .order_by(reason.is_(None), Incident.due_at.asc().nulls_last(), Incident.id)
    ).mappings().all()
    return [dict(r) for r in rows]


def check_my_incident(session: Session, principal: Principal, incident_id: int) -> None:
    """A grid worker acts only on incidents in their own grids (else: NotFound)."""
    grid = session.scalar(select(Incident.grid_code).where(Incident.id == incident_id,
                                                           in_scope(principal)))
    if grid is None or grid not in my_grid_codes(session, principal):
        raise NotFound(f"no incident {incident_id} in your grids")


def nearest_buildings(session: Session, principal: Principal, lon: float, lat: float, *,
                      limit: int = 5, within_m: float = 300.0) -> list[dict]:
    """The buildings of the caller's area nearest a place, with their key households."""
    here = _point(lon, lat)
    keys = (select(func.count()).select_from(KeyHousehold)
            .where(KeyHousehold.building_id == Building.id).scalar_subquery())
    dist = _metres(Building.geom, here)
    rows = session.execute(
        select(Building.id, Building.households, Building.kind, Building.floors,
               Building.community_code, dist.label("metres"), keys.label("key_households"),
               func.ST_X(func.ST_PointOnSurface(Building.geom)).label("lon"),
               func.ST_Y(func.ST_PointOnSurface(Building.geom)).label("lat"))
        .where(code_in_scope(Building.community_code, principal),
               func.ST_DWithin(func.geography(Building.geom), func.geography(here), within_m))
        .order_by(Building.geom.op("<->")(here)).limit(limit)).mappings().all()
    return sorted(({**r, "metres": round(float(r["metres"]), 1)} for r in rows),
                  key=lambda r: r["metres"])


def my_buildings(session: Session, principal: Principal) -> list[dict]:
    """Every building of my grids (a point on each, households, key households): the app
    keeps them to offer the nearest ones for a visit with no signal."""
    codes = my_grid_codes(session, principal)
    keys = (select(func.count()).select_from(KeyHousehold)
            .where(KeyHousehold.building_id == Building.id).scalar_subquery())
    spot = func.ST_PointOnSurface(Building.geom)
    rows = session.execute(
        select(Building.id, Building.households, Building.kind, Building.floors,
               keys.label("key_households"), func.ST_X(spot).label("lon"),
               func.ST_Y(spot).label("lat")).distinct()
        .join(Grid, func.ST_Intersects(Grid.geom, spot))
        .where(Grid.code.in_(codes), Grid.valid_to.is_(None),
               code_in_scope(Building.community_code, principal))
        .order_by(Building.id)).mappings().all()
    return [dict(r) for r in rows]


def visit_building(session: Session, principal: Principal, row: dict) -> dict:
    """The building a visit names: by id (in the caller's area), or the nearest one within
    :data:`VISIT_RADIUS_M` of its position. InputError when there is none."""
    if row.get("building_id") is not None:
        found = session.execute(
            select(Building.id, Building.community_code)
            .where(Building.id == row["building_id"],
                   code_in_scope(Building.community_code, principal))).first()
        if found is None:
            raise NotFound(f"no building {row['building_id']}")
        return {"id": found[0], "community_code": found[1]}
    if row.get("lon") is None or row.get("lat") is None:
        raise InputError("a visit needs building_id or lon and lat", field="building_id")
    near = nearest_buildings(session, principal, row["lon"], row["lat"], limit=1,
                             within_m=VISIT_RADIUS_M)
    if not near:
        raise InputError(f"no building of your area within {VISIT_RADIUS_M:g} m of "
                         f"({row['lon']}, {row['lat']})", field="lon")
    return {"id": near[0]["id"], "community_code": near[0]["community_code"]}


def key_household_of(session: Session, building_id: int) -> str | None:
    """The register's reference of a key household in the building (the first by id)."""
    return session.scalar(select(KeyHousehold.household_ref)
                          .where(KeyHousehold.building_id == building_id)
                          .order_by(KeyHousehold.id).limit(1))


def visits_between(session: Session, worker: str, start: datetime, end: datetime) -> int:
    return int(session.scalar(select(func.count()).select_from(Visit).where(
        Visit.worker == worker, Visit.time >= start, Visit.time < end)) or 0)


def nearby_incidents(session: Session, principal: Principal, lon: float, lat: float, *,
                     category: str | None = None, within_m: float = NEARBY_M,
                     now: datetime | None = None) -> list[dict]:
    """Open incidents within ``within_m`` reported in the last :data:`NEARBY_DAYS` days
    (same category when given), nearest first: what a reporter should see before sending."""
    now = now or datetime.now(timezone.utc)
    here = _point(lon, lat)
    where = [in_scope(principal), Incident.status != "closed",
             Incident.reported_at >= now - timedelta(days=NEARBY_DAYS),
             func.ST_DWithin(func.geography(Incident.geom), func.geography(here), within_m)]
    if category:
        where.append(Incident.category == category)
    dist = _metres(Incident.geom, here)
    rows = session.execute(
        select(Incident.id, Incident.category, Incident.subcategory, Incident.description,
               Incident.status, Incident.reported_at, dist.label("metres"))
        .where(*where).order_by(dist).limit(10)).mappings().all()
    return [{**r, "metres": round(float(r["metres"]), 1)} for r in rows]
