"""Locating lon/lat arrays in a :class:`~gis.assign.index.GridIndex` (rules in :mod:`gis.assign`).

Two paths, both vectorised over points:

* fast: points are binned on a lon/lat lattice; for each grid (a loop over grids, not
  points) the points of the bins under its safe region's box are tested with
  ``shapely.contains_xy`` against the prepared safe region. No point geometry is built.
* exact: the rest (near a boundary, outside every grid, or in a grid too thin to have a
  safe region) is projected to the metric CRS and queried with ``dwithin``; distances
  decide candidates and their order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from gis.assign.index import GridIndex

ON_EDGE_M = 0.001  # a point this close to a grid's boundary is *on* it (see gis.assign)
_MAX_BINS = 1 << 22


@dataclass
class Located:
    """Per point: the grid row (-1 when none), the boundary flag, and the candidates as
    codes into ``dictionary`` (grid labels first, then joined lists; -1 when none)."""

    grid: np.ndarray
    boundary: np.ndarray
    candidates: np.ndarray
    dictionary: np.ndarray

    def grid_labels(self, labels: np.ndarray) -> np.ndarray:
        out = np.full(len(self.grid), None, dtype=object)
        hit = self.grid >= 0
        out[hit] = labels[self.grid[hit]]
        return out

    def candidate_text(self) -> np.ndarray:
        out = np.full(len(self.candidates), "", dtype=object)
        hit = self.candidates >= 0
        out[hit] = self.dictionary[self.candidates[hit]]
        return out


def usable(lon: np.ndarray, lat: np.ndarray, index: GridIndex) -> np.ndarray:
    """Points with real coordinates near the grids: (0, 0), NaN and far-away points are not."""
    minx, miny, maxx, maxy = index.bounds
    with np.errstate(invalid="ignore"):
        return ((lon >= minx) & (lon <= maxx) & (lat >= miny) & (lat <= maxy)
                & ~((lon == 0) & (lat == 0)))


def locate_lonlat(index: GridIndex, lon, lat) -> Located:
    """Assign WGS 84 lon/lat arrays to grids."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    n = len(lon)
    grid = np.full(n, -1, dtype=np.int64)
    cand = np.full(n, -1, dtype=np.int64)
    boundary = np.zeros(n, dtype=bool)
    todo = np.flatnonzero(usable(lon, lat, index))
    owner = _fast(index, lon[todo], lat[todo])
    safe = owner >= 0
    grid[todo[safe]] = owner[safe]
    cand[todo[safe]] = owner[safe]
    rest = todo[~safe]
    extra = np.empty(0, dtype=object)
    if len(rest):
        g, flag, c, extra = _exact(index, lon[rest], lat[rest])
        grid[rest], boundary[rest], cand[rest] = g, flag, c
    dictionary = np.concatenate([index.labels, extra])
    return Located(grid, boundary, cand, dictionary)


def _bins(index: GridIndex, boxes: np.ndarray):
    """A lon/lat lattice fine enough that a grid's box covers a few bins."""
    minx, miny, maxx, maxy = index.bounds
    ok = np.isfinite(boxes[:, 0])
    w = np.median(boxes[ok, 2] - boxes[ok, 0]) / 3 if ok.any() else maxx - minx
    h = np.median(boxes[ok, 3] - boxes[ok, 1]) / 3 if ok.any() else maxy - miny
    w = max(w, (maxx - minx) / 4096, 1e-9)
    h = max(h, (maxy - miny) / 4096, 1e-9)
    nx = int((maxx - minx) / w) + 1
    ny = int((maxy - miny) / h) + 1
    while nx * ny > _MAX_BINS:
        nx, ny = (nx + 1) // 2, (ny + 1) // 2
    return minx, miny, (maxx - minx) / nx or 1.0, (maxy - miny) / ny or 1.0, nx, ny


