"""Distances from points to grid boundaries in numpy, for grids of few vertices.

A grid of a few dozen vertices costs GEOS more in per-call overhead than in geometry:
``shapely.distance`` on a (grid, point) pair is a function call, a point geometry and a
walk over the rings. Here every pair is expanded over the grid's ring edges and the
point-segment distances are computed in a few array passes, then reduced to a minimum
per pair. Large grids (police areas of thousands of vertices) keep GEOS' indexed,
prepared path, where this expansion would be quadratic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

_BATCH = 1 << 18  # (pair, edge) evaluations per pass: ~20 MB of temporary arrays


@dataclass
class Edges:
    """The ring edges of the small grids, grouped by grid row (``count`` 0 for others)."""

    start: np.ndarray
    count: np.ndarray
    ax: np.ndarray
    ay: np.ndarray
    bx: np.ndarray
    by: np.ndarray


def grid_edges(geoms: np.ndarray, small: np.ndarray) -> Edges:
    """Edges of every ring (exterior and holes, every part) of ``geoms[small]``."""
    rows = np.flatnonzero(small)
    parts, part_of = shapely.get_parts(geoms[rows], return_index=True)
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[1:] == ring[:-1]  # consecutive vertices of one ring make an edge
    owner = rows[part_of[ring_of[ring[:-1][same]]]]  # sorted: parts and rings keep order
    count = np.bincount(owner, minlength=len(geoms))
    start = np.cumsum(count) - count
    a, b = xy[:-1][same], xy[1:][same]
    return Edges(start, count, a[:, 0].copy(), a[:, 1].copy(), b[:, 0].copy(), b[:, 1].copy())


def boundary_distance(edges: Edges, grid: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Distance from each point (x, y) to the boundary of its paired grid row ``grid``
    (a small grid: ``edges.count[grid] > 0``)."""
    out = np.empty(len(grid))
    count = edges.count[grid]
    ends = np.cumsum(count)
    first = 0
    while first < len(grid):
        last = max(int(np.searchsorted(ends, ends[first] - count[first] + _BATCH)), first + 1)
        out[first:last] = _distances(edges, grid[first:last], x[first:last], y[first:last])
        first = last
    return out


def _distances(edges: Edges, grid, x, y) -> np.ndarray:
    count = edges.count[grid]
    pair = np.repeat(np.arange(len(grid)), count)
    offset = np.cumsum(count) - count
    e = edges.start[grid][pair] + np.arange(len(pair)) - offset[pair]
    ax, ay = edges.ax[e], edges.ay[e]
    dx, dy = edges.bx[e] - ax, edges.by[e] - ay
    px, py = x[pair] - ax, y[pair] - ay
    length2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.clip(np.where(length2 > 0, (px * dx + py * dy) / length2, 0.0), 0.0, 1.0)
    d2 = (px - t * dx) ** 2 + (py - t * dy) ** 2
    return np.sqrt(np.minimum.reduceat(d2, offset))
