"""Exact grouping of coarse atoms by set partitioning.

When the free atoms of a community are whole street blocks of a hundred households or
more, the connected groups of blocks that hold ``lo..hi`` households are few: they are
all enumerated (each connected set once, ESU-style extension with pruning by households)
and the cheapest exact cover is chosen with scipy's MILP solver (HiGHS). Grids made this
way never split a block, so every boundary stays on the streets; recursive bisection
(:mod:`.regions`) can miss such a cover when the blocks are coarse, and then blocks get
split between buildings although no split was needed.

A grid's price: one per grid (fewer, fuller grids), ``1 − Polsby–Popper`` (compact),
the squared miss of the target households (even), and the share of its outline off the
streets (only non-zero where atoms were already split between buildings).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_matrix

MAX_ATOMS = 150  # more atoms than this: the enumeration could explode, use bisection
MAX_VISITS = 60_000  # connected sets visited before giving up on the exact search
FINEST = 10  # atoms holding a tenth of the maximum or less are too fine to enumerate
FEW = 40  # ... unless there are only this many of them
TIME_LIMIT = 3.0  # seconds for the MILP solver
MAX_SETS = 4_000  # candidate grids handed to the solver: HiGHS took 270 s on 50,000
#                   (20 small blocks) whatever its time limit, so only each atom's cheapest go
PER_ATOM = 200  # ... the cheapest this many candidates holding each atom
WORTH_LISTING = 20_000  # estimated sets above which the enumeration is not started: it
#                        would cost seconds in Python to hand the solver MAX_SETS of them
PROBES = 48  # random descents estimating how many sets the enumeration would visit
WEIGHTS = {"grid": 1.0, "shape": 1.0, "balance": 0.5, "off_street": 2.0}


def connected_sets(nbrs, w, nodes, hi: float, cap: int = MAX_VISITS):
    """Every connected set of ``nodes`` holding at most ``hi`` households (weights ``w``),
    as sorted tuples, or None when there are more than ``cap``. ``nbrs``: adjacency dicts."""
    allowed = set(int(v) for v in nodes)
    out: list[tuple] = []

    def extend(sub, ext, weight, near, root):
        out.append(tuple(sorted(sub)))
        if len(out) > cap:
            raise OverflowError
        ext = list(ext)
        while ext:
            u = ext.pop()
            if weight + w[u] > hi:
                continue
            new = [x for x in nbrs[u] if x > root and x in allowed and x not in near]
            extend(sub | {u}, ext + new, weight + w[u], near | set(new), root)

    try:
        for v in sorted(allowed):
            if w[v] > hi:
                continue
            first = [x for x in nbrs[v] if x > v and x in allowed]
            extend({v}, first, w[v], {v, *first}, v)
    except OverflowError:
        return None
    return out


def estimated_sets(nbrs, w, nodes, hi: float, probes: int = PROBES, seed: int = 0) -> float:
    """About how many sets :func:`connected_sets` would visit, from random descents of
    its search tree (Knuth's estimator: the product of branching factors along a random
    path, summed over depths, is unbiased for the tree's size). A few hundred steps tell
    a search that would overflow before it spends ``MAX_VISITS`` finding out: with many
    small blocks per grid (census blocks of a few dozen households) every community used
    to pay that price and then fall back to bisection anyway."""
    allowed = set(int(v) for v in nodes)
    roots = [v for v in sorted(allowed) if w[v] <= hi]
    if not roots:
        return 0.0
    rng = np.random.default_rng(seed)
    total = 0.0
    for _ in range(probes):
        v = roots[int(rng.integers(len(roots)))]
        ext = [x for x in nbrs[v] if x > v and x in allowed]
        near, weight, scale = {v, *ext}, w[v], float(len(roots))
        est = scale
        while True:
            fit = [k for k, u in enumerate(ext) if weight + w[u] <= hi]
            if not fit:
                break
            k = fit[int(rng.integers(len(fit)))]
            u = ext[k]
            scale *= len(fit)
            est += scale
            new = [x for x in nbrs[u] if x > v and x in allowed and x not in near]
            ext, weight = ext[:k] + new, weight + w[u]
            near.update(new)
        total += est
    return total / probes


def set_prices(g, sets, target: float, lo: float, hi: float) -> np.ndarray:
    """The price of each candidate grid (see the module docstring)."""
    n = len(sets)
    size = np.array([len(s) for s in sets])
    rows = np.repeat(np.arange(n), size)
    members = np.concatenate([np.asarray(s) for s in sets])
    member = csr_matrix((np.ones(len(members)), (rows, members)), shape=(n, g.n))
    area, hh = member @ g.area, member @ g.w
    # an edge is inside a set when both ends are in it, leaves it when one is
    ends_i, ends_j = member[:, g.i], member[:, g.j]
    inside = ends_i.multiply(ends_j)
    leaving = ends_i + ends_j - 2 * inside
    perim = member @ g.perim - 2 * (inside @ g.length)
    extra = leaving @ np.maximum(g.cost - g.length, 0.0)  # off-street surcharge
    shape = 1 - 4 * np.pi * area / np.maximum(perim, 1e-9) ** 2
    balance = ((hh - target) / max(hi - lo, 1.0)) ** 2
    off = extra / np.maximum(3.0 * perim, 1e-9)
    return (WEIGHTS["grid"] + WEIGHTS["shape"] * shape + WEIGHTS["balance"] * balance
            + WEIGHTS["off_street"] * off)


def _runs_only(sets, origin, rank):
    """Keep the sets that take from every split block one run of consecutive strips."""
    keep = []
    for s in sets:
        o = origin[list(s)]
        if len(np.unique(o)) == len(o):
            keep.append(s)
            continue
        r = rank[list(s)]
        ok = all(np.ptp(r[o == b]) + 1 == (o == b).sum() for b in np.unique(o))
        if ok:
            keep.append(s)
    return keep


def exact_regions(g, nodes, lo: float, hi: float, target: float, origin=None, rank=None):
    """Labels 0..k-1 for ``nodes`` (−1 elsewhere) grouping whole atoms into connected
    grids of ``lo..hi`` households at the least price, or None when no such cover exists
    or the atoms are too many or too fine to enumerate. Atoms without households may stay
    unlabelled (they are attached to a neighbouring grid afterwards). With ``origin`` and
    ``rank`` (the block and strip number of each atom), a grid takes consecutive strips
    of a block only."""
    nodes = np.asarray(nodes)
    if len(nodes) > MAX_ATOMS or g.w[nodes].sum() < lo:
        return None
    loaded = g.w[nodes][g.w[nodes] > 0]
    if len(nodes) > FEW and np.median(loaded) < hi / FINEST:  # too many groups to list
        return None
    if estimated_sets(g.nbrs, g.w, nodes, hi) > WORTH_LISTING:
        return None  # the enumeration would overflow: do not pay for finding out
    sets = connected_sets(g.nbrs, g.w, nodes, hi)
    if not sets:
        return None
    hh = np.array([g.w[list(s)].sum() for s in sets])
    sets = [s for s, h in zip(sets, hh) if h >= lo]
    if origin is not None:
        sets = _runs_only(sets, np.asarray(origin), np.asarray(rank))
    if not sets:
        return None
    price = set_prices(g, sets, target, lo, hi)
    if len(sets) > MAX_SETS:
        keep = cheapest_per_atom(sets, price, PER_ATOM)
        sets, price = [sets[k] for k in keep], price[keep]
    return _solve(g, nodes, sets, price)


def cheapest_per_atom(sets, price, per_atom: int) -> np.ndarray:
    """Indices of the sets that are among the ``per_atom`` cheapest holding some atom:
    every atom keeps candidates (so a cover is still likely to exist) and the solver
    sees a few thousand columns instead of tens of thousands."""
    size = np.array([len(s) for s in sets])
    owner = np.repeat(np.arange(len(sets)), size)
    atom = np.concatenate([np.asarray(s) for s in sets])
    order = np.lexsort((price[owner], atom))  # by atom, cheapest first
    atom, owner = atom[order], owner[order]
    first = np.searchsorted(atom, atom, side="left")
    rank = np.arange(len(atom)) - first
    return np.unique(owner[rank < per_atom])


def _solve(g, nodes, sets, price):
    size = np.array([len(s) for s in sets])
    cols = np.repeat(np.arange(len(sets)), size)
    atoms = np.concatenate([np.asarray(s) for s in sets])
    pos = np.full(g.n, -1)
    pos[nodes] = np.arange(len(nodes))
    a = csr_matrix((np.ones(len(atoms)), (pos[atoms], cols)), shape=(len(nodes), len(sets)))
    loaded = g.w[nodes] > 0
    lower = np.where(loaded, 1.0, 0.0)  # every household in exactly one grid
    res = milp(price, constraints=LinearConstraint(a, lower, np.ones(len(nodes))),
               integrality=np.ones(len(sets)), bounds=Bounds(0, 1),
               options={"time_limit": TIME_LIMIT})
    if res.x is None:
        return None
    chosen = np.flatnonzero(res.x > 0.5)
    labels = np.full(g.n, -1)
    for k, c in enumerate(chosen):
        labels[list(sets[c])] = k
    if (labels[nodes[loaded]] < 0).any():
        return None
    return labels
