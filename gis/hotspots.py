"""Hot spots of incidents for a period: counts on a hexagon lattice, with Getis-Ord Gi*.

Hexagons rather than squares because every neighbour of a hexagon is at the same distance,
so a cluster that straddles a cell edge is not split unevenly between "side" and
"corner" neighbours. The lattice is laid out in the metric CRS of the points
(:func:`gis.crs.metric_crs_for`) with ``edge`` metres per side (pointy-top hexagons, axial
coordinates ``q, r`` with the origin at the metric CRS's false origin, so the same
lattice comes back for any subset of points in that CRS); the result is in EPSG:4326.

Gi* (Getis & Ord 1995, binary weights: a cell and its 6 neighbours) is computed over the
occupied cells and their neighbours (empty cells count as 0), i.e. the populated area
rather than a bounding box, which would drown a county's hot spots in empty hills.
A cell with ``gi_z >= 1.96`` is a hot spot at the 95 % level.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.crs import WGS84, metric_crs_for
from gis.errors import InputError

SQRT3 = np.sqrt(3.0)
HOT_Z = 1.96
_NEIGHBOURS = np.array([(1, 0), (1, -1), (0, -1), (-1, 0), (-1, 1), (0, 1)])


def hexagon_hotspots(points: gpd.GeoDataFrame, *, edge: float = 250.0,
                     time_column: str | None = None, start=None, end=None,
                     min_count: int = 1) -> gpd.GeoDataFrame:
    """Count points per hexagon for a period and score each hexagon with Gi*.

    Parameters
    ----------
    points : incidents (any declared CRS); missing or empty geometries are skipped
        (their number is in ``attrs["skipped"]``).
    edge : hexagon side in metres (a 250 m side covers 0.16 km²).
    time_column, start, end : keep rows with ``start <= time < end`` (either bound may
        be omitted); times are parsed with :func:`pandas.to_datetime`.
    min_count : leave out hexagons with fewer points.

    Returns
    -------
    GeoDataFrame in EPSG:4326: ``hex_id`` ("q:r"), ``q``, ``r``, ``count``,
    ``per_km2``, ``gi_z``, ``hot`` (bool), sorted by ``gi_z`` descending.

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> pts = gpd.GeoDataFrame(geometry=[Point(113.0, 28.0)] * 3 + [Point(113.1, 28.1)],
    ...                        crs=4326)
    >>> hexagon_hotspots(pts, edge=200)["count"].tolist()
    [3, 1]
    """
    if not edge > 0:
        raise InputError(f"hexagon edge must be positive metres, not {edge}", field="edge")
    if points.crs is None:
        raise InputError("the points declare no CRS", field="crs")
    pts = _in_period(points, time_column, start, end)
    geoms = pts.geometry.to_numpy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not present.any():
        return _empty(int((~present).sum()))
    metric = metric_crs_for(gpd.GeoSeries(geoms[present], crs=pts.crs))
    xy = shapely.get_coordinates(gpd.GeoSeries(geoms[present], crs=pts.crs).to_crs(metric))
    q, r = hex_of(xy[:, 0], xy[:, 1], edge)
    cells, count = np.unique(np.column_stack([q, r]), axis=0, return_counts=True)
    z = _gi_star(cells, count)
    keep = count >= min_count
    cells, count, z = cells[keep], count[keep], z[keep]
    area_km2 = 1.5 * SQRT3 * edge * edge / 1e6
    out = gpd.GeoDataFrame({
        "hex_id": [f"{a}:{b}" for a, b in cells], "q": cells[:, 0], "r": cells[:, 1],
        "count": count, "per_km2": count / area_km2, "gi_z": z, "hot": z >= HOT_Z},
        geometry=hexagons(cells[:, 0], cells[:, 1], edge), crs=metric).to_crs(WGS84)
    out = out.sort_values(["gi_z", "count"], ascending=False, kind="stable")
    out = out.reset_index(drop=True)
    out.attrs.update(skipped=int((~present).sum()), metric_crs=metric.to_string(), edge=edge)
    return out


def _in_period(points: gpd.GeoDataFrame, column, start, end) -> gpd.GeoDataFrame:
    if column is None:
        if start is not None or end is not None:
            raise InputError("a period needs the time column", field="time_column")
        return points
    if column not in points.columns:
        raise InputError(f"no time column {column!r}", field=column)
    when = pd.to_datetime(points[column], errors="coerce", format="mixed")  # as they come
    if when.isna().all() and points[column].notna().any():
        raise InputError(f"column {column!r} holds no readable times", field=column)
    keep = when.notna()
    if start is not None:
        keep &= when >= pd.Timestamp(start)
    if end is not None:
        keep &= when < pd.Timestamp(end)
    return points[keep.to_numpy()]


def hex_of(x: np.ndarray, y: np.ndarray, edge: float) -> tuple[np.ndarray, np.ndarray]:
    """Axial coordinates of the pointy-top hexagon holding each metric point (cube rounding)."""
    fq = (SQRT3 / 3.0 * x - y / 3.0) / edge
    fr = (2.0 / 3.0 * y) / edge
    fs = -fq - fr
    q, r, s = np.round(fq), np.round(fr), np.round(fs)
    dq, dr, ds = np.abs(q - fq), np.abs(r - fr), np.abs(s - fs)
    fix_q = (dq > dr) & (dq > ds)
    fix_r = ~fix_q & (dr > ds)
    q = np.where(fix_q, -r - s, q)
    r = np.where(fix_r, -q - s, r)
    return q.astype(np.int64), r.astype(np.int64)


def hexagons(q: np.ndarray, r: np.ndarray, edge: float) -> np.ndarray:
    """Polygons of axial cells (metric coordinates)."""
    cx = edge * SQRT3 * (q + r / 2.0)
    cy = edge * 1.5 * r
    angles = np.radians(30.0 + 60.0 * np.arange(7))  # closed ring
    ring = np.stack([cx[:, None] + edge * np.cos(angles), cy[:, None] + edge * np.sin(angles)],
                    axis=-1)
    return shapely.polygons(ring)


def _gi_star(cells: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Gi* z-scores of the occupied ``cells`` over them and their empty neighbours."""
    ring = (cells[:, None, :] + _NEIGHBOURS[None, :, :]).reshape(-1, 2)
    area = np.unique(np.concatenate([cells, ring]), axis=0)
    values = np.zeros(len(area))
    values[_lookup(area, cells)] = count
    n = len(area)
    w = 7.0  # the cell and its six neighbours, all in the area
    mean = values.mean()
    sd = np.sqrt(max((values ** 2).mean() - mean ** 2, 0.0))
    if n <= w or sd == 0:  # one cluster alone: nothing to compare it with
        return np.zeros(len(cells))
    pos = _lookup(area, ring)  # every neighbour of an occupied cell is in ``area``
    local = count + values[pos].reshape(-1, 7 - 1).sum(axis=1)
    return (local - mean * w) / (sd * np.sqrt((n * w - w * w) / (n - 1)))


def _lookup(area: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Row of each ``wanted`` cell in the sorted unique ``area`` cells."""
    key = lambda c: c[:, 0] * (1 << 32) + (c[:, 1] + (1 << 31))  # noqa: E731
    return np.searchsorted(key(area), key(wanted))


def _empty(skipped: int) -> gpd.GeoDataFrame:
    out = gpd.GeoDataFrame({"hex_id": [], "q": [], "r": [], "count": [], "per_km2": [],
                            "gi_z": [], "hot": []}, geometry=[], crs=WGS84)
    out.attrs.update(skipped=skipped)
    return out