def _fast(index: GridIndex, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Grid row whose safe region holds each point, else -1 (safe regions are disjoint)."""
    owner = np.full(len(lon), -1, dtype=np.int64)
    boxes = index.safe_boxes
    grids = np.flatnonzero(np.isfinite(boxes[:, 0]))
    if not len(lon) or not len(grids):
        return owner
    x0, y0, w, h, nx, ny = _bins(index, boxes)
    cell = (np.clip(((lat - y0) / h).astype(np.int64), 0, ny - 1) * nx
            + np.clip(((lon - x0) / w).astype(np.int64), 0, nx - 1))
    order = np.argsort(cell, kind="stable")
    starts = np.concatenate([[0], np.cumsum(np.bincount(cell, minlength=nx * ny))])
    c0, r0, c1, r1 = (np.clip(((boxes[grids, k] - o) / s).astype(np.int64), 0, m - 1)
                      for k, o, s, m in ((0, x0, w, nx), (1, y0, h, ny), (2, x0, w, nx),
                                         (3, y0, h, ny)))
    # One span of sorted points per (grid, bin row) under the grid's box ...
    g, r = _expand(r1 - r0 + 1)
    lo = starts[(r0[g] + r) * nx + c0[g]]
    hi = starts[(r0[g] + r) * nx + c1[g] + 1]
    # ... and one (grid, point) pair per point of each span, tested in one call.
    span, offset = _expand(hi - lo)
    pg = grids[g[span]]
    pt = order[lo[span] + offset]
    hit = shapely.contains_xy(index.safe[pg], lon[pt], lat[pt])
    owner[pt[hit]] = pg[hit]
    return owner


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For counts [2, 3]: owners [0, 0, 1, 1, 1] and positions [0, 1, 0, 1, 2]."""
    owner = np.repeat(np.arange(len(counts)), counts)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return owner, np.arange(len(owner)) - first[owner]


def _exact(index: GridIndex, lon: np.ndarray, lat: np.ndarray):
    """Candidates by true distance for points outside every safe region."""
    x, y = index.to_metric.transform(lon, lat)
    s = index.search + ON_EDGE_M
    pi, gj = index.tree.query(shapely.box(x - s, y - s, x + s, y + s))
    edge = shapely.distance(shapely.points(x[pi], y[pi]), index.boundaries[gj])
    inside = shapely.contains_xy(index.metric[gj], x[pi], y[pi])
    d = np.where(inside, 0.0, edge)
    keep = _within_tolerance(index, d, lon[pi], lat[pi])
    pi, gj, d, inside, edge = pi[keep], gj[keep], d[keep], inside[keep], edge[keep]
    rank = np.where(inside & (edge > ON_EDGE_M), 0, 1)  # 0: strictly inside
    d = np.where(d <= ON_EDGE_M, 0.0, d)
    # One candidate per key (a multi-row grid), the best of its rows.
    o = np.lexsort((d, rank, index.group[gj], pi))
    pi, gj, d, rank = pi[o], gj[o], d[o], rank[o]
    first = np.ones(len(pi), dtype=bool)
    first[1:] = (pi[1:] != pi[:-1]) | (index.group[gj[1:]] != index.group[gj[:-1]])
    pi, gj, d, rank = pi[first], gj[first], d[first], rank[first]
    # Candidate order: strictly inside, then by distance (0 on the boundary), then key.
    o = np.lexsort((index.rank[gj], d, rank, pi))
    pi, gj, d = pi[o], gj[o], d[o]
    return _summarise(index, len(lon), pi, gj, d)


def _within_tolerance(index: GridIndex, d, lon, lat) -> np.ndarray:
    """Projected distance ``d`` within the tolerance in true metres (scale at the point)."""
    k_lo, k_hi = index.scale
    tol = index.tolerance
    keep = (d <= tol * k_lo) | (d <= ON_EDGE_M)
    unsure = ~keep & (d <= tol * k_hi)
    if unsure.any():  # only where the scale factor can change the answer
        k = np.asarray(index.proj.get_factors(lon[unsure], lat[unsure]).meridional_scale)
        keep[unsure] = d[unsure] <= tol * k
    return keep


def _summarise(index: GridIndex, n: int, pi, gj, d):
    grid = np.full(n, -1, dtype=np.int64)
    boundary = np.zeros(n, dtype=bool)
    cand = np.full(n, -1, dtype=np.int64)
    if not len(pi):
        return grid, boundary, cand, np.empty(0, dtype=object)
    start = np.flatnonzero(np.r_[True, pi[1:] != pi[:-1]])
    count = np.diff(np.r_[start, len(pi)])
    who = pi[start]
    grid[who] = gj[start]
    boundary[who] = (count > 1) | (d[start] > 0)
    cand[who] = gj[start]
    multi = np.flatnonzero(count > 1)
    labels = index.labels[gj]
    extra = labels[start[multi]].copy()
    for k in range(1, int(count.max())):  # loop over list positions, not points
        more = count[multi] > k
        extra[more] = extra[more] + ";" + labels[start[multi[more]] + k]
    cand[who[multi]] = len(index.labels) + np.arange(len(multi))
    return grid, boundary, cand, extra
