"""How good a set of grids is (the report) and what is wrong with it (validation).

Both work in a metric CRS; :func:`validate` is public and takes EPSG:4326 input like the
rest of :mod:`gis.partition`.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.crs import WGS84, metric_crs_for
from gis.partition.cells import locate, polygonal
from gis.partition.graph import shared_edges, street_length
from gis.partition.inputs import as_geometry, as_wgs84

AREA_TOLERANCE = 1.0  # m²: gaps, overlaps and spills smaller than this are floating-point noise
CUT_SHARE = 0.01  # a unit with more than 1 % of its area outside its main grid is cut
# a grid wider than this many times the units' own extent, plus this many metres, is absurd
# (a parent in the wrong CRS, or widened in degrees): far past any village's fields
ABSURD_FACTOR = 3.0
ABSURD_MARGIN_M = 5_000.0

VIOLATION_COLUMNS = ["code", "rule", "detail", "geometry"]


def polsby_popper(geoms) -> np.ndarray:
    """4πA/P²: 1 for a circle, π/4 for a square, near 0 for a sliver."""
    per = shapely.length(geoms)
    return np.where(per > 0, 4 * np.pi * shapely.area(geoms) / np.maximum(per, 1e-12) ** 2, 0.0)


def street_share(geoms, roads, groups=None) -> float | None:
    """Share of the boundary between grids that runs on streets. Only boundaries drawn by
    the partition count: not the parent's outline, nor a line between two communities
    (``groups``)."""
    if roads is None:
        return None
    i, j, lines = shared_edges(np.asarray(geoms, dtype=object))
    if groups is not None:
        groups = np.asarray(groups)
        lines = lines[groups[i] == groups[j]]
    total = float(shapely.length(lines).sum())
    if total <= 0:
        return 1.0
    return float(street_length(lines, np.asarray(roads, dtype=object)).sum() / total)


def report(geoms, households, kinds, *, lo: float, hi: float, roads=None,
           seconds: float = 0.0, groups=None) -> dict:
    """The quality report of grids given in a metric CRS.

    Bounds apply to basic grids: ``within_bounds_share`` and ``cv`` are over basic grids
    (exclusive grids are kept whole whatever their size; ``within_bounds_share_all``
    counts them too)."""
    geoms = np.asarray(geoms, dtype=object)
    h = np.asarray(households, dtype=float)
    basic = np.asarray(kinds) == "basic"
    pp = polsby_popper(geoms)
    total = float(h.sum())
    bound = max(1, math.ceil(total / hi)) if total > 0 else 0
    inside = (h >= lo) & (h <= hi)
    hb = h[basic] if basic.any() else h
    n = len(geoms)
    street = street_share(geoms, roads, groups)
    return {
        "grids": n, "exclusive_grids": int((~basic).sum()),
        "households_total": int(round(total)),
        "households_min": _num(h.min()) if n else None,
        "households_median": _num(np.median(h)) if n else None,
        "households_max": _num(h.max()) if n else None,
        "within_bounds_share": float(inside[basic].mean()) if basic.any() else None,
        "within_bounds_share_all": float(inside.mean()) if n else None,
        "contiguous_share": float(np.mean(shapely.get_num_geometries(geoms) == 1)) if n else None,
        "compactness_mean": float(pp.mean()) if n else None,
        "compactness_min": float(pp.min()) if n else None,
        "street_boundary_share": street,
        "lower_bound": bound,
        "excess_over_lower_bound": (n / bound - 1.0) if bound else None,
        "cv": float(hb.std() / hb.mean()) if len(hb) and hb.mean() > 0 else None,
        "seconds": round(float(seconds), 3),
    }


def _num(v):
    v = float(v)
    return int(v) if v.is_integer() else v


def violations_frame(rows: list[dict], crs) -> gpd.GeoDataFrame:
    """Rows of (code, rule, detail, geometry) as a GeoDataFrame (empty but typed if none)."""
    df = pd.DataFrame(rows, columns=VIOLATION_COLUMNS)
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(df["geometry"].tolist(), crs=crs), crs=crs)


def _coverage_rows(geoms, codes, parent) -> list[dict]:
    rows = []
    try:
        covered = shapely.union_all(geoms)
        rest = shapely.difference(parent, covered)
    except shapely.errors.GEOSException:  # drawn or reprojected rings that touch: repair
        covered = shapely.union_all(shapely.make_valid(geoms), grid_size=1e-3)
        rest = shapely.difference(shapely.make_valid(parent), covered, grid_size=1e-3)
    for gap in shapely.get_parts(rest):
        if gap.area > AREA_TOLERANCE:
            rows.append({"code": None, "rule": "gap", "geometry": gap,
                         "detail": f"{gap.area:.0f} m² of the parent in no grid"})
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="intersects")
    keep = i < j
    inter = shapely.intersection(geoms[i[keep]], geoms[j[keep]])
    for a, b, g in zip(i[keep], j[keep], inter):
        if shapely.area(g) > AREA_TOLERANCE:
            rows.append({"code": f"{codes[a]}/{codes[b]}", "rule": "overlap", "geometry": g,
                         "detail": f"grids {codes[a]} and {codes[b]} share {g.area:.0f} m²"})
    spill = shapely.difference(geoms, parent)
    for c, g in zip(codes, spill):
        if shapely.area(g) > AREA_TOLERANCE:
            rows.append({"code": c, "rule": "outside_parent", "geometry": g,
                         "detail": f"{g.area:.0f} m² outside the parent area"})
    return rows


def _shape_rows(geoms, codes) -> list[dict]:
    rows = []
    for c, g in zip(codes, geoms):
        parts = shapely.get_parts(g)
        if len(parts) > 1:
            order = np.argsort(-shapely.area(parts))
            rows.append({"code": c, "rule": "non_contiguous", "geometry": shapely.union_all(
                parts[order[1:]]), "detail": f"{len(parts)} separate pieces"})
    return rows


def span(bounds) -> float:
    """The larger side of a (minx, miny, maxx, maxy) box, in its CRS's units."""
    b = np.asarray(bounds, dtype=float)
    return float(max(b[2] - b[0], b[3] - b[1])) if np.isfinite(b).all() else 0.0


