"""Pockets of households cut off from the other grids by exclusive compounds.

A compound kept whole as an exclusive grid can wall a few ordinary buildings off from
the rest of the community (a corner block behind two compounds). Left alone the pocket
would be a grid far below the minimum. Instead a narrow corridor is taken from the
compound's grid along its outline (its streets, clear of its buildings) to the nearest
basic grid on the other side, and the pocket joins that grid through it: the compound
keeps every building, the pocket is no orphan, and every grid stays contiguous.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.ops import substring

from gis.partition.blocks import Atoms
from gis.partition.cells import polygonal, union_by
from gis.partition.labels import atom_graph, renumber

CORRIDOR_WIDTH = 2.5  # metres each side of the compound's outline (within street tolerance)
CLEARANCE = 1.0  # metres the corridor keeps off the compound's buildings


def _region_nbrs(g, labels) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    li, lj = labels[g.i], labels[g.j]
    for a, b in zip(li[li != lj].tolist(), lj[li != lj].tolist()):
        out.setdefault(a, set()).add(b)
        out.setdefault(b, set()).add(a)
    return out


def _arc(ring, p, q):
    """The shorter way along ``ring`` (a closed line) from point ``p`` to point ``q``."""
    length = ring.length
    a, b = sorted((ring.project(p), ring.project(q)))
    inner = substring(ring, a, b)
    outer = shapely.union(substring(ring, b, length), substring(ring, 0, a))
    return [inner, shapely.line_merge(outer)] if inner.length <= length - inner.length \
        else [shapely.line_merge(outer), inner]


def corridor(excl, pocket, other, buildings):
    """A strip of ``excl`` along its outline joining ``pocket`` to ``other`` that stays
    clear of ``buildings``; None when there is no such strip."""
    touch_p = shapely.intersection(excl.boundary, pocket.boundary)
    touch_o = shapely.intersection(excl.boundary, other.boundary)
    if touch_p.length <= 0 or touch_o.length <= 0:
        return None
    p, q = shapely.shortest_line(touch_p, touch_o).coords
    shell = max(shapely.get_parts(excl), key=lambda x: x.area).exterior
    keep_off = shapely.buffer(shapely.union_all(buildings), CLEARANCE) if len(buildings) else None
    # the ends run a few metres along the shared edges so the corridor meets both grids
    # along a line, not at a corner point
    ends = shapely.union(shapely.intersection(touch_p, shapely.buffer(shapely.Point(p), 8.0)),
                         shapely.intersection(touch_o, shapely.buffer(shapely.Point(q), 8.0)))
    for path in _arc(shell, shapely.Point(p), shapely.Point(q)):
        strip = shapely.intersection(shapely.buffer(shapely.union(path, ends), CORRIDOR_WIDTH,
                                                    cap_style="flat"), excl)
        strip = polygonal([strip])[0]
        if keep_off is not None and shapely.intersects(strip, keep_off):
            continue
        rest = polygonal([shapely.difference(excl, strip)])[0]
        if shapely.get_num_geometries(rest) == 1 and rest.area > 0:
            return strip
    return None


def _pockets(g, labels, kinds, lo):
    """Basic regions below the minimum with no basic neighbour, while other basic
    regions exist."""
    h = np.bincount(labels, g.w, len(kinds))
    basic = [r for r in range(len(kinds)) if kinds[r] == "basic" and h[r] > 0]
    if len(basic) < 2:
        return [], {}
    nbrs = _region_nbrs(g, labels)
    out = [r for r in basic if h[r] < lo and not any(
        kinds[s] == "basic" for s in nbrs.get(r, ()))]
    return out, nbrs


def join_pockets(atoms: Atoms, g, labels, kinds, notes, geoms, roads, lo, hi):
    """Join each pocket to a basic grid through a corridor in a bordering exclusive grid.
    Returns atoms, graph, labels, kinds and notes (renumbered)."""
    pockets, nbrs = _pockets(g, labels, kinds, lo)
    if not pockets:
        return atoms, g, labels, kinds, notes
    h = np.bincount(labels, g.w, len(kinds))
    grids = union_by(atoms.cells, labels, len(kinds))
    cells, labels = list(atoms.cells), labels.copy()
    joined = set()
    for r in pockets:
        found = _find(r, nbrs, kinds, h, grids, atoms, geoms, hi)
        if found is None:
            continue
        e, s, strip = found
        for a in np.flatnonzero(labels == e):
            piece = shapely.intersection(cells[a], strip)
            if piece.area > 1e-6:
                cells[a] = polygonal([shapely.difference(cells[a], strip)])[0]
        cells.append(strip)
        labels = np.append(labels, s)
        labels[labels == r] = s
        grids[e] = shapely.difference(grids[e], strip)
        h[s] += h[r]
        joined.add(r)
    if not joined:
        return atoms, g, labels, kinds, notes
    n_new = len(cells) - len(atoms.cells)
    fine = Atoms(cells=np.asarray(polygonal(np.array(cells, dtype=object))),
                 households=np.append(atoms.households, np.zeros(n_new)),
                 unit_atom=atoms.unit_atom, mode=atoms.mode)
    notes = [(i, rule, d) for i, rule, d in notes if i not in joined]
    labels, kinds, notes = renumber(labels, kinds, notes)
    return fine, atom_graph(fine, geoms, roads), labels, kinds, notes


def _find(r, nbrs, kinds, h, grids, atoms, geoms, hi):
    """(exclusive grid, basic grid, corridor) for pocket ``r``: the basic grid with the
    fewest households that the pocket can reach through one exclusive grid."""
    options = []
    for e in nbrs.get(r, ()):
        if kinds[e] != "exclusive":
            continue
        for s in nbrs.get(e, ()):
            if s != r and kinds[s] == "basic":
                options.append((h[s] + h[r] > hi, h[s], e, s))
    ok = atoms.unit_atom >= 0
    for _over, _h, e, s in sorted(options):
        inside = shapely.intersects(geoms, grids[e]) & ok
        strip = corridor(grids[e], grids[r], grids[s], geoms[inside])
        if strip is not None:
            return e, s, strip
    return None
