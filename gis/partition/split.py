"""Splitting street blocks between their buildings.

A block is split when it holds more households than one grid may, when it mixes an
exclusive compound with other buildings, or (on a second pass) when the grids around it
cannot meet their bounds with whole blocks. It is shared out between its buildings by
nearest outline (a Voronoi diagram of points along the walls, :func:`.cells.voronoi_cells`),
so every new line runs between buildings, never through one. Units of one group (one
compound) stay in one piece. The partitioner prices the new edges by how street-like
they are (:func:`gap_price`): a wide gap or an internal lane is cheap to cut along, a
narrow gap between two houses dear.
"""

from __future__ import annotations

import numpy as np
import shapely

from gis.partition.cells import compact, locate, union_by, voronoi_cells

GAP_REFERENCE = 8.0  # metres: a gap this wide between buildings costs the full off-street price
GAP_FLOOR = 0.35  # the cheapest a very wide gap gets, as a share of the off-street price


def _pieces(cell, geoms, points, keys):
    """Cells of one block: one per distinct key (Voronoi between unit outlines), each
    polygon part its own piece. Returns (pieces, index of the piece of each unit)."""
    sub = voronoi_cells(geoms, cell)
    uniq, inv = np.unique(keys, return_inverse=True)
    if len(uniq) < len(keys):
        full = ~shapely.is_empty(sub)
        sub = union_by(sub[full], inv[full], len(uniq))
    parts = shapely.get_parts(sub)
    parts = parts[shapely.area(parts) > 1e-6]
    return parts, locate(points, parts)


def split_cells(cells, unit_atom, geoms, points, which, keys=None):
    """Replace every cell where ``which`` is true and that holds units of at least two
    keys by pieces between its units (units sharing a key stay together).

    Returns the new cells, the atom of each unit and the original cell of each new cell.
    """
    cells = np.asarray(cells, dtype=object)
    keys = np.arange(len(geoms)) if keys is None else np.asarray(keys)
    ok = unit_atom >= 0
    where = np.where(ok, unit_atom, len(cells))
    order = np.argsort(where, kind="stable")
    bounds = np.searchsorted(where[order], np.arange(len(cells) + 1))
    unit_atom = unit_atom.copy()
    out, origin = [cells.copy()], [np.arange(len(cells))]
    n = len(cells)
    for a in np.flatnonzero(which):
        members = order[bounds[a]:bounds[a + 1]]
        if len(np.unique(keys[members])) < 2:
            continue
        parts, at = _pieces(cells[a], geoms[members], points[members], keys[members])
        out.append(parts)
        origin.append(np.full(len(parts), a))
        unit_atom[members] = np.where(at >= 0, n + at, -1)
        out[0][a] = shapely.Polygon()
        n += len(parts)
    new, origin = np.concatenate(out), np.concatenate(origin)
    keep = ~(shapely.is_empty(new) | (shapely.area(new) <= 1e-6))
    new, unit_atom2 = compact(new, unit_atom)
    lost = ok & (unit_atom2 < 0)
    unit_atom2[lost] = locate(points[lost], new)
    return new, unit_atom2, origin[keep]


def gap_price(i, j, owner, geoms) -> np.ndarray:
    """Share of the off-street price for cutting between atoms ``i`` and ``j``: below 1
    where each holds one unit and the gap between those units is wide (a passage)."""
    out = np.ones(len(i))
    both = (owner[i] >= 0) & (owner[j] >= 0)
    if both.any():
        gap = shapely.distance(geoms[owner[i][both]], geoms[owner[j][both]])
        out[both] = np.clip(GAP_REFERENCE / np.maximum(gap, 1e-3), GAP_FLOOR, 1.0)
    return out
