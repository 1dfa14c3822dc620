"""Edits a planner makes to a draft grid set: merge two grids, split one by a drawn line,
redraw one polygon, move a block or building to a neighbouring grid. Each edit returns a
new GeoDataFrame (EPSG:4326); households are recounted from the units afterwards and the
plan is validated separately, so an edit may leave violations for the planner to see."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.ops import split as split_geom

from gis.crs import metric_crs_for
from gis.errors import InputError

# Grids touching along less than this are not neighbours (a shared corner is not enough).
MIN_SHARED_M = 5.0


def _row(grids: gpd.GeoDataFrame, code: str) -> int:
    hits = np.flatnonzero(grids["code"].astype(str).to_numpy() == str(code))
    if len(hits) == 0:
        raise InputError(f"no grid with code {code} in this plan", field="code")
    return int(hits[0])


def shared_length(a, b, crs) -> float:
    """Length in metres of the boundary two polygons share (within 0.5 m: reprojection
    bends straight edges, so exactly shared edges stop being exactly collinear)."""
    s = gpd.GeoSeries([a, b], crs=crs)
    m = s.to_crs(metric_crs_for(s))
    return float(shapely.length(shapely.intersection(m.iloc[0].boundary, m.iloc[1].buffer(0.5))))


def merge(grids: gpd.GeoDataFrame, code_a: str, code_b: str) -> gpd.GeoDataFrame:
    """Merge grid ``code_b`` into ``code_a`` (which keeps its code)."""
    ia, ib = _row(grids, code_a), _row(grids, code_b)
    if ia == ib:
        raise InputError("cannot merge a grid with itself", field="codes")
    ga, gb = grids.geometry.iloc[ia], grids.geometry.iloc[ib]
    if shared_length(ga, gb, grids.crs) < MIN_SHARED_M:
        raise InputError(f"grids {code_a} and {code_b} are not neighbours", field="codes")
    out = grids.copy()
    out.loc[out.index[ia], out.geometry.name] = shapely.union(ga, gb)
    return out.drop(index=out.index[ib]).reset_index(drop=True)


def split(grids: gpd.GeoDataFrame, code: str, line) -> gpd.GeoDataFrame:
    """Split a grid in two along a drawn line that crosses it from edge to edge; the
    western/northern part keeps the code, the other gets an empty code (assigned on
    validation/publish)."""
    i = _row(grids, code)
    poly = grids.geometry.iloc[i]
    if line is None or line.geom_type not in ("LineString", "MultiLineString"):
        raise InputError("the split line must be a LineString", field="line")
    parts = [p for p in split_geom(poly, line).geoms if p.area > 0]
    if len(parts) != 2:
        raise InputError(f"the line must cut the grid into exactly two parts (got {len(parts)})",
                         field="line")
    parts.sort(key=lambda p: (p.centroid.x, -p.centroid.y))
    out = grids.copy()
    out.loc[out.index[i], out.geometry.name] = parts[0]
    extra = out.iloc[[i]].copy()
    extra["code"] = None
    extra = extra.set_geometry([parts[1]], crs=grids.crs)
    return gpd.GeoDataFrame(pd.concat([out, extra], ignore_index=True), crs=grids.crs)


def redraw(grids: gpd.GeoDataFrame, code: str, geometry) -> gpd.GeoDataFrame:
    """Give a grid a new polygon; neighbours lose what it now covers. Area it gave up
    becomes a gap that validation reports."""
    i = _row(grids, code)
    if geometry is None or geometry.geom_type not in ("Polygon", "MultiPolygon"):
        raise InputError("the new geometry must be a Polygon", field="geometry")
    geometry = shapely.make_valid(geometry)
    geoms = grids.geometry.to_numpy().copy()
    others = np.arange(len(geoms)) != i
    geoms[others] = shapely.difference(geoms[others], geometry)
    geoms[i] = geometry
    out = grids.copy()
    out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=grids.crs))
    return out[~out.geometry.is_empty].reset_index(drop=True)


def move_area(grids: gpd.GeoDataFrame, piece, to_code: str) -> gpd.GeoDataFrame:
    """Move a block or building (``piece``, a polygon) to the neighbouring grid ``to_code``."""
    j = _row(grids, to_code)
    geoms = grids.geometry.to_numpy().copy()
    holder = np.flatnonzero(shapely.contains(geoms, shapely.point_on_surface(piece)))
    if len(holder) == 0:
        raise InputError("the piece is in no grid of this plan", field="geometry")
    i = int(holder[0])
    if i == j:
        return grids
    moved = shapely.intersection(piece, geoms[i])
    if shared_length(moved, geoms[j], grids.crs) < MIN_SHARED_M:
        raise InputError(f"the piece does not border grid {to_code}", field="to_code")
    geoms[i] = shapely.difference(geoms[i], piece)
    geoms[j] = shapely.union(geoms[j], moved)
    out = grids.copy()
    out = out.set_geometry(gpd.GeoSeries(geoms, index=out.index, crs=grids.crs))
    return out[~out.geometry.is_empty].reset_index(drop=True)


def recount(grids: gpd.GeoDataFrame, units: gpd.GeoDataFrame,
            households: str = "households") -> gpd.GeoDataFrame:
    """Households per grid: each unit counts in the grid holding its representative point."""
    out = grids.copy()
    if units.empty:
        out["households"] = 0
        return out
    pts = shapely.point_on_surface(units.geometry.to_crs(grids.crs).to_numpy())
    tree = shapely.STRtree(grids.geometry.to_numpy())
    ui, gi = tree.query(pts, predicate="within")
    first = pd.Series(gi, index=ui).groupby(level=0).min()
    hh = pd.to_numeric(units[households], errors="coerce").fillna(0).to_numpy()
    sums = np.bincount(first.to_numpy(), weights=hh[first.index.to_numpy()],
                       minlength=len(grids))
    out["households"] = sums.round().astype(int)
    return out
