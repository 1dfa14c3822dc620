"""Splitting a street block that holds more households than one grid may.

The block is shared out between its buildings by nearest outline (a Voronoi diagram of
points along the building walls), so every line inside it runs between buildings, never
through one. The partitioner then sees the pieces as atoms whose mutual edges are off
street and cost more to cut, so it cuts a block only where it must, and along the
shortest line between buildings it can find.
"""

from __future__ import annotations

import numpy as np
import shapely

from gis.partition.blocks import compact, locate, voronoi_cells


def split_overfull(cells, unit_atom, households, geoms, points, max_households):
    """Replace each cell holding more than ``max_households`` (and at least two units) by
    one cell per unit. Returns the new cells and the atom of each unit."""
    cells = np.asarray(cells, dtype=object).copy()
    ok = unit_atom >= 0
    load = np.bincount(unit_atom[ok], weights=households[ok], minlength=len(cells))
    over = np.flatnonzero(load > max_households)
    if not len(over):
        return cells, unit_atom
    unit_atom = unit_atom.copy()
    pieces = [cells]
    n = len(cells)
    for a in over:
        members = np.flatnonzero(unit_atom == a)
        if len(members) < 2:
            continue
        sub = voronoi_cells(geoms[members], cells[a])
        pieces.append(sub)
        unit_atom[members] = n + np.arange(len(members))
        cells[a] = shapely.Polygon()
        n += len(members)
    cells = np.concatenate(pieces)
    cells, unit_atom = compact(cells, unit_atom)
    lost = ok & (unit_atom < 0)
    unit_atom[lost] = locate(points[lost], cells)
    return cells, unit_atom

