"""Adjacency of polygons that tile an area: which pairs share an edge, how long it is, and
how much of it runs along a street. Used for atoms (to partition) and for grids (to
report)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

STREET_TOLERANCE = 3.0  # metres: a shared edge this close to a road line is on the street
OFF_STREET_COST = 4.0  # cutting one metre off street costs as much as four on it


@dataclass
class Edges:
    """Undirected edges ``i < j`` with shared boundary length and length on streets."""

    i: np.ndarray
    j: np.ndarray
    length: np.ndarray
    street: np.ndarray | None  # None when no roads were given

    @property
    def cost(self) -> np.ndarray:
        """Price of cutting each edge: metres, off-street metres weighted up."""
        if self.street is None:
            return self.length
        return self.street + OFF_STREET_COST * (self.length - self.street)


def shared_edges(polys) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of polygons sharing a boundary of positive length, and that boundary."""
    polys = np.asarray(polys, dtype=object)
    tree = shapely.STRtree(polys)
    i, j = tree.query(polys, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    bounds = shapely.boundary(polys)
    lines = shapely.intersection(bounds[i], bounds[j])
    length = shapely.length(lines)
    pos = length > 1e-6
    return i[pos], j[pos], lines[pos]


def street_length(lines, roads, tolerance: float = STREET_TOLERANCE) -> np.ndarray:
    """Length of each line lying within ``tolerance`` of a road."""
    out = np.zeros(len(lines))
    roads = np.asarray(roads, dtype=object)
    if not len(lines) or not len(roads):
        return out
    zones = shapely.buffer(roads, tolerance, cap_style="flat")
    tree = shapely.STRtree(zones)
    li, ri = tree.query(lines, predicate="intersects")
    if len(li):
        part = shapely.length(shapely.intersection(lines[li], zones[ri]))
        np.add.at(out, li, part)
    return np.minimum(out, shapely.length(lines))


def adjacency(polys, roads=None) -> Edges:
    """Edges between polygons that share a boundary, with street length when roads given."""
    i, j, lines = shared_edges(polys)
    street = None if roads is None else street_length(lines, roads)
    return Edges(i=i, j=j, length=shapely.length(lines), street=street)


def components(n: int, i, j, mask=None) -> tuple[int, np.ndarray]:
    """Connected components of the graph restricted to nodes where ``mask`` is true
    (labels of masked-out nodes are meaningless)."""
    if mask is not None:
        keep = mask[i] & mask[j]
        i, j = i[keep], j[keep]
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    return connected_components(graph, directed=False)
