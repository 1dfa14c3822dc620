"""Camera coverage in the store: load an area's layers from PostGIS, run
:func:`gis.coverage.coverage`, and replace the stored results of those grids in the
caller's transaction.

Incremental recomputation: triggers (migration 0003) mark in ``coverage_stale`` the grids
within reach of every changed camera, building or road. ``only_stale=True`` recomputes
just those grids (and the grids never computed); every other grid keeps its rows and
their ``computed_at``. A grid's result depends only on cameras and buildings within the
largest camera reach of it, so loading that neighbourhood gives the same answer as a
full run. Runs are serialised by an advisory lock; a mark made while a run computes
survives it (marks are cleared by sequence number, not by grid).

Not tracked: new incidents (blind-spot incident counts refresh on the next run) and the
choice of mode or period (a run applies its own to the grids it computes).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import and_, delete, exists, func, not_, or_, select, text
from sqlalchemy.orm import Session

from gis.coverage import coverage
from gis.coverage.visibility import polygonal
from gis.crs import metric_crs
from gis.errors import InputError, NotFound
from gis.store.models import (AdminUnit, BlindSpot, Building, Camera, CoverageArea,
                              CoverageStale, Grid, Incident, KeyPlace, KeyPlaceCoverage, Road)
from gis.store.users import Principal, scope_prefix

SQL_DIR = Path(__file__).with_name("sql")
RUN_LOCK = 7_101_955_001  # pg_advisory_xact_lock key: one coverage run at a time
M_PER_DEG = 110_000.0     # conservative (short) degree, so expanded boxes are never short


@dataclass
class RunOptions:
    """How to compute: target ``mode``, smallest listed blind spot ``min_area`` (m²),
    whether offline cameras count, the incident ``period`` (start, end) and whether to
    recompute only the stale grids."""

    mode: str = "public"
    min_area: float = 25.0
    include_offline: bool = False
    period: tuple | None = None
    only_stale: bool = False


# -- which grids ---------------------------------------------------------------------------
def area_prefix(session: Session, area_code: str | None, principal: Principal | None) -> str:
    """The grid-code prefix of an admin unit or grid inside the caller's scope.

    ``None`` means the caller's whole scope. An area outside the scope is NotFound."""
    scope = principal.scope_prefix if principal else ""
    if not area_code:
        return scope
    known = session.scalar(select(AdminUnit.code).where(AdminUnit.code == area_code)) or \
        session.scalar(select(Grid.code).where(Grid.code == area_code, Grid.valid_to.is_(None)))
    prefix = scope_prefix(area_code) if len(area_code) == 12 else area_code
    if known is None or not prefix.startswith(scope):
        raise NotFound(f"no area {area_code}")
    return prefix


def _current(prefix: str):
    return and_(Grid.valid_to.is_(None), Grid.code.startswith(prefix, autoescape=True))


def grids_to_run(session: Session, prefix: str, only_stale: bool) -> list[str]:
    """Current grid codes to compute: all of the area, or the stale and never computed."""
    stmt = select(Grid.code).where(_current(prefix))
    if only_stale:
        marked = exists().where(CoverageStale.grid_code == Grid.code)
        done = exists().where(CoverageArea.grid_code == Grid.code)
        stmt = stmt.where(or_(marked, not_(done)))
    return list(session.scalars(stmt.order_by(Grid.code)))


# -- loading --------------------------------------------------------------------------------
def frame(session: Session, stmt, crs="EPSG:4326") -> gpd.GeoDataFrame:
    """Rows with a ``wkb`` column -> GeoDataFrame (the other columns as they come)."""
    rows = session.execute(stmt).mappings().all()
    cols = [c for c in stmt.selected_columns.keys() if c != "wkb"]
    data = {c: [r[c] for r in rows] for c in cols}
    geoms = shapely.from_wkb([bytes(r["wkb"]) for r in rows]) if rows else []
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, crs=crs))


def wkb_column(column):
    """``column`` as WKB, labelled for :func:`frame`."""
    return func.ST_AsBinary(column).label("wkb")


def near_boxes(geoms: np.ndarray, metres: float):
    """Union of the lon/lat boxes reaching ``metres`` beyond each geometry."""
    b = shapely.bounds(geoms)
    lat = np.minimum(np.maximum(np.abs(b[:, 1]), np.abs(b[:, 3])), 89.0)
    dx = metres / (M_PER_DEG * np.cos(np.radians(lat)))
    dy = metres / M_PER_DEG
    boxes = shapely.box(b[:, 0] - dx, b[:, 1] - dy, b[:, 2] + dx, b[:, 3] + dy)
    return func.ST_GeomFromWKB(shapely.to_wkb(shapely.union_all(boxes)), 4326)


@dataclass
class Inputs:
    grids: gpd.GeoDataFrame
    cameras: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    incidents: gpd.GeoDataFrame
    key_places: gpd.GeoDataFrame
    reach_m: float


