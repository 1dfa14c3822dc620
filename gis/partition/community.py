"""Cutting one community into grids.

Atoms are formed (:mod:`.blocks`; blocks mixing a compound with other buildings, or
holding more than the maximum, split between buildings by :mod:`.split`), exclusive
compounds and over-full single units become grids of their own, and each connected rest
is cut into balanced contiguous regions (:mod:`.regions`). Where whole street blocks
cannot meet the bounds, a second pass splits the blocks of the grids concerned and of
their neighbours between buildings and refines those grids only, so every other boundary
stays on the streets. Pockets of households cut off by compounds are then joined to a
neighbouring grid (:mod:`.pockets`).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from gis.coverage.overlay import GRID_SIZE_M
from gis.errors import InputError
from gis.partition.blocks import Atoms, build_atoms, per_atom
from gis.partition.cells import polygonal, union_by
from gis.partition.graph import components
from gis.partition.labels import atom_graph, below_min_note, fixed_grids, renumber
from gis.partition.pockets import join_pockets
from gis.partition.regions import Graph, balanced_regions, choose_k
from gis.partition.split import split_cells
from gis.partition.streetcut import street_cut

EXTRA_K_TRIES = 4  # when atoms are too coarse for k grids, try up to this many more


@dataclass
class Cut:
    """One community's grids before coding: a grid label per atom plus per-grid facts."""

    atoms: Atoms
    labels: np.ndarray
    kinds: list
    notes: list  # (grid index, rule, detail)


def cut_community(geoms, hh, excl, parent, roads, lo, hi, target, merge_small,
                  budget) -> Cut:
    """Grids of one community (metric CRS) from its units, compounds and roads."""
    geoms = np.asarray(geoms, dtype=object)
    blocks = build_atoms(geoms, hh, parent, roads, max_households=None, groups=excl)
    exact = street_cut(blocks, geoms, hh, excl, parent, roads, lo, hi, target)
    if exact is not None:
        atoms, g, labels, kinds, notes = exact
    else:
        atoms, g, labels, kinds, notes = _bisected(blocks, geoms, hh, excl, parent, roads,
                                                   lo, hi, target, budget)
    labels = attach_empty(g, labels, kinds)
    n_atoms = len(atoms.cells)
    atoms, g, labels, kinds, notes = join_pockets(atoms, g, labels, kinds, notes, geoms,
                                                  roads, lo, hi)
    if len(atoms.cells) > n_atoms:  # a pocket joined a grid: even out with its neighbours
        atoms, g, labels = _second_pass(atoms, g, labels, kinds, geoms, hh, roads, lo, hi,
                                        budget)
    if merge_small:
        labels, kinds, notes = merge_small_grids(g, labels, kinds, notes, lo, hi)
    return Cut(atoms, labels, kinds, notes)


def robust_cut(where: str, geoms, hh, excl, parent, roads, *args) -> Cut:
    """:func:`cut_community`, retried on a 1 mm precision grid (as :mod:`gis.coverage`
    does) when GEOS fails on near-degenerate input ("Unable to determine overlay result
    geometry dimension", "side location conflict", TopologyException); an error naming
    ``where`` (the community) if even that fails, never a traceback."""
    try:
        return cut_community(geoms, hh, excl, parent, roads, *args)
    except shapely.errors.GEOSException:
        pass
    snap = lambda g: shapely.set_precision(g, GRID_SIZE_M)  # noqa: E731
    try:
        return cut_community(snap(np.asarray(geoms, dtype=object)), hh, excl,
                             snap(parent), None if roads is None else snap(roads), *args)
    except shapely.errors.GEOSException as exc:
        raise InputError(f"{where}: GEOS cannot overlay these geometries even on a 1 mm "
                         f"grid ({exc}); check the units and roads there",
                         field="geometry") from exc


