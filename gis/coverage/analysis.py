"""One call from files' worth of GeoDataFrames to coverage, blind spots and grid figures."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely

from gis.coverage import blindspots as bs
from gis.coverage.cameras import defaults_used, normalize_cameras
from gis.coverage.per_grid import grid_figures
from gis.coverage.target import (OPEN_SETBACK_M, Targets, exclusion_metric, grid_keys,
                                 road_widths, street_polygons)
from gis.coverage.visibility import footprint_parts, polygonal, views_metric, working_crs


@dataclass
class CoverageResult:
    """Layers in the grids' CRS (areas in m²) and a summary dict.

    ``coverage``: per grid, the covered part of its target. ``blind_spots``: target
    minus coverage, single polygons of at least ``min_area`` m², biggest incident count
    first. ``grid_coverage``: per grid figures with ``covered_m2 + blind_m2 ==
    target_m2`` (blind area counted before the size filter). ``views``: each camera's
    view. ``key_places``: coverage of each key place (when given).
    """

    coverage: gpd.GeoDataFrame
    blind_spots: gpd.GeoDataFrame
    grid_coverage: gpd.GeoDataFrame
    views: gpd.GeoDataFrame
    summary: dict
    key_places: gpd.GeoDataFrame | None = None
    metric_crs: object = field(default=None, repr=False)


def _camera_ids(cams) -> np.ndarray:
    for name in ("camera_id", "id", "code"):
        if name in cams.columns:
            return cams[name].to_numpy()
    return cams.index.to_numpy()


def _select(cameras, mapping, include_offline):
    cams = normalize_cameras(cameras, mapping)
    offline = int((cams["status"] == "offline").sum())
    if not include_offline:
        cams = cams[cams["status"] == "online"]
    return cams, offline


def coverage(cameras: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, grids: gpd.GeoDataFrame,
             *, grid_key: str | None = None, roads: gpd.GeoDataFrame | None = None,
             incidents: gpd.GeoDataFrame | None = None,
             key_places: gpd.GeoDataFrame | None = None, min_area: float = 25.0,
             mode: str = "public", include_offline: bool = False, mapping=None,
             period=None, time_field: str = "reported_at",
             open_setback: float = OPEN_SETBACK_M,
             exclude: gpd.GeoDataFrame | None = None,
             workers: int | None = None) -> CoverageResult:
    """Camera coverage of each grid's target area, its blind spots and key places.

    Parameters
    ----------
    cameras : camera points (see :func:`gis.coverage.cameras.normalize_cameras`).
    buildings : footprints, which block views and are never target.
    grids : grid polygons; results come back in their CRS.
    grid_key : column naming grids (default ``code``, else the index).
    roads : street lines with ``class`` or ``width`` (for the public-space target).
    incidents : incident points, counted inside blind spots.
    key_places : schools, hospitals, stations... (polygons, or points = 50 m discs).
    min_area : blind spots smaller than this (m²) are not listed (still counted in
        ``blind_m2`` of the grid table).
    mode : target: ``"public"``, ``"grid"`` or ``"streets"`` (:mod:`gis.coverage.target`).
    include_offline : count offline cameras too.
    mapping : source column -> field name for the cameras.
    period : ``(start, end)`` of incidents to count, by ``time_field``.
    exclude : areas removed from every target (water, railways, private compounds):
        not public space, so never blind spots (see
        :func:`gis.coverage.target.exclusion_metric`).
    workers : processes sharing the views and the grids (default: every core, where
        forking is safe; see :mod:`gis.coverage.workers`). The answer does not depend
        on it.

    Returns
    -------
    CoverageResult

    Examples
    --------
    Cameras, buildings, grids and roads (the names are one community of ``generate_district(2000, seed=1)``: see tests/test_doctests.py):

    >>> res = coverage(cameras, buildings, grids, roads=roads)
    >>> 0 < res.summary["coverage_ratio"] < 1
    True
    """
    t0 = time.perf_counter()
    crs = working_crs(grids)
    cams, offline = _select(cameras, mapping, include_offline)
    parts = footprint_parts(buildings, crs)
    pts = cams.geometry.to_crs(crs)
    views, moved = views_metric(pts.x.to_numpy(), pts.y.to_numpy(), cams["azimuth"],
                                cams["fov"], cams["range"], parts, workers=workers)
    grid_geoms = polygonal(grids.geometry.to_crs(crs).values._data)
    streets = street_polygons(roads, crs) if roads is not None and len(roads) else None
    excl, excluded = (exclusion_metric(exclude, crs) if exclude is not None and len(exclude)
                      else (None, None))
    fig = grid_figures(grid_geoms, Targets(parts, streets, mode, open_setback), views, excl,
                       workers=workers)
    targets, covered, blind = fig.targets, fig.covered, fig.blind
    if excluded is not None:
        excluded["area_m2"] = round(float((fig.target_m2_before_exclusions
                                           - shapely.area(targets)).sum()), 1)
    keys = grid_keys(grids, grid_key).to_numpy()
    inc = bs.filter_period(incidents, period, time_field)
    inc_pts = (shapely.point_on_surface(inc.geometry.to_crs(crs).values._data)
               if inc is not None and len(inc) else None)
    spots = _blind_spot_frame(blind, keys, min_area, inc_pts, cams, pts, crs)
    table = bs.grid_table(keys, targets, covered, blind, spots.pop("_grid").to_numpy(),
                          spots["area_m2"].to_numpy(), spots["incidents"].to_numpy())
    out_crs = grids.crs
    res = CoverageResult(
        coverage=_layer(table[["grid", "covered_m2"]], covered, crs, out_crs),
        blind_spots=spots.to_crs(out_crs),
        grid_coverage=_layer(table, grid_geoms, crs, out_crs),
        views=_views_layer(cams, views, moved, crs, out_crs),
        summary={}, metric_crs=crs)
    if key_places is not None and len(key_places):
        res.key_places = bs.key_place_coverage(key_places, views, parts, crs).to_crs(out_crs)
    res.blind_spots.attrs["metric_crs"] = crs  # suggest_sites measures in the same CRS
    res.summary = _summary(res, cams, offline, inc, roads, mode, crs, t0)
    if excluded is not None:
        res.summary["excluded"] = excluded
    return res


def _blind_spot_frame(blind, keys, min_area, inc_pts, cams, cam_pts, crs):
    polys, grid_pos = bs.explode_blind(blind, min_area)
    near, dist = bs.nearest_camera(polys, cam_pts.values._data)
    ids = _camera_ids(cams)
    spots = gpd.GeoDataFrame({
        "grid": keys[grid_pos] if len(keys) else keys[:0],
        "area_m2": shapely.area(polys),
        "incidents": bs.count_points(polys, inc_pts),
        "nearest_camera": np.where(near >= 0, ids[np.maximum(near, 0)] if len(ids) else None,
                                   None),
        "camera_m": dist, "_grid": grid_pos}, geometry=gpd.GeoSeries(polys, crs=crs))
    spots = spots.sort_values(["incidents", "area_m2"], ascending=False, kind="stable")
    spots.insert(0, "spot", np.arange(1, len(spots) + 1))
    return spots.reset_index(drop=True)


def _layer(df, geoms, crs, out_crs) -> gpd.GeoDataFrame:
    gdf = gpd.GeoDataFrame(df.reset_index(drop=True), geometry=gpd.GeoSeries(geoms, crs=crs))
    return gdf.to_crs(out_crs) if out_crs is not None else gdf


def _views_layer(cams, views, moved, crs, out_crs) -> gpd.GeoDataFrame:
    gdf = gpd.GeoDataFrame(cams.drop(columns=cams.geometry.name),
                           geometry=gpd.GeoSeries(views, index=cams.index, crs=crs))
    gdf["view_m2"] = shapely.area(views) if len(views) else np.zeros(0)
    gdf["moved_m"] = moved
    return gdf.to_crs(out_crs) if out_crs is not None else gdf


def _summary(res, cams, offline, inc, roads, mode, crs, t0) -> dict:
    t = res.grid_coverage
    target, covered = float(t["target_m2"].sum()), float(t["covered_m2"].sum())
    defaults = defaults_used(cams)
    if roads is not None and len(roads):
        n_default = road_widths(roads)[1]
        if n_default:
            defaults["road_width"] = n_default
    return {
        "cameras_used": int(len(cams)), "cameras_offline": offline, "mode": mode,
        "grids": int(len(t)), "target_m2": round(target, 1), "covered_m2": round(covered, 1),
        "blind_m2": round(float(t["blind_m2"].sum()), 1),
        "coverage_ratio": round(covered / target, 4) if target > 0 else None,
        "blind_spots": int(len(res.blind_spots)),
        "blind_spot_m2": round(float(res.blind_spots["area_m2"].sum()), 1),
        "incidents": int(len(inc)) if inc is not None else 0,
        "incidents_in_blind_spots": int(res.blind_spots["incidents"].sum()),
        "defaults_used": defaults, "metric_crs": crs.to_string(),
        "seconds": round(time.perf_counter() - t0, 3),
    }
