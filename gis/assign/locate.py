"""Locating lon/lat arrays in a :class:`~gis.assign.index.GridIndex` (rules in :mod:`gis.assign`).

Two paths, both vectorised over points:

* fast: (safe region, point) pairs come from boxes (:mod:`gis.assign.pairs`) and are
  tested in one ``shapely.contains_xy`` call on the prepared safe regions; no point
  geometry is built.
* exact: the rest (near a boundary, outside every grid, or in a grid too thin to have a
  safe region) is projected to the metric CRS; pairs with every grid whose box is within
  the search distance get their distance to the grid's boundary and an inside test,
  which decide candidates and their order.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import shapely

from gis.assign.edges import boundary_distance
from gis.assign.index import GridIndex
from gis.assign.lattice import MULTI
from gis.assign.pairs import box_pairs

ON_EDGE_M = 0.001  # a point this close to a grid's boundary is *on* it (see gis.assign)
_MIN_PART = 50_000  # fewer points per thread are not worth a thread
NO_POINT = -2  # locate_safe: no usable coordinates


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


def locate_lonlat(index: GridIndex, lon, lat, *, workers: int = 1) -> Located:
    """Assign WGS 84 lon/lat arrays to grids.

    Large inputs may be split between ``workers`` threads: GEOS and numpy release the
    GIL, so the parts run in parallel, each on its own copy of the prepared geometries
    (:meth:`GridIndex.replicas`). One by default: on a shared two-core machine a second
    thread cost more than it gave (1M points: 0.65 s alone, 1.0 s on two threads).
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    workers = max(1, workers)
    parts = max(1, min(workers, len(lon) // _MIN_PART))
    if parts == 1:
        grid, boundary, cand, extra = _locate(index, lon, lat)
    else:
        cuts = np.array_split(np.arange(len(lon)), parts)
        own = index.replicas(parts)  # one set of prepared geometries per thread
        with ThreadPoolExecutor(parts) as pool:
            done = list(pool.map(lambda k: _locate(own[k], lon[cuts[k]], lat[cuts[k]]),
                                 range(parts)))
        grid, boundary, cand, extra = _merge(done, len(index.labels))
    return Located(grid, boundary, cand, np.concatenate([index.labels, extra]))


def _merge(parts, n_labels: int):
    """Join per-part results; candidate codes past the labels shift by earlier extras."""
    shift, cands = 0, []
    for _, _, cand, extra in parts:
        cands.append(np.where(cand >= n_labels, cand + shift, cand))
        shift += len(extra)
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            np.concatenate(cands), np.concatenate([p[3] for p in parts]))


def locate_safe(index: GridIndex, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """First stage: the grid row of each point in a safe region, -1 for points that need
    :func:`locate_rest`, ``NO_POINT`` for points without usable coordinates.

    The stages use different prepared geometries (safe regions here, grids there), so a
    pipeline may run the second stage of one batch while the first runs on the next.
    """
    owner = np.full(len(lon), NO_POINT, dtype=np.int64)
    todo = np.flatnonzero(usable(lon, lat, index))
    owner[todo] = _fast(index, lon[todo], lat[todo])
    return owner


def locate_rest(index: GridIndex, lon: np.ndarray, lat: np.ndarray,
                owner: np.ndarray) -> Located:
    """Second stage: exact candidates of the points :func:`locate_safe` left (-1)."""
    grid, boundary, cand, extra = _finish(index, lon, lat, owner)
    return Located(grid, boundary, cand, np.concatenate([index.labels, extra]))


def _locate(index: GridIndex, lon: np.ndarray, lat: np.ndarray):
    return _finish(index, lon, lat, locate_safe(index, lon, lat))


def _finish(index: GridIndex, lon: np.ndarray, lat: np.ndarray, owner: np.ndarray):
    grid = np.where(owner >= 0, owner, -1)
    cand = grid.copy()
    boundary = np.zeros(len(lon), dtype=bool)
    rest = np.flatnonzero(owner == -1)
    extra = np.empty(0, dtype=object)
    if len(rest):
        g, flag, c, extra = _exact(index, lon[rest], lat[rest])
        grid[rest], boundary[rest], cand[rest] = g, flag, c
    return grid, boundary, cand, extra


def _fast(index: GridIndex, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Grid row whose safe region holds each point, else -1 (safe regions are disjoint).

    The lattice answers points in bins wholly inside or outside the safe regions; a point
    in a bin crossed by one or two regions' boundaries takes a test against each, the
    few others (bins at triple junctions) a box search.
    """
    if index.lattice is None:
        return _searched(index, lon, lat)
    bins = index.lattice.lookup(lon, lat)
    code = index.lattice.codes(bins)
    owner = np.where(code >= 0, code, -1).astype(np.int64)
    tested = np.flatnonzero(code <= -3)
    _test(index, owner, tested, -3 - code[tested], lon, lat)
    second = index.lattice.second[bins[tested]]
    again = tested[(owner[tested] < 0) & (second >= 0)]
    _test(index, owner, again, index.lattice.second[bins[again]], lon, lat)
    many = np.flatnonzero(code == MULTI)
    owner[many] = _searched(index, lon[many], lat[many])
    return owner


def _test(index: GridIndex, owner, points, regions, lon, lat) -> None:
    # Grouped by region, each prepared geometry's index stays in the CPU cache: three
    # times faster than testing in point order.
    order = np.argsort(regions, kind="stable")
    points, regions = points[order], regions[order]
    hit = shapely.contains_xy(index.safe[regions], lon[points], lat[points])
    owner[points[hit]] = regions[hit]


def _searched(index: GridIndex, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    owner = np.full(len(lon), -1, dtype=np.int64)
    g, p = box_pairs(index.safe_boxes, lon, lat)
    hit = shapely.contains_xy(index.safe[g], lon[p], lat[p])
    owner[p[hit]] = g[hit]
    return owner


def _exact(index: GridIndex, lon: np.ndarray, lat: np.ndarray):
    """Candidates by true distance for points outside every safe region."""
    x, y = index.to_metric.transform(lon, lat)
    s = index.search + ON_EDGE_M
    gj, pi = box_pairs(index.metric_boxes + np.array([-s, -s, s, s]), x, y)
    inside = shapely.contains_xy(index.metric[gj], x[pi], y[pi])  # prepared: indexed
    d, edge = _distances(index, gj, pi, x, y, inside, s)
    keep = _within_tolerance(index, d, lon[pi], lat[pi])
    pi, gj, d, inside, edge = pi[keep], gj[keep], d[keep], inside[keep], edge[keep]
    rank = np.where(inside & ~edge, 0, 1)  # 0: strictly inside
    d = np.where(d <= ON_EDGE_M, 0.0, d)
    if len(index.group) and index.group.max() + 1 < len(index.group):
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


def _distances(index: GridIndex, gj, pi, x, y, inside, s):
    """Per (grid, point) pair: the distance (0 inside; inf when surely beyond ``s``) and
    whether an inside point lies within ON_EDGE_M of the boundary.

    Small grids in numpy (:mod:`gis.assign.edges`); large grids (police areas of
    100,000 vertices) through GEOS' indexed, prepared predicates, the far outside pairs
    dropped first since a plain distance is linear in vertices.
    """
    d = np.full(len(gj), np.inf)
    edge = np.zeros(len(gj), dtype=bool)
    small = index.edges.count[gj] > 0
    to_edge = boundary_distance(index.edges, gj[small], x[pi[small]], y[pi[small]])
    d[small] = np.where(inside[small], 0.0, to_edge)
    edge[small] = inside[small] & (to_edge <= ON_EDGE_M)
    large = np.flatnonzero(~small)
    if len(large):
        g, pts, ins = gj[large], shapely.points(x[pi[large]], y[pi[large]]), inside[large]
        near = ~ins
        near[near] = shapely.dwithin(index.metric[g[near]], pts[near], s)
        d[large[ins]] = 0.0
        d[large[near]] = shapely.distance(index.metric[g[near]], pts[near])
        edge[large[ins]] = shapely.dwithin(index.boundaries[g[ins]], pts[ins], ON_EDGE_M)
    return d, edge


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
