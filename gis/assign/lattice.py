"""A lattice of small lon/lat bins that answers most points without any geometry test.

The safe regions of a :class:`~gis.assign.index.GridIndex` are disjoint polygons. Each
bin of a regular lattice over them gets a code, computed once per index:

* ``r >= 0``: the whole bin lies in safe region ``r`` (its point needs no test at all);
* ``-1``: the whole bin lies outside every safe region (its points take the exact path);
* ``-3 - r``: the boundary of region ``r`` crosses the bin, and at most one other
  region's boundary (kept in ``second``): one or two ``contains_xy`` tests decide;
* ``MULTI`` (``-2``): three or more boundaries cross the bin (a box search decides).

Bins are sized from the number of grids (about ``BINS_PER_GRID`` each), so that the build
stays a small part of the index while most points need at most one point-in-polygon test.
A bin is *crossed* when a boundary passes through its inside: it holds a vertex, or an
edge meets one of its sides (each meeting of an edge and a lattice line marks the bins on
both sides; rounding can only add marks, which merely cost a test). An uncrossed bin
lies wholly in one face of the safe regions' arrangement: the face of its centre, found
by scanline parity along each row of centres (half-open rule on edge ends, exact for
closed rings with holes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

MULTI = -2
BINS_PER_GRID = 64
_MAX_BINS = 1 << 22        # 32 MB of codes at most


@dataclass
class Lattice:
    """Bin codes (see the module notes) over ``nx`` × ``ny`` bins of ``w`` × ``h`` degrees."""

    x0: float
    y0: float
    w: float
    h: float
    nx: int
    ny: int
    code: np.ndarray    # int32 per bin, row-major (row = latitude)
    second: np.ndarray  # int32 per bin: the other region crossing it, or -1

    def lookup(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Each point's bin, -1 outside the lattice or without coordinates."""
        with np.errstate(invalid="ignore"):
            ix = np.floor((lon - self.x0) / self.w)
            iy = np.floor((lat - self.y0) / self.h)
            ok = (ix >= 0) & (ix < self.nx) & (iy >= 0) & (iy < self.ny)
        out = np.full(len(lon), -1, dtype=np.int64)
        out[ok] = iy[ok].astype(np.int64) * self.nx + ix[ok].astype(np.int64)
        return out

    def codes(self, bins: np.ndarray) -> np.ndarray:
        """Codes of ``bins`` (from :meth:`lookup`; -1, outside, for bin -1)."""
        return np.where(bins >= 0, self.code[bins], -1)


def build_lattice(safe: np.ndarray, boxes: np.ndarray, pool=None) -> Lattice | None:
    """The lattice of the (disjoint, lon/lat) polygons ``safe`` with bounds ``boxes``
    (its two halves of work on ``pool``'s thread and this one, when given)."""
    finite = np.isfinite(boxes).all(axis=1)
    if not finite.any():
        return None
    b = boxes[finite]
    minx, miny, maxx, maxy = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    n_bins = min(_MAX_BINS, BINS_PER_GRID * len(safe))
    coslat = max(np.cos(np.radians((miny + maxy) / 2)), 1e-6)
    h = max(np.sqrt((maxx - minx) * coslat * (maxy - miny) / max(n_bins, 1)), 1e-9)
    w = h / coslat  # square bins in metres
    nx, ny = int((maxx - minx) / w) + 1, int((maxy - miny) / h) + 1
    lattice = Lattice(float(minx), float(miny), float(w), float(h), nx, ny,
                      np.full(nx * ny, -1, dtype=np.int32), np.full(nx * ny, -1, dtype=np.int32))
    parts, part_of = shapely.get_parts(safe, return_index=True)  # multi-part regions
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    owner = part_of[ring_of]
    # Centres fill every code, crossed bins overwrite theirs: the second waits the first.
    crossed = _Crossed(lattice, rings, owner) if pool is None else \
        pool.submit(_Crossed, lattice, rings, owner)
    _fill_centres(lattice, rings, owner)
    (crossed if pool is None else crossed.result()).apply(lattice)
    return lattice


def _segments(rings: np.ndarray, owner: np.ndarray):
    """Start and end points of every ring edge, with the region that owns it."""
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[1:] == ring[:-1]
    return xy[:-1][same], xy[1:][same], owner[ring[:-1][same]]


def _bin(v: np.ndarray, origin: float, size: float, n: int) -> np.ndarray:
    return np.clip(np.floor((v - origin) / size), 0, n - 1).astype(np.int64)


