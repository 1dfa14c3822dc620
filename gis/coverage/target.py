"""The target area: what the cameras of each grid must see (全覆盖、无死角).

Modes:

* ``"public"`` (default): public space, i.e. streets buffered by their class width
  (:data:`gis.vocabulary.ROAD_CLASSES`) plus open ground, minus building footprints. Open
  ground is land at least ``open_setback`` metres from every footprint and within
  ``OPEN_REACH_M`` of a street (squares, forecourts, roadside plazas): the narrow gaps
  between buildings inside compounds, and fields far from any road, are not public
  space. With no street data, public space falls back to the
  whole grid minus footprints.
* ``"grid"``: each grid minus building footprints.
* ``"streets"``: street buffers only (minus footprints).

Targets are cut by grid, so every square metre belongs to exactly one grid.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.coverage.visibility import footprint_parts, polygonal, working_crs
from gis.errors import InputError
from gis.vocabulary import ROAD_CLASSES

MODES = ("public", "grid", "streets")
OPEN_SETBACK_M = 5.0
OPEN_REACH_M = 30.0  # open ground farther than this from any street is not public space
DEFAULT_ROAD_WIDTH = ROAD_CLASSES["residential"]  # for roads with no or unknown class


def grid_keys(grids: gpd.GeoDataFrame, grid_key: str | None) -> pd.Series:
    """The value naming each grid: ``grid_key`` column, else ``code``, else the row index."""
    if grid_key is not None:
        if grid_key not in grids.columns:
            raise InputError(f"no grid key column {grid_key!r} (columns: "
                             f"{', '.join(map(str, grids.columns))})", field=grid_key)
        return grids[grid_key]
    if "code" in grids.columns:
        return grids["code"]
    return pd.Series(grids.index, index=grids.index)


def grouped_union(geoms: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
    """Union of ``geoms`` per group id in ``0..n-1`` (empty polygon for empty groups).

    One GEOS union per group (groups are grids: hundreds, not millions).
    """
    out = np.full(n, shapely.Polygon(), dtype=object)
    if not len(geoms):
        return out
    order = np.argsort(group, kind="stable")
    group, geoms = group[order], geoms[order]
    cuts = np.flatnonzero(np.diff(group)) + 1
    for g, chunk in zip(group[np.r_[0, cuts]], np.split(geoms, cuts)):
        out[g] = shapely.union_all(chunk)
    return out


def road_widths(roads: gpd.GeoDataFrame) -> tuple[np.ndarray, int]:
    """Width in metres per road: a numeric ``width`` column, else by ``class``.

    Returns the widths and how many roads got the default width.
    """
    width = np.full(len(roads), np.nan)
    if "width" in roads.columns:
        width = pd.to_numeric(roads["width"], errors="coerce").to_numpy(dtype=float)
    if "class" in roads.columns:
        by_class = roads["class"].astype(object).map(
            lambda c: ROAD_CLASSES.get(str(c).strip().lower(), np.nan) if c is not None
            and c == c else np.nan).to_numpy(dtype=float)
        width = np.where(np.isfinite(width) & (width > 0), width, by_class)
    defaulted = ~(np.isfinite(width) & (width > 0))
    return np.where(defaulted, DEFAULT_ROAD_WIDTH, width), int(defaulted.sum())


def _clip_to_grids(geoms, grid_geoms, tree_of_geoms) -> np.ndarray:
    """Per grid: the union of ``geoms`` intersecting it, cut by the grid."""
    g, i = tree_of_geoms.query(grid_geoms, predicate="intersects")
    merged = grouped_union(geoms[i], g, len(grid_geoms))
    return shapely.intersection(grid_geoms, merged)


class Targets:
    """What the targets of grids are cut from, indexed once: footprints and street
    carriageways, each with its STRtree, so that the grids can be done in chunks
    (:meth:`of`) with the same answer as all at once."""

    def __init__(self, parts: np.ndarray, street_geoms=None, mode: str = "public",
                 open_setback: float = OPEN_SETBACK_M, open_reach: float = OPEN_REACH_M):
        if mode not in MODES:
            raise InputError(f"unknown target mode {mode!r} (one of {', '.join(MODES)})",
                             field="mode")
        if mode == "streets" and street_geoms is None:
            raise InputError("target mode 'streets' needs a roads layer", field="roads")
        self.mode, self.open_setback, self.open_reach = mode, open_setback, open_reach
        self.parts, self.tree = parts, shapely.STRtree(parts)
        self.streets = None if mode == "grid" else street_geoms
        if self.streets is not None:
            self.street_tree = shapely.STRtree(self.streets)

    def of(self, grid_geoms: np.ndarray) -> np.ndarray:
        """Target polygons of ``grid_geoms`` (metric, in the parts' CRS)."""
        public = self.streets is not None and self.mode == "public"
        # one union per grid of the footprints over it (and, for open ground, within the
        # setback of it): the area cut is inside the grid, so footprints beyond it cut
        # nothing, and the union widened by the setback is the crowded land (a buffer of
        # the union is the union of the buffers: the old way, 2x the time, same within 1e-8 m²)
        g, i = self.tree.query(grid_geoms, predicate="dwithin",
                               distance=self.open_setback if public else 0.0)
        built = grouped_union(self.parts[i], g, len(grid_geoms))
        if self.streets is None:
            return shapely.difference(grid_geoms, built)
        streets = _clip_to_grids(self.streets, grid_geoms, self.street_tree)
        area = streets
        if public:
            crowded = shapely.buffer(built, self.open_setback, quad_segs=2)
            # open ground counts only near a street: plazas and forecourts, not farmland
            reach = shapely.intersection(shapely.buffer(streets, self.open_reach), grid_geoms)
            open_ground = shapely.difference(reach, crowded)
            area = shapely.union(streets, open_ground)
        return shapely.difference(area, built)


def target_metric(grid_geoms: np.ndarray, parts: np.ndarray, street_geoms=None,
                  mode: str = "public", open_setback: float = OPEN_SETBACK_M,
                  open_reach: float = OPEN_REACH_M) -> np.ndarray:
    """Target polygons per grid, all inputs already in one metric CRS."""
    return Targets(parts, street_geoms, mode, open_setback, open_reach).of(grid_geoms)


def street_polygons(roads: gpd.GeoDataFrame, crs) -> np.ndarray:
    """Roads buffered to their carriageway (half the class width each side), metric."""
    lines = roads.geometry.to_crs(crs).values
    widths, _ = road_widths(roads)
    ok = ~(shapely.is_missing(lines._data) | shapely.is_empty(lines._data))
    return shapely.buffer(lines._data[ok], widths[ok] / 2.0, cap_style="flat")


def target_area(grids: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame,
                roads: gpd.GeoDataFrame | None = None, mode: str = "public", *,
                grid_key: str | None = None, open_setback: float = OPEN_SETBACK_M
                ) -> gpd.GeoDataFrame:
    """The area each grid's cameras must see.

    Parameters
    ----------
    grids : grid polygons (any CRS).
    buildings : footprints; they are never target (cameras do not see indoors).
    roads : street lines with ``class`` (see :data:`gis.vocabulary.ROAD_CLASSES`) or a
        numeric ``width``; roads with neither get the residential width.
    mode : ``"public"``, ``"grid"`` or ``"streets"`` (see the module docstring).
    grid_key : column naming grids (default ``code``, else the index).
    open_setback : metres from footprints beyond which open ground is public space.

    Returns
    -------
    GeoDataFrame in the grids' CRS: ``grid``, ``target_m2`` and the target geometry.

    Examples
    --------
    Grids, buildings and roads (the names are one community of ``generate_district(2000, seed=1)``: see tests/test_doctests.py):

    >>> target = target_area(grids, buildings, roads)
    >>> len(target) == len(grids), bool((target.target_m2 > 0).all())
    (True, True)
    """
    crs = working_crs(grids)
    grid_geoms = polygonal(grids.geometry.to_crs(crs).values._data)
    parts = footprint_parts(buildings, crs)
    streets = street_polygons(roads, crs) if roads is not None and len(roads) else None
    target = target_metric(grid_geoms, parts, streets, mode, open_setback)
    out = gpd.GeoDataFrame({"grid": grid_keys(grids, grid_key).to_numpy(),
                            "target_m2": shapely.area(target)},
                           geometry=gpd.GeoSeries(target, crs=crs), index=grids.index)
    return out.to_crs(grids.crs) if grids.crs is not None else out


EXCLUDE_LINE_WIDTH_M = 10.0  # a railway or canal drawn as a line: its corridor


def exclusion_metric(exclude: gpd.GeoDataFrame, crs) -> tuple[np.ndarray, dict]:
    """Land that is not a blind spot whoever watches it (water, railways, private
    compounds), in the metric CRS: polygons as they are (repaired), lines buffered to a
    :data:`EXCLUDE_LINE_WIDTH_M` corridor; points are not areas and are counted apart."""
    geoms = shapely.make_valid(exclude.geometry.to_crs(crs).values._data)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    geoms = geoms[present]
    dim = shapely.get_dimensions(geoms)
    lines = dim == 1
    geoms = np.where(lines, shapely.buffer(geoms, EXCLUDE_LINE_WIDTH_M / 2.0, cap_style="flat"),
                     geoms)
    keep = dim != 0
    return polygonal(geoms[keep]), {"features": int(present.sum()),
                                    "lines_buffered": int(lines.sum()),
                                    "points_ignored": int((dim == 0).sum()),
                                    "missing": int((~present).sum())}


def remove_exclusions(targets: np.ndarray, excl: np.ndarray) -> np.ndarray:
    """Each grid's target minus the exclusion areas that touch it."""
    from gis.coverage import overlay

    if not len(excl):
        return targets
    tree = shapely.STRtree(excl)
    t_idx, e_idx = tree.query(targets, predicate="intersects")
    cut = grouped_union(excl[e_idx], t_idx, len(targets))
    return overlay.difference(targets, cut)