def _bisected(blocks, geoms, hh, excl, parent, roads, lo, hi, target, budget):
    """Blocks over the maximum split between buildings, regions by bisection, then the
    blocks of grids still out of bounds split too (see :func:`_second_pass`)."""
    atoms = blocks if blocks.mode != "faces" else \
        build_atoms(geoms, hh, parent, roads, max_households=hi, groups=excl)
    labels, kinds, notes = fixed_grids(atoms, per_atom(atoms, excl), hi)
    g = atom_graph(atoms, geoms, roads)
    labels = _free_regions(g, labels, kinds, notes, lo, hi, target, budget)
    if atoms.mode == "faces":
        atoms, g, labels = _second_pass(atoms, g, labels, kinds, geoms, hh, roads, lo, hi,
                                        budget)
    return atoms, g, labels, kinds, notes


def _free_regions(g: Graph, labels, kinds, notes, lo, hi, target, budget) -> np.ndarray:
    """Cut each connected group of free atoms into balanced regions (appends to ``kinds``
    and ``notes``)."""
    free = labels < 0
    _n, comp = components(g.n, g.i, g.j, free)
    groups = [np.flatnonzero(free & (comp == c)) for c in np.unique(comp[free])]
    loaded = [grp for grp in groups if g.w[grp].sum() > 0]
    for grp in sorted(loaded, key=lambda x: -g.w[x].sum()):
        total = float(g.w[grp].sum())
        share = budget * len(grp) / max(free.sum(), 1)
        sub, k = _regions(g, grp, total, lo, hi, target, share)
        labels[grp] = sub[grp] + len(kinds)
        if total < lo:
            notes.append(below_min_note(len(kinds), total, lo, alone=len(loaded) == 1
                                        and not kinds))
        kinds.extend(["basic"] * k)
    return labels


def _regions(g, grp, total, lo, hi, target, budget):
    """Labels for one connected group of atoms, and their number. When the atoms cannot
    be grouped into ``k`` grids within bounds (coarse blocks), more grids are tried."""
    k = choose_k(total, lo, hi, target)
    if k == 1:
        return np.where(np.isin(np.arange(g.n), grp), 0, -1), 1
    k_max = max(k, int(np.floor(total / lo)))
    best = None
    for kk in range(k, min(k_max, k + EXTRA_K_TRIES) + 1):
        sub = balanced_regions(g, grp, kk, lo, hi, time_budget=budget)
        h = np.bincount(sub[grp], g.w[grp], kk)
        viol = float(np.maximum(h - hi, 0).sum() + np.maximum(lo - h, 0).sum())
        if best is None or viol < best[0]:
            best = (viol, sub, kk)
        if viol == 0:
            break
    return best[1], best[2]


def _basic_heights(g: Graph, labels, kinds):
    basic = np.array([k == "basic" for k in kinds], dtype=bool)
    inside = labels >= 0
    return basic, np.bincount(labels[inside], g.w[inside], len(kinds))


def _grow(g: Graph, labels, mask, basic) -> np.ndarray:
    """``mask`` (bool per region) and the basic regions bordering it."""
    li, lj = labels[g.i], labels[g.j]
    touch = (li >= 0) & (lj >= 0) & (li != lj)
    out = mask.copy()
    out[lj[touch & mask[np.maximum(li, 0)]]] = True
    out[li[touch & mask[np.maximum(lj, 0)]]] = True
    return out & basic


SECOND_PASS_RINGS = 3  # neighbour rings drawn in, one more per round, while bounds are missed