def extent_rows(geoms, codes, units_bounds) -> list[dict]:
    """Grids far wider than the units they hold could ever need (metric CRS): the sign of
    a parent or a distance in the wrong units, which no household count would reveal."""
    limit = ABSURD_FACTOR * span(units_bounds) + ABSURD_MARGIN_M
    rows = []
    for c, g in zip(codes, geoms):
        wide = span(shapely.bounds(g))
        if wide > limit:
            rows.append({"code": c, "rule": "absurd_extent", "geometry": g,
                         "detail": f"grid {wide / 1000:,.1f} km wide, the units span "
                                   f"{span(units_bounds) / 1000:,.1f} km; wrong parent or CRS?"})
    return rows


def household_rows(geoms, codes, households, lo, hi) -> list[dict]:
    rows = []
    for c, g, h in zip(codes, geoms, households):
        if h > hi:
            rows.append({"code": c, "rule": "above_max", "geometry": g,
                         "detail": f"{h:g} households > {hi:g}"})
        elif h < lo:
            rows.append({"code": c, "rule": "below_min", "geometry": g,
                         "detail": f"{h:g} households < {lo:g}"})
    return rows


def cut_rows(geoms, codes, unit_geoms) -> list[dict]:
    """Polygon units (buildings) split between grids."""
    unit_geoms = np.asarray(unit_geoms, dtype=object)
    poly = np.isin(shapely.get_type_id(unit_geoms), (3, 6))
    idx = np.flatnonzero(poly)
    if not len(idx):
        return []
    tree = shapely.STRtree(geoms)
    u, gi = tree.query(unit_geoms[idx], predicate="intersects")
    share = shapely.area(shapely.intersection(unit_geoms[idx][u], geoms[gi])) / \
        np.maximum(shapely.area(unit_geoms[idx][u]), 1e-12)
    df = pd.DataFrame({"u": u, "g": gi, "share": share})
    df = df[df["share"] > CUT_SHARE]
    many = df.groupby("u")["g"].transform("size") > 1
    rows = []
    for uu, grp in df[many].groupby("u"):
        names = "/".join(str(codes[g]) for g in grp["g"])
        rows.append({"code": names, "rule": "building_cut", "geometry": unit_geoms[idx][uu],
                     "detail": f"unit split between grids {names}"})
    return rows


def validate(grids: gpd.GeoDataFrame, parent, units: gpd.GeoDataFrame | None = None,
             households: str = "households", *, min_households: float = 300,
             max_households: float = 500) -> gpd.GeoDataFrame:
    """Every rule a set of grids breaks, as rows (code, rule, detail, geometry) in EPSG:4326.

    Rules: ``gap`` and ``overlap`` (as polygons), ``outside_parent``, ``non_contiguous``,
    ``above_max`` / ``below_min`` (households counted from ``units`` by the point inside
    each unit, else taken from the grids' ``households`` column), ``building_cut``.

    Examples
    --------
    The partitioner's grids of a community (the names are one community of ``generate_district(2000, seed=1)``: see tests/test_doctests.py) break no rule:

    >>> bad = validate(grids, community, buildings)
    >>> bad.rule.tolist()
    []
    """
    grids = as_wgs84(grids)
    crs = metric_crs_for(grids)
    # reprojection can leave rings touching within nanometres: repair before overlaying
    g = polygonal(np.asarray(grids.to_crs(crs).geometry.values, dtype=object))
    codes = grids["code"].astype(str).to_numpy() if "code" in grids else \
        np.array([str(i) for i in range(len(grids))], dtype=object)
    parent_m = gpd.GeoSeries([as_geometry(parent)], crs=WGS84).to_crs(crs).iloc[0]
    rows = _coverage_rows(g, codes, parent_m) + _shape_rows(g, codes)
    if units is not None:
        units = as_wgs84(units)
        um = np.asarray(units.to_crs(crs).geometry.values, dtype=object)
        hh = pd.to_numeric(units[households], errors="coerce").fillna(0).to_numpy(float)
        at = locate(shapely.point_on_surface(um), g)
        counts = np.bincount(at[at >= 0], weights=hh[at >= 0], minlength=len(g))
        rows += cut_rows(g, codes, um)
    else:
        counts = pd.to_numeric(grids[households], errors="coerce").fillna(0).to_numpy(float)
    basic = grids["kind"].eq("basic").to_numpy() if "kind" in grids else np.ones(len(g), bool)
    rows += household_rows(g[basic], codes[basic], counts[basic], min_households,
                           max_households)  # exclusive grids are kept whole whatever their size
    return violations_frame(rows, crs).to_crs(WGS84)