def load_inputs(session: Session, codes: list[str], period: tuple | None = None) -> Inputs:
    """The layers that decide the coverage of ``codes``: the grids, the key places touching
    them, and the cameras, buildings and roads within the largest camera reach."""
    grids = frame(session, select(Grid.code, wkb_column(Grid.geom))
                   .where(Grid.valid_to.is_(None), Grid.code.in_(codes)).order_by(Grid.code))
    run_grids = exists().where(Grid.valid_to.is_(None), Grid.code.in_(codes))
    places = frame(session, select(KeyPlace.id, KeyPlace.name, KeyPlace.kind,
                                   wkb_column(KeyPlace.geom))
                   .where(run_grids.where(func.ST_Intersects(Grid.geom, KeyPlace.geom)))
                   .order_by(KeyPlace.id))
    reach = float(session.scalar(select(func.gridgis_max_camera_reach())) or 0.0)
    near = near_boxes(np.concatenate([grids.geometry.values._data,
                                     places.geometry.values._data]), max(reach, 60.0))
    cams = frame(session, select(
        Camera.id, func.coalesce(Camera.code, func.cast(Camera.id, Camera.code.type))
        .label("camera_id"), Camera.type, Camera.status, Camera.azimuth, Camera.fov,
        Camera.range_m.label("range"), Camera.height_m.label("height"), wkb_column(Camera.geom))
        .where(func.ST_Intersects(Camera.geom, near)).order_by(Camera.id))
    buildings = frame(session, select(Building.id, wkb_column(Building.geom))
                       .where(func.ST_Intersects(Building.geom, near)))
    roads = frame(session, select(Road.road_class.label("class"), wkb_column(Road.geom))
                   .where(func.ST_Intersects(Road.geom, near)))
    inc = select(Incident.id, Incident.reported_at, wkb_column(Incident.geom)).where(
        run_grids.where(func.ST_Intersects(Grid.geom, Incident.geom)))
    if period is not None:
        start, end = period
        inc = inc.where(*([Incident.reported_at >= start] if start else []),
                        *([Incident.reported_at < end] if end else []))
    return Inputs(grids, cams, buildings, roads, frame(session, inc), places, reach)


def _metric_crs(session: Session, prefix: str):
    """One metric CRS per county (first 6 digits), so a grid recomputed alone is measured
    exactly as in a full run of any area around it."""
    ext = session.execute(select(func.ST_XMin(func.ST_Extent(Grid.geom)),
                                 func.ST_YMin(func.ST_Extent(Grid.geom)),
                                 func.ST_XMax(func.ST_Extent(Grid.geom)),
                                 func.ST_YMax(func.ST_Extent(Grid.geom)))
                          .where(_current(prefix[:6]))).one()
    return metric_crs(ext)


# -- run --------------------------------------------------------------------------------------
def run_coverage(session: Session, area_code: str | None, options: RunOptions | None = None,
                 *, principal: Principal | None = None,
                 on_step: Callable[[str], None] | None = None) -> dict:
    """Compute and store coverage for an area (all grids, or only the stale ones).

    Parameters
    ----------
    session : the transaction to write in (flushed, not committed).
    area_code : admin unit or grid code (``None``: the caller's scope).
    options : :class:`RunOptions`.
    principal : the caller; an area outside their scope is NotFound.
    on_step : called with ``"load"``, ``"analyse"``, ``"store"`` and ``"done"``.

    Returns
    -------
    dict: the analysis summary plus ``area``, ``grids`` computed, ``grid_codes`` (up to
    100), ``stale_cleared`` and ``seconds``.
    """
    t0 = time.perf_counter()
    opts = options or RunOptions()
    step = on_step or (lambda _s: None)
    prefix = area_prefix(session, area_code, principal)
    session.execute(select(func.pg_advisory_xact_lock(RUN_LOCK)))
    codes = grids_to_run(session, prefix, opts.only_stale)
    seen = dict(session.execute(select(CoverageStale.grid_code, CoverageStale.seq)
                                .where(CoverageStale.grid_code.in_(codes))).all())
    step("load")
    summary = {"cameras_used": 0, "target_m2": 0.0, "covered_m2": 0.0, "coverage_ratio": None,
               "blind_spots": 0}
    if codes:
        data = load_inputs(session, codes, opts.period)
        step("analyse")
        res = _analyse(data, opts, _metric_crs(session, prefix))
        step("store")
        _delete_rows(session, codes, prefix)
        _store(session, codes, res, opts)
        summary = res.summary
    else:
        _delete_rows(session, codes, prefix)
    _clear_marks(session, seen)
    step("done")
    return {**summary, "area": area_code, "prefix": prefix, "only_stale": opts.only_stale,
            "grids": len(codes), "grid_codes": codes[:100], "stale_cleared": len(seen),
            "seconds": round(time.perf_counter() - t0, 3)}


def _analyse(data: Inputs, opts: RunOptions, crs):
    if opts.mode not in ("public", "grid", "streets"):
        raise InputError(f"unknown mode {opts.mode!r} (one of public, grid, streets)",
                         field="mode")
    if opts.mode == "streets" and not len(data.roads):
        raise InputError("mode 'streets' needs roads near the grids, and there are none",
                         field="mode")
    return coverage(data.cameras, data.buildings, data.grids.to_crs(crs), grid_key="code",
                    roads=data.roads if len(data.roads) else None,
                    incidents=data.incidents if len(data.incidents) else None,
                    key_places=data.key_places if len(data.key_places) else None,
                    min_area=opts.min_area, mode=opts.mode,
                    include_offline=opts.include_offline)


