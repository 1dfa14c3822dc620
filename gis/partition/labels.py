"""Atoms and their grid labels: the atom graph (what cutting between two atoms costs),
the grids fixed before any search (exclusive compounds, over-full atoms), the note for a
group below the minimum, and renumbering. Below :mod:`.community`, :mod:`.streetcut` and
:mod:`.pockets`, which all build on them.

Examples
--------
>>> import numpy as np
>>> renumber(np.array([0, 2, 2]), ["basic", "exclusive", "basic"], [(2, "above_max", "big")])
(array([0, 1, 1]), ['basic', 'basic'], [(1, 'above_max', 'big')])
"""

from __future__ import annotations

import numpy as np
import shapely

from gis.partition.blocks import Atoms
from gis.partition.graph import OFF_STREET_COST, adjacency
from gis.partition.regions import Graph
from gis.partition.split import gap_price


def owners(atoms: Atoms) -> np.ndarray:
    """The unit of each atom holding exactly one unit (-1 for the others)."""
    ok = atoms.unit_atom >= 0
    count = np.bincount(atoms.unit_atom[ok], minlength=len(atoms.cells))
    out = np.full(len(atoms.cells), -1)
    out[atoms.unit_atom[ok]] = np.flatnonzero(ok)
    out[count != 1] = -1
    return out


def atom_graph(atoms: Atoms, geoms, roads) -> Graph:
    """The atom graph; cutting off street costs more, less across a wide gap."""
    edges = adjacency(atoms.cells, roads)
    price = gap_price(edges.i, edges.j, owners(atoms), np.asarray(geoms, dtype=object))
    if edges.street is None:
        cost = edges.length * price
    else:
        cost = edges.street + OFF_STREET_COST * (edges.length - edges.street) * price
    xy = shapely.get_coordinates(shapely.point_on_surface(atoms.cells))
    return Graph(atoms.households, xy, shapely.area(atoms.cells), shapely.length(atoms.cells),
                 edges.i, edges.j, cost, edges.length)


def fixed_grids(atoms: Atoms, excl_atom, hi):
    """Exclusive compounds and over-full atoms become grids of their own."""
    labels = np.full(len(atoms.cells), -1)
    kinds, notes = [], []
    for name in sorted({x for x in excl_atom if x is not None}):
        labels[excl_atom == name] = len(kinds)
        kinds.append("exclusive")
    over = np.flatnonzero((atoms.households > hi) & (labels < 0))
    for a in over:
        labels[a] = len(kinds)
        notes.append((len(kinds), "above_max", f"one indivisible unit of {atoms.households[a]:g} "
                      f"households (more than {hi:g})"))
        kinds.append("basic")
    return labels, kinds, notes


def below_min_note(grid: int, total: float, lo: float, *, alone: bool):
    """The note for a group of atoms below the minimum: the whole parent (``alone``) or
    an island cut off from the other grids."""
    short = f"{total:g} households, fewer than {lo:g}"
    if alone:
        return grid, "parent_below_min", f"{short}, in the whole parent"
    return grid, "island", f"{short}, cut off from other grids"


def renumber(labels, kinds, notes):
    """Drop unused grid labels, keeping kinds and notes in step."""
    used = np.unique(labels)
    remap = np.full(len(kinds), -1)
    remap[used] = np.arange(len(used))
    notes = [(int(remap[i]), rule, d) for i, rule, d in notes if remap[i] >= 0]
    return remap[labels], [kinds[i] for i in used], notes
