"""Patrol (半日一巡): compliance per grid and window, rates, missed grids, track lines,
street coverage, household visits, and the phone upload of GPS fixes. The analyses are
:mod:`gis.patrol`; the loading SQL :mod:`gis.store.patrol`."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from sqlalchemy import Engine

from gis.patrol import DAILY_VISIT_NORM
from gis.services.idempotency import Once, write_once
from gis.services.uow import unit_of_work
from gis.store import patrol as repo
from gis.store import write_scope
from gis.store.incidents import to_wgs84
from gis.store.patrol import DEFAULT_MIN_MINUTES, MAX_UPLOAD, Fix, Period, Result, rates_by
from gis.store.users import Principal

__all__ = ["DAILY_VISIT_NORM", "DEFAULT_MIN_MINUTES", "MAX_UPLOAD", "Fix", "Period", "Result",
           "compliance", "missed", "rates_by", "streets", "tracks", "upload", "visits"]


def compliance(engine: Engine, principal: Principal, period: Period) -> Result:
    """Half-day compliance of every current grid of the area in the period."""
    with unit_of_work(engine, read_only=True) as session:
        return repo.compliance(session, principal, period)


def missed(engine: Engine, principal: Principal, period: Period, last: int) -> pd.DataFrame:
    """Grids not patrolled in the last ``last`` complete windows."""
    with unit_of_work(engine, read_only=True) as session:
        return repo.missed(session, principal, period, last)


def tracks(engine: Engine, principal: Principal, period: Period, *,
           worker: str | None = None) -> gpd.GeoDataFrame:
    """Track lines by worker and local day in the caller's scope."""
    with unit_of_work(engine, read_only=True) as session:
        return repo.tracks(session, principal, period, worker=worker)


def streets(engine: Engine, principal: Principal, period: Period, *,
            distance: float = 20.0) -> pd.DataFrame:
    """Share of each grid's street length passed within ``distance`` metres."""
    with unit_of_work(engine, read_only=True) as session:
        return repo.streets(session, principal, period, distance=distance)


def visits(engine: Engine, principal: Principal, period: Period, *, radius: float = 30.0,
           min_minutes: float = 3.0) -> pd.DataFrame:
    """Household visits (stops near buildings) per worker and day against the norm."""
    with unit_of_work(engine, read_only=True) as session:
        return repo.visits(session, principal, period, radius=radius, min_minutes=min_minutes)


def upload(engine: Engine, principal: Principal, fixes: list[Fix], *, crs: str = "wgs84",
           worker: str | None = None, once: Once | None = None) -> dict:
    """Store a phone's GPS fixes and redraw the touched track lines. A grid worker uploads
    their own fixes only; a dispatcher may name the worker. A batch resent with the same
    Idempotency-Key is answered from the store and adds nothing."""
    who = worker or principal.username

    def work(session) -> dict:
        # writes stay in the caller's area: their own workers, fixes inside their area
        write_scope.check_worker(session, principal, who)
        write_scope.check_points_inside(session, principal, [
            to_wgs84(f.lon, f.lat, crs) for f in fixes], "fix(es)")
        return {"worker": who, "added": repo.add_points(session, who, fixes, crs)}

    return write_once(engine, once, principal, work)