# -- storing -----------------------------------------------------------------------------------
def _multi_wkb(geoms: gpd.GeoSeries) -> list[bytes | None]:
    """Valid MultiPolygons in EPSG:4326 as WKB (None when nothing polygonal is left)."""
    arr = polygonal(geoms.to_crs(4326).values._data)
    parts, idx = shapely.get_parts(arr, return_index=True)
    keep = (shapely.get_type_id(parts) == 3) & (shapely.area(parts) > 0)
    out: list[bytes | None] = [None] * len(arr)
    for i in np.unique(idx[keep]):
        out[i] = shapely.to_wkb(shapely.multipolygons(parts[keep & (idx == i)]))
    return out


def _delete_rows(session: Session, codes: list[str], prefix: str) -> None:
    """Remove the rows of ``codes`` and of the area's retired grids."""
    retired = and_(CoverageArea.grid_code.startswith(prefix, autoescape=True),
                   ~exists().where(Grid.valid_to.is_(None), Grid.code == CoverageArea.grid_code))
    old = select(CoverageArea.grid_code).where(retired).scalar_subquery()
    session.execute(delete(BlindSpot).where(or_(BlindSpot.grid_code.in_(codes),
                                                BlindSpot.grid_code.in_(old))))
    session.execute(delete(CoverageArea).where(or_(CoverageArea.grid_code.in_(codes), retired)))


def _store(session: Session, codes: list[str], res, opts: RunOptions) -> None:
    """Store ``res`` for ``codes`` (their old rows already deleted)."""
    _insert_coverage(session, res.grid_coverage, _multi_wkb(res.coverage.geometry), opts.mode)
    _insert_blind_spots(session, res.blind_spots)
    session.execute(text((SQL_DIR / "coverage_nearest_camera.sql").read_text()),
                    {"codes": codes, "include_offline": opts.include_offline})
    _store_key_places(session, res.key_places)


def _insert_coverage(session: Session, table, covered, mode: str) -> None:
    rows = [{"grid_code": str(r.grid), "target_m2": float(r.target_m2),
             "covered_m2": float(r.covered_m2), "blind_m2": float(r.blind_m2),
             "blind_spots": int(r.blind_spots), "blind_spot_m2": float(r.blind_spot_m2),
             "blind_incidents": int(r.blind_incidents), "mode": mode, "wkb": wkb}
            for r, wkb in zip(table.itertuples(index=False), covered)]
    if rows:
        session.execute(text(
            "INSERT INTO coverage (grid_code, target_m2, covered_m2, blind_m2, blind_spots, "
            "blind_spot_m2, blind_incidents, mode, geom) VALUES (:grid_code, :target_m2, "
            ":covered_m2, :blind_m2, :blind_spots, :blind_spot_m2, :blind_incidents, :mode, "
            "ST_Multi(ST_GeomFromWKB(:wkb, 4326)))"), rows)


def _insert_blind_spots(session: Session, spots: gpd.GeoDataFrame) -> None:
    wkbs = _multi_wkb(spots.geometry)
    rows = [{"grid_code": str(g), "area_m2": float(a), "incidents": int(n), "wkb": w}
            for g, a, n, w in zip(spots["grid"], spots["area_m2"], spots["incidents"], wkbs)
            if w is not None]
    if rows:
        session.execute(text(
            "INSERT INTO blind_spots (grid_code, area_m2, incidents, geom) VALUES "
            "(:grid_code, :area_m2, :incidents, ST_Multi(ST_GeomFromWKB(:wkb, 4326)))"), rows)


def _store_key_places(session: Session, places: gpd.GeoDataFrame | None) -> None:
    if places is None or not len(places):
        return
    ids = [int(i) for i in places["id"]]
    session.execute(delete(KeyPlaceCoverage).where(KeyPlaceCoverage.key_place_id.in_(ids)))
    session.execute(text(
        "INSERT INTO key_place_coverage (key_place_id, grid_code, target_m2, covered_m2) "
        "SELECT k.id, (SELECT g.code FROM grids g WHERE g.valid_to IS NULL "
        "              AND ST_Intersects(g.geom, ST_PointOnSurface(k.geom)) "
        "              ORDER BY g.code LIMIT 1), :target_m2, :covered_m2 "
        "FROM key_places k WHERE k.id = :id"),
        [{"id": i, "target_m2": float(t), "covered_m2": float(c)}
         for i, t, c in zip(ids, places["target_m2"], places["covered_m2"])])


def _clear_marks(session: Session, seen: dict[str, int]) -> None:
    """Remove the stale marks this run has seen; a newer mark (higher seq) stays."""
    for code, seq in seen.items():
        session.execute(delete(CoverageStale).where(CoverageStale.grid_code == code,
                                                    CoverageStale.seq <= seq))