class _Crossed:
    """The bins that boundaries cross (computed apart from the lattice's codes)."""

    def __init__(self, lat: Lattice, rings: np.ndarray, owner: np.ndarray):
        a, b, region = _segments(rings, owner)
        vertex = (_bin(a[:, 1], lat.y0, lat.h, lat.ny) * lat.nx
                  + _bin(a[:, 0], lat.x0, lat.w, lat.nx))
        bins, regs = [vertex], [region]
        for axis, origin, size, n in ((0, lat.x0, lat.w, lat.nx), (1, lat.y0, lat.h, lat.ny)):
            line, across, edge = _line_crossings(a, b, axis, origin, size)
            other = (lat.y0, lat.h, lat.ny) if axis == 0 else (lat.x0, lat.w, lat.nx)
            k = _bin(across, *other)
            for side in (line - 1, line):  # the bins on both sides of the line
                ok = (side >= 0) & (side < n)
                bins.append(k[ok] * lat.nx + side[ok] if axis == 0
                            else side[ok] * lat.nx + k[ok])
                regs.append(region[edge[ok]])
        bins, region = np.concatenate(bins), np.concatenate(regs).astype(np.int32)
        first = np.full(lat.nx * lat.ny, -1, dtype=np.int32)
        first[bins] = region  # one of the regions crossing each bin ...
        other = first[bins] != region
        self.second = np.full(lat.nx * lat.ny, -1, dtype=np.int32)
        self.second[bins[other]] = region[other]  # ... maybe another ...
        many = np.zeros(lat.nx * lat.ny, dtype=bool)
        many[bins[other & (self.second[bins] != region)]] = True  # ... and maybe more
        self.crossed = np.flatnonzero(first >= 0)
        self.codes = np.where(many[self.crossed], MULTI, -3 - first[self.crossed])

    def apply(self, lat: Lattice) -> None:
        lat.code[self.crossed] = self.codes
        lat.second = self.second


def _line_crossings(a: np.ndarray, b: np.ndarray, axis: int, origin: float, size: float):
    """Where edges a-b meet the lattice lines ``origin + i * size`` of one axis (ends
    included): the line number, the other coordinate there, and the edge."""
    lo, hi = np.minimum(a[:, axis], b[:, axis]), np.maximum(a[:, axis], b[:, axis])
    i0 = np.ceil((lo - origin) / size).astype(np.int64)
    count = np.maximum(np.floor((hi - origin) / size).astype(np.int64) - i0 + 1, 0)
    edge = np.repeat(np.arange(len(a)), count)
    line = i0[edge] + np.arange(len(edge)) - np.repeat(np.cumsum(count) - count, count)
    span = b[edge, axis] - a[edge, axis]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(span != 0, (origin + line * size - a[edge, axis]) / span, 0.0)
    across = a[edge, 1 - axis] + t * (b[edge, 1 - axis] - a[edge, 1 - axis])
    return line, across, edge


def _fill_centres(lat: Lattice, rings: np.ndarray, owner: np.ndarray) -> None:
    """Region holding each bin centre, by parity of edge crossings along each row."""
    a, b, region = _segments(rings, owner)
    lo, hi = np.minimum(a[:, 1], b[:, 1]), np.maximum(a[:, 1], b[:, 1])
    # Rows whose centre line y0 + (j + 0.5) h lies in [lo, hi) (horizontal edges: none).
    j0 = np.ceil((lo - lat.y0) / lat.h - 0.5).astype(np.int64)
    j1 = np.ceil((hi - lat.y0) / lat.h - 0.5).astype(np.int64)
    count = np.maximum(j1 - j0, 0)
    edge = np.repeat(np.arange(len(a)), count)
    row = j0[edge] + np.arange(len(edge)) - np.repeat(np.cumsum(count) - count, count)
    yc = lat.y0 + (row + 0.5) * lat.h
    t = (yc - a[edge, 1]) / (b[edge, 1] - a[edge, 1])
    x = a[edge, 0] + t * (b[edge, 0] - a[edge, 0])
    reg = region[edge]
    order = np.lexsort((x, reg, row))
    row, reg, x = row[order], reg[order], x[order]
    # Within one (row, region), crossings alternate: enter, leave, enter, leave...
    enter = np.flatnonzero(np.r_[True, (row[1:] != row[:-1]) | (reg[1:] != reg[:-1])])
    rank = np.arange(len(row)) - np.repeat(enter, np.diff(np.r_[enter, len(row)]))
    start = np.flatnonzero(rank % 2 == 0)
    start = start[start + 1 < len(row)]
    start = start[(row[start + 1] == row[start]) & (reg[start + 1] == reg[start])]
    c0 = np.clip(np.ceil((x[start] - lat.x0) / lat.w - 0.5), 0, lat.nx).astype(np.int64)
    c1 = np.clip(np.ceil((x[start + 1] - lat.x0) / lat.w - 0.5), 0, lat.nx).astype(np.int64)
    keep = (c1 > c0) & (row[start] >= 0) & (row[start] < lat.ny)
    base = row[start][keep] * lat.nx
    # Runs of one row are disjoint: paint them with a running sum of +value at each run's
    # first bin and -value past its last.
    value = reg[start][keep].astype(np.float64) + 1
    paint = np.bincount(np.r_[base + c0[keep], base + c1[keep]], weights=np.r_[value, -value],
                        minlength=lat.nx * lat.ny + 1)
    lat.code[:] = np.rint(np.cumsum(paint[:-1])).astype(np.int32) - 1