def _second_pass(atoms: Atoms, g: Graph, labels, kinds, geoms, hh, roads, lo, hi, budget):
    """Split the blocks of grids missing their bounds, and of their neighbours, between
    buildings and refine those grids; draw in one more ring of neighbours while the
    bounds are still missed."""
    from gis.partition.refine import refine

    points = shapely.point_on_surface(geoms)
    for ring in range(1, SECOND_PASS_RINGS + 1):
        basic, h = _basic_heights(g, labels, kinds)
        near = basic & (h > 0) & ((h < lo) | (h > hi))
        if not near.any():
            break
        for _ in range(ring):
            near = _grow(g, labels, near, basic)
        which = (labels >= 0) & near[np.maximum(labels, 0)]
        cells, unit_atom, origin = split_cells(atoms.cells, atoms.unit_atom, geoms, points,
                                               which)
        if len(cells) > len(atoms.cells):
            cells = polygonal(cells)
            ok = unit_atom >= 0
            load = np.bincount(unit_atom[ok], weights=np.asarray(hh, dtype=float)[ok],
                               minlength=len(cells))
            atoms = Atoms(cells=cells, households=load, unit_atom=unit_atom, mode=atoms.mode)
            g, labels = atom_graph(atoms, geoms, roads), labels[origin]
        mine = (labels >= 0) & near[np.maximum(labels, 0)]
        refined = refine(g, np.where(mine, labels, -1), lo, hi, time_budget=budget / ring,
                         fix_only=True)
        labels = np.where(mine, refined, labels)
    return atoms, g, labels


def attach_empty(g: Graph, labels, kinds) -> np.ndarray:
    """Atoms left without a grid (no households, cut off) join the grid they border most;
    when there is none at all the whole parent becomes one grid."""
    labels = labels.copy()
    for _ in range(g.n):
        loose = np.flatnonzero(labels < 0)
        if not len(loose):
            break
        if len(kinds) == 0:
            labels[:] = 0
            kinds.append("basic")
            break
        moved = False
        for a in loose.tolist():
            border = {labels[b]: c for b, c in g.nbrs[a].items() if labels[b] >= 0}
            if border:
                labels[a] = max(border, key=border.get)
                moved = True
        if not moved:  # an empty island: nearest grid
            tree = shapely.STRtree(shapely.points(g.xy[labels >= 0]))
            near = tree.nearest(shapely.points(g.xy[loose]))
            labels[loose] = labels[labels >= 0][near]
    return labels


def merge_small_grids(g: Graph, labels, kinds, notes, lo, hi):
    """Basic grids below the minimum join the bordering basic grid with fewest households
    when the sum stays within the maximum."""
    h = np.bincount(labels, g.w, len(kinds))
    for r in np.argsort(h):
        if kinds[r] != "basic" or h[r] >= lo or h[r] == 0 and not (labels == r).any():
            continue
        border = {labels[b] for a in np.flatnonzero(labels == r) for b in g.nbrs[a]} - {r}
        cands = [s for s in border if kinds[s] == "basic" and h[s] + h[r] <= hi and h[s] > 0]
        if cands:
            s = min(cands, key=lambda x: h[x])
            labels[labels == r] = s
            h[s] += h[r]
            h[r] = 0
            notes = [(s if i == r else i, rule, d) for i, rule, d in notes
                     if not (i == r and rule in ("island", "parent_below_min"))]
    return renumber(labels, kinds, notes)


def grid_frame(cut: Cut, crs, community_code: str) -> gpd.GeoDataFrame:
    """The grids of a cut as a GeoDataFrame (kind, households, community_code)."""
    n = len(cut.kinds)
    geoms = polygonal(union_by(cut.atoms.cells, cut.labels, n))
    for k in np.flatnonzero(shapely.get_num_geometries(geoms) > 1):
        # pieces a hair apart (cells cut by different operations): snap them together
        snapped = polygonal([shapely.union_all(shapely.get_parts(geoms[k]), grid_size=1e-6)])[0]
        snapped = polygonal([snapped])[0]
        if shapely.get_num_geometries(snapped) < shapely.get_num_geometries(geoms[k]):
            geoms[k] = snapped
    hh = np.bincount(cut.labels, cut.atoms.households, n)
    return gpd.GeoDataFrame({"kind": cut.kinds, "households": hh,
                             "community_code": [community_code] * n},
                            geometry=list(geoms), crs=crs)
