"""Candidate (box, point) pairs without building point geometries.

Points are sorted into a regular lattice of bins; each box (a grid's bounds) takes the
points of the bins it covers, and a plain numpy comparison keeps those inside the box.
Everything is vectorised over boxes and points, so a million points cost a few array
passes instead of a million tree queries on GEOS points.
"""

from __future__ import annotations

import numpy as np

_MAX_BINS = 1 << 22


def box_pairs(boxes: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(box, point)`` of every point inside (or on) every box.

    ``boxes`` is an (n, 4) array of minx, miny, maxx, maxy; rows with NaN are skipped.
    Pairs come grouped by box, which keeps a prepared geometry hot in the tests after.
    """
    ids = np.flatnonzero(np.isfinite(boxes).all(axis=1))
    if not len(x) or not len(ids):
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    b = boxes[ids]
    x0, y0, w, h, nx, ny = _lattice(b)
    cell = _index(y, y0, h, ny) * nx + _index(x, x0, w, nx)
    order = np.argsort(cell, kind="stable")
    starts = np.concatenate([[0], np.cumsum(np.bincount(cell, minlength=nx * ny))])
    c0, c1 = _index(b[:, 0], x0, w, nx), _index(b[:, 2], x0, w, nx)
    r0, r1 = _index(b[:, 1], y0, h, ny), _index(b[:, 3], y0, h, ny)
    # One span of sorted points per (box, bin row) under the box ...
    g, r = _expand(r1 - r0 + 1)
    lo = starts[(r0[g] + r) * nx + c0[g]]
    hi = starts[(r0[g] + r) * nx + c1[g] + 1]
    # ... then one pair per point of each span, kept when really inside the box.
    span, offset = _expand(hi - lo)
    box = g[span]
    pt = order[lo[span] + offset]
    px, py = x[pt], y[pt]
    keep = (px >= b[box, 0]) & (px <= b[box, 2]) & (py >= b[box, 1]) & (py <= b[box, 3])
    return ids[box[keep]], pt[keep]


def _lattice(b: np.ndarray):
    """Bins about a third of the median box, so that a box covers a few of them."""
    minx, miny = b[:, 0].min(), b[:, 1].min()
    maxx, maxy = b[:, 2].max(), b[:, 3].max()
    w = max(np.median(b[:, 2] - b[:, 0]) / 3, (maxx - minx) / 4096, 1e-9)
    h = max(np.median(b[:, 3] - b[:, 1]) / 3, (maxy - miny) / 4096, 1e-9)
    nx, ny = int((maxx - minx) / w) + 1, int((maxy - miny) / h) + 1
    while nx * ny > _MAX_BINS:
        nx, ny = (nx + 1) // 2, (ny + 1) // 2
    return minx, miny, max((maxx - minx) / nx, 1e-9), max((maxy - miny) / ny, 1e-9), nx, ny


def _index(v: np.ndarray, origin: float, size: float, n: int) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        i = np.floor((v - origin) / size)
    return np.clip(np.nan_to_num(i, nan=0.0), 0, n - 1).astype(np.int64)


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For counts [2, 3]: owners [0, 0, 1, 1, 1] and positions [0, 1, 0, 1, 2]."""
    owner = np.repeat(np.arange(len(counts)), counts)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return owner, np.arange(len(owner)) - first[owner]
