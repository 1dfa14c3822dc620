"""Points to grids on Dask: the rules of :mod:`gis.assign`, spatially partitioned.

The points are cut into partitions along a Hilbert curve (dask-geopandas
``spatial_shuffle``), so each partition covers a compact area; the grids go to every
worker once (scattered), and each worker prepares its :class:`gis.assign.GridIndex` once
per thread and reuses it for all its partitions. Each partition goes through
:func:`gis.assign.assign_points`, a row-by-row rule, so the combined result, put back in
the input's order, equals the single-machine result exactly.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.distributed import dask_client

_POS = "__gridgis_pos"
_INDEXES: dict[tuple, object] = {}  # per worker process: (token, thread) -> GridIndex
_LOCK = threading.Lock()


def _index(grids: gpd.GeoDataFrame, key: str, tolerance: float, token: str):
    """The worker's prepared index for these grids (built on first use per thread:
    GEOS prepared geometries must not be shared between threads)."""
    from gis.assign import build_index

    slot = (token, threading.get_ident())
    with _LOCK:
        found = _INDEXES.get(slot)
    if found is None:
        found = build_index(grids, key, tolerance)
        with _LOCK:
            stale = [k for k in _INDEXES if k[0] != token]
            for k in stale:  # a worker serves one analysis at a time: drop old grids
                del _INDEXES[k]
            _INDEXES[slot] = found
    return found


def _assign_part(part: gpd.GeoDataFrame, grids: gpd.GeoDataFrame, grid_key: str,
                 tolerance: float, token: str) -> gpd.GeoDataFrame:
    from gis.assign import assign_points

    if len(part) == 0:
        return part.assign(grid=pd.array([], dtype="string"), boundary=np.zeros(0, bool),
                           candidates=pd.array([], dtype="string"))
    index = _index(grids, grid_key, tolerance, token)
    return assign_points(part, grids, grid_key, index=index)


def spatial_parts(gdf: gpd.GeoDataFrame, npartitions: int):
    """``gdf``'s rows with a geometry as a dask-geopandas frame shuffled along a Hilbert
    curve, and the rows without one (Hilbert distances need a geometry)."""
    import dask
    import dask_geopandas

    geoms = gdf.geometry.to_numpy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    located = gdf[present]
    n = max(1, min(npartitions, len(located)))
    if len(located) == 0:
        return None, gdf[~present]
    # keep the input's dtypes (Dask would turn text columns into pyarrow strings)
    with dask.config.set({"dataframe.convert-string": False}):
        dgdf = dask_geopandas.from_geopandas(located, npartitions=n)
        shuffled = dgdf.spatial_shuffle(by="hilbert", npartitions=n)
    return shuffled, gdf[~present]


def assign_points_dask(points: gpd.GeoDataFrame, grids: gpd.GeoDataFrame, key: str, *,
                       tolerance: float = 10.0, scheduler: str | None = "local",
                       npartitions: int | None = None, n_workers: int = 2) -> gpd.GeoDataFrame:
    """Same result as :func:`gis.assign.assign_points`, computed on a Dask cluster.

    Parameters
    ----------
    points, grids, key, tolerance : as for :func:`gis.assign.assign_points`.
    scheduler : ``"local"`` for a LocalCluster of ``n_workers`` processes, or the
        address of a running scheduler (``tcp://host:8786``).
    npartitions : spatial partitions of the points (default: about 250,000 points each,
        at least two per worker).

    Returns
    -------
    GeoDataFrame
        ``points`` (same index and order) with ``grid``, ``boundary`` and ``candidates``.

    Examples
    --------
    >>> out = assign_points_dask(incidents, grids, "code")  # starts Dask  # doctest: +SKIP
    >>> out = assign_points_dask(incidents, grids, "code",  # a cluster  # doctest: +SKIP
    ...                          scheduler="tcp://10.0.0.5:8786")
    """
    from dask.base import tokenize

    if npartitions is None:
        npartitions = max(2 * n_workers, len(points) // 250_000 + 1)
    frame = points.copy()
    frame[_POS] = np.arange(len(frame))
    shuffled, rest = spatial_parts(frame, npartitions)
    token = tokenize(grids, key, tolerance)
    with dask_client(scheduler, n_workers=n_workers) as client:
        shared = client.scatter(grids, broadcast=True)
        parts = client.compute(shuffled.to_delayed()) if shuffled is not None else []
        # (``key`` is client.map's own keyword: the grid key travels as grid_key)
        futures = client.map(_assign_part, [*parts, rest], grids=shared, grid_key=key,
                             tolerance=tolerance, token=token, pure=False)
        results = client.gather(futures)
    out = pd.concat([r for r in results if len(r)] or [results[-1]])
    out = out.sort_values(_POS, kind="stable")
    out.index = points.index
    return gpd.GeoDataFrame(out.drop(columns=_POS), geometry=points.geometry.name,
                            crs=points.crs)


def assign_file_dask(points: str | Path, grids: gpd.GeoDataFrame, key: str, out: str | Path, *,
                     lon: str | None = None, lat: str | None = None, crs=None,
                     tolerance: float = 10.0, scheduler: str | None = "local") -> dict:
    """``gridgis assign --scheduler``: read a points file, assign on Dask, write ``out``.

    Unlike the streamed single-machine path (:func:`gis.assign.files.assign_file`), the
    points are read into memory first (CSV values typed by pandas), then distributed.
    Returns the counts (rows, assigned, boundary, unassigned, no_coordinates, seconds).
    """
    from gis.io import read_layer, write_layer

    t0 = time.perf_counter()
    gdf = read_layer(points, crs=crs, lon=lon, lat=lat)
    result = assign_points_dask(gdf, grids, key, tolerance=tolerance, scheduler=scheduler)
    write_layer(result, out)
    geoms = gdf.geometry.to_numpy()
    assigned = int(result["grid"].notna().sum())
    return {"rows": len(result), "assigned": assigned,
            "boundary": int(result["boundary"].sum()), "unassigned": len(result) - assigned,
            "no_coordinates": int((shapely.is_missing(geoms) | shapely.is_empty(geoms)).sum()),
            "seconds": round(time.perf_counter() - t0, 3), "scheduler": scheduler}
