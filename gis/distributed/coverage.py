"""Camera coverage per grid on Dask, the grids partitioned spatially.

The grids are measured in one metric CRS (the one :func:`gis.coverage.coverage` would
choose for all of them) and cut into partitions along a Hilbert curve
(dask-geopandas ``spatial_shuffle``). Cameras, footprints, roads and incidents go to
every worker once; each partition takes only what can matter to its grids: the cameras
whose range reaches its extent, the footprints within reach of those cameras (they cast
the shadows), the roads and incidents over its extent. Each partition then runs the
very same :func:`gis.coverage.coverage`, so each grid's target, coverage and blind
spots equal the single-machine figures. What spans partitions is done once on the
client: blind spots numbered county-wide and their nearest camera among all cameras,
key places against all views, and the summary.
"""

from __future__ import annotations

import time

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.coverage import blindspots as bs
from gis.coverage.analysis import CoverageResult, _camera_ids, _select, _summary
from gis.coverage.target import grid_keys
from gis.coverage.visibility import NUDGE_M, footprint_parts, working_crs
from gis.distributed import dask_client
from gis.distributed.assign import spatial_parts

_POS, _KEY, _CAM = "__gridgis_pos", "__gridgis_key", "__gridgis_cam"
ROAD_MARGIN_M = 100.0  # more than half the widest carriageway: roads that can touch a grid


def _near(layer: gpd.GeoDataFrame | None, bounds, metres: float):
    if layer is None or not len(layer):
        return layer
    area = shapely.buffer(shapely.box(*bounds), metres, quad_segs=2)
    return layer.iloc[np.sort(layer.sindex.query(area, predicate="intersects"))]


def _cover_part(part, cams, buildings, roads, incidents, params: dict) -> dict:
    """One partition of grids through :func:`gis.coverage.coverage`."""
    from gis.coverage import coverage

    if not len(part):
        return {"pos": np.zeros(0, dtype=int), "empty": True}
    geoms = part.geometry.to_numpy()
    bounds = shapely.total_bounds(geoms[~shapely.is_missing(geoms)])
    reach = float(cams["range"].max()) + NUDGE_M if len(cams) else 0.0
    near_cams = _near(cams, bounds, reach)
    res = coverage(near_cams, _near(buildings, bounds, 2 * reach + 1.0), part,
                   grid_key=_KEY, roads=_near(roads, bounds, ROAD_MARGIN_M),
                   incidents=_near(incidents, bounds, 0.0), include_offline=True,
                   min_area=params["min_area"], mode=params["mode"],
                   workers=1)  # Dask already shares the cores
    return {"pos": part[_POS].to_numpy(), "grid_coverage": res.grid_coverage,
            "coverage": res.coverage, "views": res.views, "empty": False,
            "blind_spots": _with_grid_position(res.blind_spots, part)}


def _inputs(cameras, buildings, grids, roads, incidents, grid_key, mapping, include_offline,
            period, time_field):
    """Everything in the grids' metric CRS, cameras normalised and selected once."""
    crs = working_crs(grids)
    cams, offline = _select(cameras, mapping, include_offline)
    cams = cams.to_crs(crs).assign(**{_CAM: np.arange(len(cams))})
    g = grids.to_crs(crs)
    g = g.assign(**{_KEY: grid_keys(grids, grid_key).to_numpy(), _POS: np.arange(len(g))})
    inc = bs.filter_period(incidents, period, time_field)
    inc_m = inc.to_crs(crs) if inc is not None and len(inc) else None
    layers = {"cams": cams, "buildings": buildings.to_crs(crs),
              "roads": roads.to_crs(crs) if roads is not None and len(roads) else None,
              "incidents": inc_m}
    return crs, g, layers, offline, inc


