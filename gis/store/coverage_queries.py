"""Reading stored coverage within the caller's scope: per-grid figures, blind spots ranked
by incidents, key places, and new camera sites chosen among the stored blind spots.

Rows are scoped by grid code (grid codes extend admin codes); key places by location.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from gis.coverage import suggest_sites
from gis.errors import InputError, NotFound
from gis.store.coverage import area_prefix, frame, near_boxes, wkb_column
from gis.store.models import (BlindSpot, Building, CoverageArea, CoverageStale, Grid, KeyPlace,
                              KeyPlaceCoverage, Road)
from gis.store.scope import code_in_scope, geom_in_scope
from gis.store.users import Principal, scope_prefix

MAX_PAGE = 5000


def _area(column, area: str | None):
    if not area:
        return True
    prefix = scope_prefix(area) if len(area) == 12 else area
    return column.startswith(prefix, autoescape=True)


def _num(v, digits: int = 2):
    return None if v is None else round(float(v), digits)


def grid_stats(session: Session, principal: Principal | None, *, area: str | None = None,
               limit: int = 1000, offset: int = 0) -> dict:
    """Per grid, worst covered first: ``target_m2``, ``covered_m2``, ``blind_m2``, ``ratio``,
    ``blind_spots`` (listed spots), ``blind_spot_m2``, ``blind_incidents``, ``stale``,
    ``computed_at``; with totals over every matching grid."""
    where = [code_in_scope(CoverageArea.grid_code, principal), _area(CoverageArea.grid_code, area)]
    stale = select(CoverageStale.grid_code).where(
        CoverageStale.grid_code == CoverageArea.grid_code).exists()
    rows = session.execute(
        select(CoverageArea.grid_code, CoverageArea.target_m2, CoverageArea.covered_m2,
               CoverageArea.blind_m2, CoverageArea.coverage_ratio, CoverageArea.blind_spots,
               CoverageArea.blind_spot_m2, CoverageArea.blind_incidents, CoverageArea.mode,
               CoverageArea.computed_at, stale.label("stale"))
        .where(*where).order_by(CoverageArea.coverage_ratio.asc().nulls_last(),
                                CoverageArea.grid_code)
        .limit(min(limit, MAX_PAGE)).offset(offset)).mappings().all()
    tot = session.execute(select(func.count(), func.sum(CoverageArea.target_m2),
                                 func.sum(CoverageArea.covered_m2),
                                 func.sum(CoverageArea.blind_incidents)).where(*where)).one()
    target, covered = float(tot[1] or 0), float(tot[2] or 0)
    return {
        "grids": [{"grid_code": r["grid_code"], "target_m2": _num(r["target_m2"]),
                   "covered_m2": _num(r["covered_m2"]), "blind_m2": _num(r["blind_m2"]),
                   "ratio": _num(r["coverage_ratio"], 4), "blind_spots": r["blind_spots"],
                   "blind_spot_m2": _num(r["blind_spot_m2"]),
                   "blind_incidents": r["blind_incidents"], "mode": r["mode"],
                   "stale": bool(r["stale"]), "computed_at": r["computed_at"]} for r in rows],
        "total": int(tot[0]), "limit": limit, "offset": offset,
        "summary": {"target_m2": round(target, 1), "covered_m2": round(covered, 1),
                    "ratio": round(covered / target, 4) if target > 0 else None,
                    "blind_incidents": int(tot[3] or 0)},
    }


def _collection(rows, id_key: str, total: int) -> dict:
    feats = [{"type": "Feature", "id": r[id_key],
              "properties": {k: v for k, v in r.items() if k != "geometry"},
              "geometry": json.loads(r["geometry"]) if r["geometry"] else None} for r in rows]
    return {"type": "FeatureCollection", "features": feats, "numberMatched": total,
            "numberReturned": len(feats)}


def blind_spots(session: Session, principal: Principal | None, *, area: str | None = None,
                min_area: float = 0.0, min_incidents: int = 0, limit: int = 500,
                offset: int = 0) -> dict:
    """Blind spots as GeoJSON, most incidents first (then largest)."""
    where = [code_in_scope(BlindSpot.grid_code, principal), _area(BlindSpot.grid_code, area),
             BlindSpot.area_m2 >= min_area, BlindSpot.incidents >= min_incidents]
    total = session.scalar(select(func.count()).select_from(BlindSpot).where(*where))
    rows = session.execute(
        select(BlindSpot.id, BlindSpot.grid_code, BlindSpot.area_m2, BlindSpot.incidents,
               BlindSpot.nearest_camera, BlindSpot.camera_m, BlindSpot.computed_at,
               func.ST_AsGeoJSON(BlindSpot.geom, 7).label("geometry"))
        .where(*where).order_by(BlindSpot.incidents.desc(), BlindSpot.area_m2.desc(),
                                BlindSpot.id)
        .limit(min(limit, MAX_PAGE)).offset(offset)).mappings().all()
    out = [dict(r) for r in rows]
    for i, r in enumerate(out, start=offset + 1):
        r.update(rank=i, area_m2=_num(r["area_m2"]), camera_m=_num(r["camera_m"], 1))
    return _collection(out, "id", int(total))


def key_places(session: Session, principal: Principal | None, *, area: str | None = None,
               max_ratio: float | None = None, limit: int = 1000, offset: int = 0) -> dict:
    """Key places with their stored coverage (``ratio`` None when never computed),
    least covered first."""
    where = [geom_in_scope(KeyPlace.geom, principal)]
    if area:
        where.append(_area(KeyPlaceCoverage.grid_code, area))
    if max_ratio is not None:
        where.append(KeyPlaceCoverage.coverage_ratio <= max_ratio)
    join = and_(KeyPlaceCoverage.key_place_id == KeyPlace.id)
    base = select(KeyPlace.id).outerjoin(KeyPlaceCoverage, join).where(*where)
    total = session.scalar(select(func.count()).select_from(base.subquery()))
    rows = session.execute(
        select(KeyPlace.id, KeyPlace.name, KeyPlace.kind, KeyPlaceCoverage.grid_code,
               KeyPlaceCoverage.target_m2, KeyPlaceCoverage.covered_m2,
               KeyPlaceCoverage.coverage_ratio.label("ratio"), KeyPlaceCoverage.computed_at,
               func.ST_AsGeoJSON(KeyPlace.geom, 7).label("geometry"))
        .outerjoin(KeyPlaceCoverage, join).where(*where)
        .order_by(KeyPlaceCoverage.coverage_ratio.asc().nulls_last(), KeyPlace.id)
        .limit(min(limit, MAX_PAGE)).offset(offset)).mappings().all()
    out = [dict(r) for r in rows]
    for r in out:
        r.update(target_m2=_num(r["target_m2"]), covered_m2=_num(r["covered_m2"]),
                 ratio=_num(r["ratio"], 4))
    return _collection(out, "id", int(total))


def suggest(session: Session, principal: Principal | None, area_code: str | None, k: int, *,
            weight: str = "incidents", camera_type: str = "dome",
            spacing: float = 25.0) -> dict:
    """``k`` new camera sites covering the most of the area's stored blind spots
    (:func:`gis.coverage.suggest_sites`), as GeoJSON with marginal gains and the bound."""
    prefix = area_prefix(session, area_code, principal)
    spots = frame(session, select(BlindSpot.id, BlindSpot.grid_code, BlindSpot.area_m2,
                                   BlindSpot.incidents, wkb_column(BlindSpot.geom))
                   .where(BlindSpot.grid_code.startswith(prefix, autoescape=True)))
    if not len(spots):
        raise NotFound(f"no stored blind spots in {area_code or 'your area'}: run coverage first")
    from gis.vocabulary import CAMERA_DEFAULTS

    if camera_type not in CAMERA_DEFAULTS:
        raise InputError(f"unknown camera type {camera_type!r}", field="camera_type")
    near = near_boxes(spots.geometry.values._data, CAMERA_DEFAULTS[camera_type][1] + 10.0)
    roads = frame(session, select(Road.road_class.label("class"), wkb_column(Road.geom))
                   .where(func.ST_Intersects(Road.geom, near)))
    if not len(roads):
        raise InputError("no streets near the blind spots: sites are chosen along streets",
                         field="area_code")
    buildings = frame(session, select(Building.id, wkb_column(Building.geom))
                       .where(func.ST_Intersects(Building.geom, near)))
    sites = suggest_sites(spots, roads, k, buildings=buildings, weight=weight,
                          camera_type=camera_type, spacing=spacing)
    return _sites_geojson(session, sites.to_crs(4326))


def _sites_geojson(session: Session, sites: gpd.GeoDataFrame) -> dict:
    xs, ys = sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy()
    feats = []
    for i, row in enumerate(sites.drop(columns="geometry").to_dict("records")):
        props = {k: (None if isinstance(v, float) and not np.isfinite(v) else
                     (v.item() if hasattr(v, "item") else v)) for k, v in row.items()}
        props["grid_code"] = session.scalar(select(Grid.code).where(
            Grid.valid_to.is_(None), func.ST_Intersects(
                Grid.geom, func.ST_SetSRID(func.ST_MakePoint(xs[i], ys[i]), 4326))).limit(1))
        feats.append({"type": "Feature", "properties": props, "geometry": {
            "type": "Point", "coordinates": [float(xs[i]), float(ys[i])]}})
    bound = {k: (v.item() if hasattr(v, "item") else v) for k, v in sites.attrs["bound"].items()}
    return {"type": "FeatureCollection", "features": feats, "bound": bound}
