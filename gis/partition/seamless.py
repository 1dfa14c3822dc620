"""无缝覆盖: grids written as a valid polygonal coverage, in any CRS.

A set of grids is seamless when ``shapely.coverage_is_valid`` holds: no overlaps, and
every shared edge has the same vertices on both sides. Grids built by overlays (cells
clipped by the parent, blocks split between buildings, a redrawn group beside untouched
grids) can end an edge on a point in the middle of a neighbour's edge (a T-junction) or
be a few nanometres off it. Invisible in one CRS, such a seam turns into an overlap or a
gap once the vertices are reprojected, and GEOS then fails on the union ("side location
conflict"). So the grids are cleaned with GEOS' coverage cleaner, snapping vertices and
edges within a millimetre (which also nodes the T-junctions on both sides), and checked
again in every CRS they are written in. Vertices are reprojected one by one, so a shared
vertex stays shared; full precision is kept (no rounding) when writing.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from gis.errors import InputError
from gis.partition.cells import polygonal

SNAP_M = 0.001  # metres: vertices and edges closer than this are one
METRES_PER_DEGREE = 111_320.0


def snap_distance(crs) -> float:
    """``SNAP_M`` in the units of ``crs`` (degrees, metres or US feet)."""
    crs = CRS(crs) if crs is not None else None
    if crs is None or crs.is_geographic:
        return SNAP_M / METRES_PER_DEGREE
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return SNAP_M / (factor or 1.0)


def is_seamless(geoms, gap: float = 0.0) -> bool:
    """Whether ``geoms`` (Multi)Polygons form a valid polygonal coverage (and leave no
    gap narrower than ``gap`` between them: a seam a hair apart, which another CRS can
    turn into an overlap)."""
    geoms = np.asarray(geoms, dtype=object)
    if not len(geoms):
        return True
    if not shapely.is_valid(geoms).all():
        return False
    try:
        return bool(shapely.coverage_is_valid(geoms, gap_width=gap))
    except shapely.errors.GEOSException:
        return False


def clean(geoms, crs, *, only=None) -> np.ndarray:
    """``geoms`` as a valid coverage (snapped within a millimetre, T-junctions noded on
    both sides, overlaps given to the neighbour sharing the longest border).

    ``only``: a boolean mask of the grids that may have moved (a redrawn group): only
    they and the grids they touch are cleaned, every other grid keeps its exact vertices.
    A grid the cleaner would empty keeps its geometry (its neighbours take the overlap).
    """
    geoms = polygonal(np.asarray(geoms, dtype=object))
    if is_seamless(geoms, snap_distance(crs)):
        return geoms
    pick = np.arange(len(geoms))
    if only is not None:
        only = np.asarray(only, dtype=bool)
        _i, near = shapely.STRtree(geoms).query(geoms[only], predicate="intersects")
        pick = np.union1d(np.flatnonzero(only), near)
    out = geoms.copy()
    done = shapely.coverage_clean(geoms[pick], snapping_distance=snap_distance(crs))
    empty = shapely.is_empty(done)
    done[empty] = geoms[pick][empty]
    out[pick] = done
    return out


def join(kept, fresh, crs) -> tuple[np.ndarray, np.ndarray]:
    """Redrawn grids ``fresh`` fitted to the untouched grids ``kept`` around them: their
    vertices within a millimetre of an untouched grid's vertex take its exact vertex,
    and an untouched grid gains a vertex only where a new seam meets the middle of its
    edge (its outline does not move). Falls back to :func:`clean` of all the grids when
    that does not give a valid coverage."""
    kept = np.asarray(kept, dtype=object)
    fresh = polygonal(np.asarray(fresh, dtype=object))
    if not len(fresh) or not len(kept):
        return kept, fresh
    tol = snap_distance(crs)
    _i, near = shapely.STRtree(kept).query(fresh, predicate="dwithin", distance=tol)
    near = np.unique(near)
    fitted = polygonal(shapely.snap(fresh, shapely.GeometryCollection(list(kept[near])), tol))
    out = kept.copy()
    if len(near):
        out[near] = polygonal(shapely.snap(kept[near], shapely.GeometryCollection(list(fitted)),
                                           tol))
    both = np.concatenate([out, fitted])
    if not is_seamless(both, tol):  # the cleaner then nodes every seam
        both = clean(np.concatenate([kept, fresh]), crs)
    return both[:len(kept)], both[len(kept):]


def in_crs(gdf: gpd.GeoDataFrame, crs, *, only=None) -> gpd.GeoDataFrame:
    """``gdf`` (a valid coverage) reprojected to ``crs`` and still a valid coverage
    there: cleaned again in ``crs`` when the reprojection broke a seam. An error when
    even that fails (nothing is written then)."""
    crs = CRS(crs)
    out = gdf if gdf.crs is not None and CRS(gdf.crs).equals(crs) else gdf.to_crs(crs)
    geoms = np.asarray(out.geometry.values, dtype=object)
    if not is_seamless(geoms):
        geoms = clean(geoms, crs, only=only)
        out = out.set_geometry(gpd.GeoSeries(list(geoms), index=out.index, crs=crs))
    if not is_seamless(geoms):
        bad = shapely.coverage_invalid_edges(geoms)
        k = int(np.flatnonzero(~shapely.is_empty(bad))[0]) if len(bad) else 0
        code = out["code"].iat[k] if "code" in out else k
        raise InputError(f"the grids are not a seamless coverage in {crs.to_string()}: "
                         f"grid {code} does not match its neighbours", field="geometry")
    return out