def coverage_dask(cameras: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame,
                  grids: gpd.GeoDataFrame, *, grid_key: str | None = None,
                  roads: gpd.GeoDataFrame | None = None,
                  incidents: gpd.GeoDataFrame | None = None,
                  key_places: gpd.GeoDataFrame | None = None, min_area: float = 25.0,
                  mode: str = "public", include_offline: bool = False, mapping=None,
                  period=None, time_field: str = "reported_at",
                  scheduler: str | None = "local", npartitions: int | None = None,
                  n_workers: int = 2) -> CoverageResult:
    """Same result as :func:`gis.coverage.coverage`, computed on a Dask cluster.

    Parameters
    ----------
    cameras, buildings, grids, grid_key, roads, incidents, key_places, min_area, mode,
    include_offline, mapping, period, time_field : as for :func:`gis.coverage.coverage`.
    scheduler : ``"local"`` for a LocalCluster of ``n_workers`` processes, or the
        address of a running scheduler.
    npartitions : spatial partitions of the grids (default: about 500 grids each, at
        least two per worker).

    Returns
    -------
    CoverageResult
        Layers in the grids' CRS, grids in their input order, blind spots numbered as
        the single-machine run numbers them.

    Examples
    --------
    >>> res = coverage_dask(cameras, buildings,  # starts Dask  # doctest: +SKIP
    ...                     grids, roads=roads)
    """
    t0 = time.perf_counter()
    crs, g, layers, offline, inc = _inputs(cameras, buildings, grids, roads, incidents,
                                           grid_key, mapping, include_offline, period,
                                           time_field)
    if npartitions is None:
        npartitions = max(2 * n_workers, len(g) // 500 + 1)
    shuffled, rest = spatial_parts(g, npartitions)
    params = {"min_area": min_area, "mode": mode}
    with dask_client(scheduler, n_workers=n_workers) as client:
        shared = {k: client.scatter(v, broadcast=True) if v is not None else None
                  for k, v in layers.items()}
        parts = client.compute(shuffled.to_delayed()) if shuffled is not None else []
        futures = client.map(_cover_part, [*parts, rest], **shared, params=params, pure=False)
        results = [r for r in client.gather(futures) if not r["empty"]]
    res = _combine(results, layers["cams"], crs, grids.crs)
    if key_places is not None and len(key_places):
        views = res.views.to_crs(crs).geometry.to_numpy()
        parts_m = footprint_parts(layers["buildings"], crs)
        res.key_places = bs.key_place_coverage(key_places, views, parts_m, crs).to_crs(grids.crs)
    res.summary = _summary(res, layers["cams"].drop(columns=_CAM), offline, inc, roads, mode,
                           crs, t0)
    return res


def _in_order(frames: list[gpd.GeoDataFrame], pos: np.ndarray, crs) -> gpd.GeoDataFrame:
    out = pd.concat(frames, ignore_index=True)
    out = out.iloc[np.argsort(pos, kind="stable")].reset_index(drop=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=crs)


def _combine(results: list[dict], cams: gpd.GeoDataFrame, crs, out_crs) -> CoverageResult:
    pos = np.concatenate([r["pos"] for r in results])
    table = _in_order([r["grid_coverage"] for r in results], pos, crs)
    covered = _in_order([r["coverage"] for r in results], pos, crs)
    views = _views([r["views"] for r in results], cams, crs)
    spots = _spots([r["blind_spots"] for r in results], cams)
    res = CoverageResult(coverage=covered.to_crs(out_crs), blind_spots=spots.to_crs(out_crs),
                         grid_coverage=table.to_crs(out_crs), views=views.to_crs(out_crs),
                         summary={}, metric_crs=crs)
    res.blind_spots.attrs["metric_crs"] = crs
    return res


def _views(frames: list, cams: gpd.GeoDataFrame, crs) -> gpd.GeoDataFrame:
    """One view per camera (a camera near two partitions was computed twice, the same
    way), with the camera's attributes as normalised once on the client (a partition
    sees normalised cameras, so its own ``defaults`` column would say none)."""
    views = pd.concat(frames, ignore_index=True).drop_duplicates(_CAM).sort_values(_CAM)
    attrs = pd.DataFrame(cams.drop(columns=[cams.geometry.name, _CAM])).iloc[views[_CAM]]
    out = gpd.GeoDataFrame(attrs, geometry=gpd.GeoSeries(views.geometry.to_numpy(), crs=crs,
                                                         index=attrs.index))
    return out.assign(view_m2=views["view_m2"].to_numpy(), moved_m=views["moved_m"].to_numpy())


def _spots(frames: list, cams: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Blind spots of all partitions, ordered and numbered as one run orders them
    (most incidents, then largest, then grid order) with the nearest of all cameras."""
    spots = pd.concat(frames, ignore_index=True)
    spots = spots.sort_values(["incidents", "area_m2", _POS], ascending=[False, False, True],
                              kind="stable").drop(columns=_POS).reset_index(drop=True)
    near, dist = bs.nearest_camera(spots.geometry.to_numpy(), cams.geometry.to_numpy())
    ids = _camera_ids(cams)
    spots["nearest_camera"] = np.where(near >= 0, ids[np.maximum(near, 0)] if len(ids) else None,
                                       None)
    spots["camera_m"] = dist
    spots["spot"] = np.arange(1, len(spots) + 1)
    return gpd.GeoDataFrame(spots, geometry="geometry", crs=frames[0].crs)


def _with_grid_position(spots: gpd.GeoDataFrame, part: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Each blind spot tagged with its grid's input position (first row of a key)."""
    by_key = pd.Series(part[_POS].to_numpy(), index=part[_KEY].to_numpy())
    by_key = by_key[~by_key.index.duplicated()]
    return spots.assign(**{_POS: by_key.reindex(spots["grid"].to_numpy()).to_numpy()})
