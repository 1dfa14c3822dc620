"""Patrol tracks in the store: load an area's patrol points and current grids from
PostGIS, run the patrol analyses of :mod:`gis.patrol` on them, and add points uploaded
by phones.

Which fixes count for an area: the points inside the bounding box of the area's current
grids, widened by :data:`MARGIN_DEG` (so a walk that leaves and re-enters a grid keeps
its outside part), in the period. Grids are the current ones (``valid_to IS NULL``)
whose code starts with the area's prefix, so a caller sees only grids in scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from gis.errors import InputError, NotFound
from gis.patrol import (DAILY_VISIT_NORM, GridIndex, PatrolParams, compliance_table,
                        detect_stops, household_visits, missed_grids, patrol_presence, rates,
                        street_coverage, track_lines, window_starts, worker_rates)
from gis.patrol.cleaning import clean_fixes
from gis.patrol.compliance import DEFAULT_MIN_MINUTES
from gis.patrol.tracks import fixes_from_frame
from gis.patrol.windows import Windows
from gis.store.coverage import area_prefix
from gis.store.incidents import to_wgs84
from gis.store.models import Building, Grid, PatrolPoint, Road
from gis.store.scope import geom_in_scope
from gis.store.users import Principal

MARGIN_DEG = 0.005        # ~500 m around the area's grids
MAX_SPAN_DAYS = 93        # one request analyses at most a quarter
MAX_UPLOAD = 10_000       # fixes per upload


@dataclass
class Period:
    """What to analyse: area (admin or grid code; None = the caller's scope), the period
    [start, end) and the window length; thresholds for a patrol."""

    area: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    window: str = "12h"
    tz: str = "Asia/Shanghai"
    min_minutes: float | None = DEFAULT_MIN_MINUTES
    min_metres: float | None = None

    def bounds(self, now: datetime | None = None) -> tuple[datetime, datetime]:
        """[start, end): defaults are the last 7 days up to now."""
        end = self.end or now or datetime.now(timezone.utc)
        start = self.start or end - timedelta(days=7)
        if end <= start:
            raise InputError("'to' must be after 'from'", field="to")
        if end - start > timedelta(days=MAX_SPAN_DAYS):
            raise InputError(f"a period of at most {MAX_SPAN_DAYS} days", field="from")
        return start, end


@dataclass
class Result:
    """Compliance of an area: the table (one row per grid per window), the grids
    (code, community, township, geometry) and the presence behind it."""

    table: pd.DataFrame
    grids: gpd.GeoDataFrame
    presence: pd.DataFrame
    starts: np.ndarray
    dropped: dict
    fixes: int


# -- loading ---------------------------------------------------------------------------------
def load_grids(session: Session, prefix: str) -> gpd.GeoDataFrame:
    """Current grids whose code starts with ``prefix``, with community and township."""
    stmt = (select(Grid.code, Grid.community_code, func.ST_AsBinary(Grid.geom).label("wkb"))
            .where(Grid.valid_to.is_(None), Grid.code.startswith(prefix, autoescape=True))
            .order_by(Grid.code))
    rows = session.execute(stmt).all()
    if not rows:
        raise NotFound(f"no current grids in area {prefix or '(all)'}")
    grids = gpd.GeoDataFrame({"code": [r.code for r in rows],
                              "community": [r.community_code for r in rows]},
                             geometry=shapely.from_wkb([bytes(r.wkb) for r in rows]), crs=4326)
    grids["township"] = grids["community"].str.slice(0, 9) + "000"
    return grids


def _box(grids: gpd.GeoDataFrame):
    x0, y0, x1, y1 = grids.total_bounds
    return func.ST_MakeEnvelope(x0 - MARGIN_DEG, y0 - MARGIN_DEG, x1 + MARGIN_DEG,
                                y1 + MARGIN_DEG, 4326)


def load_fixes(session: Session, where, tz: str) -> pd.DataFrame:
    """Patrol points matching ``where`` as a fixes table (file order = id order)."""
    stmt = (select(PatrolPoint.id, PatrolPoint.worker, PatrolPoint.time, PatrolPoint.accuracy,
                   func.ST_X(PatrolPoint.geom).label("lon"), func.ST_Y(PatrolPoint.geom).label("lat"))
            .where(*where).order_by(PatrolPoint.id))
    rows = session.execute(stmt).all()
    df = pd.DataFrame(rows, columns=["id", "worker", "time", "accuracy", "lon", "lat"])
    df["time"] = pd.to_datetime(df["time"], utc=True)
    out = fixes_from_frame(df, tz=tz)
    out["accuracy"] = pd.to_numeric(df["accuracy"]).to_numpy(float)
    return out


def _fixes_near(session: Session, grids: gpd.GeoDataFrame, start: datetime, end: datetime,
                tz: str) -> pd.DataFrame:
    return load_fixes(session, [PatrolPoint.geom.intersects(_box(grids)),
                                PatrolPoint.time >= start, PatrolPoint.time < end], tz)


# -- analyses ---------------------------------------------------------------------------------
def compliance(session: Session, principal: Principal | None, period: Period, *,
               now: datetime | None = None) -> Result:
    """Half-day compliance of every current grid of the area in the period.

    Examples
    --------
    >>> res = compliance(session, principal, Period(area="430102001001"))  # doctest: +SKIP
    >>> res.table[["grid", "window_start", "patrolled"]]                   # doctest: +SKIP
    """
    start, end = period.bounds(now)
    grids = load_grids(session, area_prefix(session, period.area, principal))
    fixes = _fixes_near(session, grids, start, end, period.tz)
    params = PatrolParams(window=period.window, tz=period.tz)
    windows = params.windows
    index = GridIndex(grids, "code")
    res = patrol_presence(fixes, index, params)
    starts = window_starts(windows, None, None, _ns(start), _ns(end))
    table = compliance_table(res.presence, index.keys, windows, starts,
                             min_minutes=period.min_minutes, min_metres=period.min_metres)
    return Result(table, grids, res.presence, starts, res.dropped, res.fixes_read)


def _ns(value: datetime) -> int:
    return int(pd.Timestamp(value).tz_convert("UTC").value) if pd.Timestamp(value).tzinfo \
        else int(pd.Timestamp(value).value)


def rates_by(result: Result, by: str, period: Period) -> pd.DataFrame:
    """Share of windows patrolled per grid, community, township or worker."""
    if by == "worker":
        return worker_rates(result.presence, result.starts, min_minutes=period.min_minutes,
                            min_metres=period.min_metres)
    if by == "grid":
        return rates(result.table)
    if by in ("community", "township"):
        return rates(result.table, result.grids, by=by, key="code")
    raise InputError("by must be grid, community, township or worker", field="by")


def missed(session: Session, principal: Principal | None, period: Period, last: int, *,
           now: datetime | None = None) -> pd.DataFrame:
    """Grids not patrolled in the last ``last`` complete windows before ``period.end``
    (default now): ``grid``, ``missed``, ``missed_all``, ``last_patrolled``."""
    if not 1 <= last <= 60:
        raise InputError("last must be between 1 and 60 windows", field="last")
    end = period.end or now or datetime.now(timezone.utc)
    windows = Windows.of(period.window, period.tz)
    current = int(windows.start_of(np.array([_ns(end)]))[0])
    first = int(windows.span(current - last * windows.length_ns, current)[0])
    since = pd.Timestamp(first, tz="UTC").to_pydatetime()
    done = Period(period.area, since, pd.Timestamp(current, tz="UTC").to_pydatetime(),
                  period.window, period.tz, period.min_minutes, period.min_metres)
    res = compliance(session, principal, done, now=now)
    return missed_grids(res.table, last)


def tracks(session: Session, principal: Principal | None, period: Period, *,
           worker: str | None = None, now: datetime | None = None) -> gpd.GeoDataFrame:
    """Track lines (one per worker per local day) of the points in the caller's scope."""
    start, end = period.bounds(now)
    grids = load_grids(session, area_prefix(session, period.area, principal))
    where = [PatrolPoint.geom.intersects(_box(grids)), geom_in_scope(PatrolPoint.geom, principal),
             PatrolPoint.time >= start, PatrolPoint.time < end]
    if worker:
        where.append(PatrolPoint.worker == worker)
    if principal is not None and principal.role == "grid_worker":  # their own walks only
        where.append(PatrolPoint.worker == principal.username)
    fixes = load_fixes(session, where, period.tz)
    return track_lines(fixes, tz=period.tz)


def streets(session: Session, principal: Principal | None, period: Period, *,
            distance: float = 20.0) -> pd.DataFrame:
    """Share of each grid's street length passed within ``distance`` metres."""
    start, end = period.bounds()
    grids = load_grids(session, area_prefix(session, period.area, principal))
    fixes = _fixes_near(session, grids, start, end, period.tz)
    roads = _layer(session, Road, grids)
    return street_coverage(fixes, roads, grids, key="code", distance=distance)


def visits(session: Session, principal: Principal | None, period: Period, *,
           radius: float = 30.0, min_minutes: float = 3.0,
           norm: int = DAILY_VISIT_NORM) -> pd.DataFrame:
    """Household visits (stops near buildings) per worker per local day vs the norm."""
    start, end = period.bounds()
    grids = load_grids(session, area_prefix(session, period.area, principal))
    index = GridIndex(grids, "code")
    fixes = _fixes_near(session, grids, start, end, period.tz)
    clean, _ = clean_fixes(fixes, index.crs)
    stops = detect_stops(clean, index.crs, radius=radius, min_minutes=min_minutes)
    return household_visits(stops, _layer(session, Building, grids), index.crs,
                            distance=radius, tz=period.tz, key="id", norm=norm)


def _layer(session: Session, model, grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    stmt = select(model.id, func.ST_AsBinary(model.geom).label("wkb")).where(
        model.geom.intersects(_box(grids)))
    rows = session.execute(stmt).all()
    return gpd.GeoDataFrame({"id": [r.id for r in rows]},
                            geometry=shapely.from_wkb([bytes(r.wkb) for r in rows]), crs=4326)


# -- upload ------------------------------------------------------------------------------------
@dataclass
class Fix:
    time: datetime
    lon: float
    lat: float
    accuracy: float | None = None


def add_points(session: Session, worker: str, fixes: list[Fix], crs: str = "wgs84") -> int:
    """Store a phone's fixes (web offsets removed); returns how many were added."""
    if not fixes:
        raise InputError("no fixes sent", field="points")
    if len(fixes) > MAX_UPLOAD:
        raise InputError(f"at most {MAX_UPLOAD} fixes per upload", field="points")
    since = last_point_id(session)
    rows = []
    for i, f in enumerate(fixes):
        if f.time.tzinfo is None:
            raise InputError(f"fix {i}: time needs an offset (e.g. +08:00)", field="time")
        lon, lat = to_wgs84(f.lon, f.lat, crs)
        rows.append({"worker": worker, "time": f.time, "accuracy": f.accuracy,
                     "geom": f"SRID=4326;POINT({lon!r} {lat!r})"})
    session.execute(insert(PatrolPoint), rows)
    session.flush()
    rebuild_tracks(session, since)
    return len(rows)


_REBUILD_TRACKS = """
WITH touched AS (
    SELECT DISTINCT worker, (time AT TIME ZONE :tz)::date AS day
      FROM patrol_points WHERE id > :since),
gone AS (
    DELETE FROM patrol_tracks t USING touched
     WHERE t.worker = touched.worker AND t.day = touched.day)
INSERT INTO patrol_tracks (worker, day, started_at, ended_at, geom)
SELECT p.worker, touched.day, min(p.time), max(p.time), ST_MakeLine(p.geom ORDER BY p.time)
  FROM patrol_points p
  JOIN touched ON p.worker = touched.worker
              AND (p.time AT TIME ZONE :tz)::date = touched.day
 GROUP BY p.worker, touched.day
HAVING count(*) >= 2
"""


def last_point_id(session: Session) -> int:
    return int(session.scalar(select(func.coalesce(func.max(PatrolPoint.id), 0))))


def rebuild_tracks(session: Session, since_id: int, tz: str = "Asia/Shanghai") -> int:
    """Redraw the daily track line of every (worker, local day) that got fixes with ids
    above ``since_id``, so the tracks layer always matches the points. Returns the
    number of track lines written."""
    from sqlalchemy import text

    return session.execute(text(_REBUILD_TRACKS), {"since": since_id, "tz": tz}).rowcount or 0
