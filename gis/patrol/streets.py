"""Street coverage: the share of each grid's street length that a patrol passed within
a given distance.

Streets are clipped to the grids, cut into short pieces (``step`` metres) and a piece
counts as covered when its midpoint lies within ``distance`` of any track segment
(a bulk ``dwithin`` STRtree query), so the answer is exact to within ``step``.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.crs import metric_crs_for
from gis.patrol.cleaning import DEFAULT_MAX_GAP_S, to_metric
from gis.patrol.windows import to_ns


def track_segments(fixes: pd.DataFrame, crs, *, max_gap_s: float = DEFAULT_MAX_GAP_S) -> np.ndarray:
    """Metric LineStrings between consecutive fixes of one worker (gap ≤ ``max_gap_s``)."""
    f = fixes.dropna(subset=["worker", "time", "lon", "lat"]).sort_values(["worker", "time"])
    x, y = to_metric(f["lon"].to_numpy(), f["lat"].to_numpy(), crs)
    w, t = f["worker"].to_numpy(), to_ns(f["time"])
    link = np.flatnonzero((w[1:] == w[:-1]) & (t[1:] - t[:-1] <= max_gap_s * 1e9))
    coords = np.stack([np.column_stack([x[link], y[link]]),
                       np.column_stack([x[link + 1], y[link + 1]])], axis=1)
    return shapely.linestrings(coords) if len(link) else np.array([], dtype=object)


def _street_pieces(streets: gpd.GeoDataFrame, polys: np.ndarray, step: float):
    """(grid, length, midpoint) of every ≤ ``step`` m piece of street inside a grid."""
    lines = streets.geometry.to_numpy()
    li, gi = shapely.STRtree(polys).query(lines, predicate="intersects")
    clipped = shapely.intersection(lines[li], polys[gi])
    parts, owner = shapely.get_parts(clipped, return_index=True)
    is_line = shapely.get_type_id(parts) == 1
    parts, owner = shapely.segmentize(parts[is_line], step), owner[is_line]
    xy, idx = shapely.get_coordinates(parts, return_index=True)
    same = idx[1:] == idx[:-1]
    a, b = xy[:-1][same], xy[1:][same]
    grid = gi[owner[idx[:-1][same]]]
    return grid, np.hypot(*(b - a).T), (a + b) / 2.0


def street_coverage(fixes: pd.DataFrame, streets: gpd.GeoDataFrame, grids: gpd.GeoDataFrame,
                    *, key: str | None = None, distance: float = 20.0, step: float = 5.0,
                    max_gap_s: float = DEFAULT_MAX_GAP_S) -> pd.DataFrame:
    """Share of each grid's street length passed within ``distance`` metres.

    Parameters
    ----------
    fixes : cleaned fixes table (see :func:`gis.patrol.cleaning.clean_fixes`).
    streets : street centre lines (any CRS).
    grids : grid polygons; ``key`` names them (row position when None).

    Returns
    -------
    DataFrame : ``grid``, ``street_m``, ``covered_m``, ``share`` (NaN for a grid without
        streets), every grid listed.

    Examples
    --------
    >>> street_coverage(clean, roads, grids,  # fixes from a file  # doctest: +SKIP
    ...                 key="code", distance=15)
    """
    crs = metric_crs_for(grids)
    polys = grids.geometry.to_crs(crs).to_numpy()
    grid, length, mid = _street_pieces(streets.to_crs(crs), polys, step)
    segs = track_segments(fixes, crs, max_gap_s=max_gap_s)
    covered = np.zeros(len(mid), dtype=bool)
    if len(segs) and len(mid):
        hit, _ = shapely.STRtree(segs).query(shapely.points(mid), predicate="dwithin",
                                             distance=distance)
        covered[np.unique(hit)] = True
    n = len(grids)
    street_m = np.bincount(grid, weights=length, minlength=n)
    covered_m = np.bincount(grid, weights=np.where(covered, length, 0.0), minlength=n)
    keys = grids[key].astype(str).to_numpy() if key else np.arange(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(street_m > 0, covered_m / street_m, np.nan)
    return pd.DataFrame({"grid": keys, "street_m": street_m, "covered_m": covered_m, "share": share})
