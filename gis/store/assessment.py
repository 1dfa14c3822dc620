"""The evidence of a month's 123456 assessment, read from PostGIS for an area inside the
caller's scope (the rules are :mod:`gis.assessment`; this module only loads), and the
writes of key households and visits.

What is loaded for an area: its current grids; the staff of those grids (``grid_staff``
rows with a ``worker_id``, the id their phones upload fixes under); those workers' own
fixes of the month (plus a day after it: a case reported late on the last evening may be
attended after midnight); the month's incidents inside the area's grids or reported by
those workers; their visits of the month; the key households of the area's communities;
the buildings around the grids (to match visits given by position). Every read of key
households is written to the audit log in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import Session

from gis.assessment.month import Month
from gis.errors import Forbidden, InputError, NotFound
from gis.store import audit
from gis.store.coverage import area_prefix
from gis.store.models import Building, GridStaff, Incident, KeyHousehold, PatrolPoint, Visit
from gis.store.patrol import _box, load_fixes, load_grids
from gis.store.users import Principal


@dataclass
class Evidence:
    """Everything :func:`gis.assessment.assess` needs, as tables."""

    prefix: str
    grids: gpd.GeoDataFrame
    staff: pd.DataFrame
    fixes: pd.DataFrame
    incidents: pd.DataFrame
    visits: pd.DataFrame
    key_households: pd.DataFrame
    buildings: gpd.GeoDataFrame


def _utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc)


def load_month(session: Session, principal: Principal, area: str | None, month: Month) -> Evidence:
    prefix = area_prefix(session, area, principal)  # outside the scope: NotFound (404)
    grids = load_grids(session, prefix)
    staff = pd.DataFrame(session.execute(
        select(GridStaff.worker_id.label("worker"), GridStaff.grid_code.label("grid"))
        .where(GridStaff.worker_id.is_not(None),
               GridStaff.grid_code.startswith(prefix, autoescape=True))).all(),
        columns=["worker", "grid"])
    if principal.role == "grid_worker":  # a worker sees their own month only
        staff = staff[staff["worker"] == principal.username]
    workers = sorted(set(staff["worker"]))
    start, end = _utc(month.start_ns), _utc(month.end_ns)
    fixes = load_fixes(session, [PatrolPoint.worker.in_(workers), PatrolPoint.time >= start,
                                 PatrolPoint.time < end + timedelta(days=1)], month.tz)
    kh = _key_households(session, prefix)
    audit.record(session, principal.username, "read", "key_households", prefix,
                 after={"month": month.label, "households": len(kh), "purpose": "assessment"})
    return Evidence(prefix, grids, staff, fixes, _incidents(session, prefix, workers, start, end),
                    _visits(session, workers, start, end), kh, _buildings(session, grids))


def _points(rows, columns) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns)


def _incidents(session: Session, prefix: str, workers: list[str], start, end) -> pd.DataFrame:
    rows = session.execute(
        select(func.coalesce(Incident.external_id, cast(Incident.id, Text)),
               Incident.category, Incident.subcategory, Incident.reported_at, Incident.reporter,
               Incident.status, func.ST_X(Incident.geom), func.ST_Y(Incident.geom))
        .where(Incident.reported_at >= start, Incident.reported_at < end,
               or_(Incident.grid_code.startswith(prefix, autoescape=True),
                   Incident.reporter.in_(workers)))).all()
    df = _points(rows, ["id", "category", "subcategory", "reported_at", "reporter", "status",
                        "lon", "lat"])
    df["reported_at"] = pd.to_datetime(df["reported_at"], utc=True)
    return df


def _visits(session: Session, workers: list[str], start, end) -> pd.DataFrame:
    rows = session.execute(
        select(Visit.worker, Visit.time, Visit.household_ref, Visit.building_id,
               func.ST_X(Visit.geom), func.ST_Y(Visit.geom))
        .where(Visit.worker.in_(workers), Visit.time >= start, Visit.time < end)).all()
    df = _points(rows, ["worker", "time", "household", "building", "lon", "lat"])
    df["time"] = pd.to_datetime(df["time"], utc=True)
    df["building"] = df["building"].astype("Int64").astype("string")
    return df


def _key_households(session: Session, prefix: str) -> pd.DataFrame:
    rows = session.execute(
        select(KeyHousehold.household_ref, KeyHousehold.kind, KeyHousehold.building_id,
               func.ST_X(KeyHousehold.geom), func.ST_Y(KeyHousehold.geom))
        .where(KeyHousehold.community_code.startswith(prefix[:12], autoescape=True))).all()
    df = _points(rows, ["household", "kind", "building", "lon", "lat"])
    df["building"] = df["building"].astype("Int64").astype("string")
    return df


def _buildings(session: Session, grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    rows = session.execute(select(Building.id, func.ST_AsBinary(Building.geom))
                           .where(Building.geom.intersects(_box(grids)))).all()
    return gpd.GeoDataFrame({"id": [str(r[0]) for r in rows]},
                            geometry=shapely.from_wkb([bytes(r[1]) for r in rows]), crs=4326)


# -- writes -----------------------------------------------------------------------------------
def _point(lon, lat):
    if lon is None or lat is None:
        return None
    return func.ST_SetSRID(func.ST_MakePoint(float(lon), float(lat)), 4326)


def _community(session: Session, principal: Principal, code: str) -> str:
    """A community inside the caller's scope (another community's: NotFound, as reads)."""
    if not code or not code.startswith(principal.scope_prefix):
        raise NotFound(f"no community {code}")
    return code


def add_key_household(session: Session, principal: Principal, row: dict) -> int:
    community = _community(session, principal, row.get("community_code"))
    if row.get("building_id") is None and (row.get("lon") is None or row.get("lat") is None):
        raise InputError("a key household needs a building or a position", field="building_id")
    kh = KeyHousehold(household_ref=row["household_ref"], kind=row["kind"],
                      building_id=row.get("building_id"), community_code=community,
                      responsible_worker=row.get("responsible_worker"),
                      geom=_point(row.get("lon"), row.get("lat")))
    session.add(kh)
    session.flush()
    audit.record(session, principal.username, "create", "key_households", kh.id,
                 after={"kind": kh.kind, "community_code": community})
    return kh.id


def add_visit(session: Session, principal: Principal, row: dict) -> int:
    worker = row.get("worker") or principal.username
    if principal.role == "grid_worker" and worker != principal.username:
        raise Forbidden("a grid worker records their own visits only")
    community = _community(session, principal, row["community_code"]) \
        if row.get("community_code") else None
    visit = Visit(worker=worker, time=row["time"], household_ref=row.get("household_ref"),
                  building_id=row.get("building_id"), community_code=community,
                  note=row.get("note"), geom=_point(row.get("lon"), row.get("lat")))
    session.add(visit)
    session.flush()
    return visit.id
