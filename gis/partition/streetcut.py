"""Grids of whole street blocks, or of whole blocks and straight strips of blocks.

The first thing tried for a community with roads: every block kept whole (only blocks
over the maximum cut into strips, :mod:`.strips`), and the cheapest exact cover of
connected block groups within the bounds chosen (:mod:`.exact`). When whole blocks
cannot meet the bounds, every block with households may be cut into strips along the
gaps between its building rows and the search is run again. Only when neither works
(or the community is too large to enumerate) does the partitioner fall back to
bisection over blocks split between single buildings (:mod:`.community`).
"""

from __future__ import annotations

import numpy as np

from gis.partition.blocks import Atoms, build_atoms, per_atom
from gis.partition.exact import MAX_ATOMS, exact_regions
from gis.partition.graph import components
from gis.partition.labels import atom_graph, below_min_note, fixed_grids
from gis.partition.regions import choose_k
from gis.partition.strips import strip_atoms

STRIP_ALL_FROM = 100.0  # households: smaller blocks are never worth splitting


def _stripped(atoms: Atoms, geoms, hh, excl_atom, which, span, roads):
    cells, unit_atom, origin, rank = strip_atoms(atoms.cells, atoms.unit_atom, geoms, hh,
                                                 which, span, roads)
    ok = unit_atom >= 0
    load = np.bincount(unit_atom[ok], weights=np.asarray(hh, dtype=float)[ok],
                       minlength=len(cells))
    return Atoms(cells=cells, households=load, unit_atom=unit_atom, mode=atoms.mode), \
        excl_atom[origin], origin, rank


def _exact_free(g, labels, kinds, notes, lo, hi, target, origin, rank):
    """Like :func:`.community._free_regions`, exactly; None when a group that could meet
    the bounds finds no exact cover."""
    free = labels < 0
    _n, comp = components(g.n, g.i, g.j, free)
    groups = [np.flatnonzero(free & (comp == c)) for c in np.unique(comp[free])]
    loaded = [grp for grp in groups if g.w[grp].sum() > 0]
    for grp in sorted(loaded, key=lambda x: -g.w[x].sum()):
        total = float(g.w[grp].sum())
        k = choose_k(total, lo, hi, target)
        sub = np.zeros(g.n, dtype=int)
        if k > 1:
            sub = exact_regions(g, grp, lo, hi, target, origin, rank)
            if sub is None:
                return None
            k = int(sub[grp].max()) + 1
        labels[grp] = np.where(sub[grp] >= 0, sub[grp] + len(kinds), -1)
        if total < lo:
            notes.append(below_min_note(len(kinds), total, lo, alone=len(loaded) == 1
                                        and not kinds))
        kinds.extend(["basic"] * k)
    return labels


def _crowded(atoms, excl_atom, hi) -> bool:
    """Whether an ordinary atom over the maximum still holds several units (it must be
    cut finer: only a single unit may stand alone above the maximum)."""
    ok = atoms.unit_atom >= 0
    units = np.bincount(atoms.unit_atom[ok], minlength=len(atoms.cells))
    plain = np.array([x is None for x in excl_atom])
    return bool((plain & (atoms.households > hi) & (units > 1)).any())


def _tiers(atoms, geoms, hh, excl_atom, lo, hi, roads):
    """Atom sets to search, coarse first: whole blocks (only those over the maximum in
    strips), every block with households in strips, every block split between its
    buildings. Yields (atoms, exclusive name per atom, origin, rank)."""
    plain = (atoms.households > 0) & np.array([x is None for x in excl_atom])
    for which in (plain & (atoms.households > hi), plain & (atoms.households >= STRIP_ALL_FROM)):
        yield _stripped(atoms, geoms, hh, excl_atom, which, hi - lo, roads)


def _search(cut, excl_cut, geoms, roads, lo, hi, target, origin=None, rank=None):
    """(atoms, graph, labels, kinds, notes) for one set of atoms, or None."""
    labels, kinds, notes = fixed_grids(cut, excl_cut, hi)
    g = atom_graph(cut, geoms, roads)
    labels = _exact_free(g, labels, kinds, notes, lo, hi, target, origin, rank)
    return None if labels is None else (cut, g, labels, kinds, notes)


def street_cut(atoms, geoms, hh, excl, parent, roads, lo, hi, target):
    """(atoms, graph, labels, kinds, notes) of grids made of whole blocks, straight strips
    of blocks or, failing those, buildings, found exactly; None when the bounds cannot be
    met that way or the community is too large to search. ``atoms``: the blocks (street
    faces not split for being over the maximum)."""
    hh = np.asarray(hh, dtype=float)
    if atoms.mode == "voronoi" or len(atoms.cells) > MAX_ATOMS * 4:
        return None
    excl_atom = per_atom(atoms, excl)
    seen = -1
    for cut, excl_cut, origin, rank in _tiers(atoms, geoms, hh, excl_atom, lo, hi, roads):
        if _crowded(cut, excl_cut, hi) or len(cut.cells) == seen:
            continue  # cut too coarse, or no finer than the tier before
        seen = len(cut.cells)
        found = _search(cut, excl_cut, geoms, roads, lo, hi, target, origin, rank)
        if found is not None:
            return found
    if atoms.mode != "faces":
        return None
    for split_above in (hi, 0):  # over-full blocks between their buildings, then all blocks
        fine = build_atoms(geoms, hh, parent, roads, max_households=split_above, groups=excl)
        excl_fine = per_atom(fine, excl)
        if len(fine.cells) > MAX_ATOMS or _crowded(fine, excl_fine, hi):
            continue
        found = _search(fine, excl_fine, geoms, roads, lo, hi, target)
        if found is not None:
            return found
    return None
