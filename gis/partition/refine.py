"""Local refinement of regions by moving single boundary atoms.

The objective per region is ``BIG·(households outside [lo, hi]) + α·((H - ideal)/ideal)² +
P²/(4π·A)``: bounds dominate, then evenness, then the inverse Polsby–Popper score (P is
the priced perimeter, off-street metres dearer, so a boundary prefers streets). A move
of atom ``a`` from region R to S changes only R and S, and their perimeters by
``-L_a + 2·c(a,R)`` and ``+L_a - 2·c(a,S)`` (``L_a`` a's priced outline, ``c(a,X)`` its
priced edge with X), so each candidate is priced in O(degree). A move is made only when
it lowers the objective and leaves R connected, so the search ends.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np

BIG = 10.0  # per household outside the bounds: bounds come first
ALPHA_FIX = 4.0  # evenness weight while bounds are violated: pushes households to slack
ALPHA = 0.5  # evenness weight afterwards: compactness leads
MAX_SWEEPS = 40
_INV_4PI = 1.0 / (4.0 * np.pi)


class _State:
    def __init__(self, g, labels, lo, hi):
        self.g, self.lo, self.hi = g, lo, hi
        self.lab = labels.tolist()
        ids = sorted(set(x for x in self.lab if x >= 0))
        self.members: dict[int, set[int]] = {r: set() for r in ids}
        for a, r in enumerate(self.lab):
            if r >= 0:
                self.members[r].add(a)
        self.h = {r: float(g.w[list(m)].sum()) for r, m in self.members.items()}
        self.area = {r: float(g.area[list(m)].sum()) for r, m in self.members.items()}
        self.len_a = [g.outer[a] + sum(g.nbrs[a].values()) for a in range(g.n)]
        self.p = {r: 0.0 for r in ids}
        for a, r in enumerate(self.lab):
            if r >= 0:
                self.p[r] += g.outer[a] + sum(c for b, c in g.nbrs[a].items() if self.lab[b] != r)
        self.ideal = sum(self.h.values()) / max(len(ids), 1)
        self.inv_ideal = 1.0 / max(self.ideal, 1e-9)
        self.alpha = ALPHA
        self.fix_only = False

    def fixes(self, a: int, s: int) -> bool:
        """Whether moving atom ``a`` to region ``s`` lowers the bounds violation."""
        r, w = self.lab[a], float(self.g.w[a])
        return _viol(self, self.h[r] - w) + _viol(self, self.h[s] + w) < \
            _viol(self, self.h[r]) + _viol(self, self.h[s]) - 1e-9

    def f(self, h, area, p) -> float:
        viol = h - self.hi if h > self.hi else (self.lo - h if h < self.lo else 0.0)
        even = (h - self.ideal) * self.inv_ideal
        return BIG * viol + self.alpha * even * even + p * p * _INV_4PI / (area + 1e-9)

    def violation(self) -> float:
        return sum(max(0.0, h - self.hi) + max(0.0, self.lo - h) for h in self.h.values())

    def still_connected(self, r: int, a: int) -> bool:
        rest = self.members[r]
        nb = self.g.nbrs
        start = next((b for b in nb[a] if b in rest), None)
        if start is None:
            return False
        seen = {a, start}
        queue = deque([start])
        while queue:
            x = queue.popleft()
            for y in nb[x]:
                if y not in seen and y in rest:
                    seen.add(y)
                    queue.append(y)
        return len(seen) == len(rest)

    def best_move(self, a: int):
        r = self.lab[a]
        touch: dict[int, float] = {}
        for b, c in self.g.nbrs[a].items():
            s = self.lab[b]
            if s >= 0:
                touch[s] = touch.get(s, 0.0) + c
        if len(touch) < 2 or r < 0 or len(self.members[r]) < 2:
            return None
        w, ar, la = float(self.g.w[a]), float(self.g.area[a]), self.len_a[a]
        c_r = touch.get(r, 0.0)
        hr, arr, pr = self.h[r] - w, self.area[r] - ar, self.p[r] - la + 2 * c_r
        before_r = self.f(self.h[r], self.area[r], self.p[r])
        after_r = self.f(hr, arr, pr)
        best = None
        for s, c_s in touch.items():
            if s == r:
                continue
            ps = self.p[s] + la - 2 * c_s
            delta = (after_r - before_r + self.f(self.h[s] + w, self.area[s] + ar, ps)
                     - self.f(self.h[s], self.area[s], self.p[s]))
            if best is None or delta < best[0]:
                best = (delta, s, pr, ps)
        return best

    def apply(self, a: int, s: int, pr: float, ps: float) -> None:
        r = self.lab[a]
        w, ar = float(self.g.w[a]), float(self.g.area[a])
        self.members[r].discard(a)
        self.members[s].add(a)
        self.h[r] -= w
        self.h[s] += w
        self.area[r] -= ar
        self.area[s] += ar
        self.p[r], self.p[s] = pr, ps
        self.lab[a] = s

    def sweep(self, order) -> set[int]:
        """One pass over ``order``; returns the regions that changed."""
        touched: set[int] = set()
        for a in order:
            move = self.best_move(a)
            if move is None or move[0] >= -1e-9 or self.fix_only and not self.fixes(a, move[1]):
                continue
            if self.still_connected(self.lab[a], a):
                touched.update((self.lab[a], move[1]))
                self.apply(a, move[1], move[2], move[3])
        return touched


def _boundary(st: _State, regions=None) -> list[int]:
    """Atoms on a region's edge (of the given regions only, when given)."""
    lab, nb = st.lab, st.g.nbrs
    pool = range(st.g.n) if regions is None else \
        sorted(a for r in regions for a in st.members[r])
    return [a for a in pool if lab[a] >= 0 and any(lab[b] != lab[a] and lab[b] >= 0
                                                   for b in nb[a])]


def _viol(st: _State, h: float) -> float:
    return max(0.0, h - st.hi) + max(0.0, st.lo - h)


def _step(st: _State, giver: int, taker: int | None, need: float, banned: set[int]):
    """Best single move out of ``giver`` (or into ``taker``): the atom whose move leaves
    the two regions least out of bounds, then carries closest to ``need`` households."""
    best = None
    pool = st.members[giver] if taker is None else \
        {b for a in st.members[taker] for b in st.g.nbrs[a] if st.lab[b] not in (taker, -1)}
    for a in pool:
        r = st.lab[a]
        if r in banned and taker is not None or len(st.members[r]) < 2 or st.g.w[a] <= 0:
            continue
        dests = {st.lab[b] for b in st.g.nbrs[a]} - {r, -1} - banned if taker is None else {taker}
        w = float(st.g.w[a])
        for s in dests:
            key = (_viol(st, st.h[r] - w) + _viol(st, st.h[s] + w) * 0.5, abs(w - need))
            if best is None or key < best[0]:
                best = (key, a, s)
    return best


def _walk(st: _State, r: int, over: bool, max_steps: int = 8) -> None:
    """Pass the excess (or shortfall) of region ``r`` on from region to region."""
    cur, banned = r, {r}
    for _ in range(max_steps):
        need = st.h[cur] - st.hi if over else st.lo - st.h[cur]
        if need <= 0:
            return
        tried: set[int] = set()
        while True:
            move = _step(st, cur, None, need, banned | tried) if over else \
                _step(st, None, cur, need, banned | tried)
            if move is None:
                return
            _key, a, s = move
            giver = st.lab[a]
            if st.still_connected(giver, a):
                break
            tried.add(s if over else giver)
        _d, _s, pr, ps = _priced(st, a, s)
        st.apply(a, s, pr, ps)
        cur = s if over else giver
        banned.add(cur)


def _priced(st: _State, a: int, s: int):
    r = st.lab[a]
    c_r = sum(c for b, c in st.g.nbrs[a].items() if st.lab[b] == r)
    c_s = sum(c for b, c in st.g.nbrs[a].items() if st.lab[b] == s)
    la = st.len_a[a]
    return (0.0, s, st.p[r] - la + 2 * c_r, st.p[s] + la - 2 * c_s)


def push_chains(st: _State) -> None:
    """Relieve each over-full region by passing atoms on along a chain of neighbours to
    one with room (and feed each under-full one likewise); undone unless the total
    violation drops."""
    for r in sorted(st.members, key=lambda x: -abs(st.h[x] - st.ideal)):
        if _viol(st, st.h[r]) <= 0:
            continue
        before, saved = st.violation(), list(st.lab)
        _walk(st, r, st.h[r] > st.hi)
        if st.violation() >= before:
            _restore(st, saved)


def _restore(st: _State, labels) -> None:
    fresh = _State(st.g, np.asarray(labels), st.lo, st.hi)
    fresh.alpha, fresh.ideal, fresh.inv_ideal = st.alpha, st.ideal, st.inv_ideal
    st.__dict__.update(fresh.__dict__)


def refine(g, labels, lo: float, hi: float, *, time_budget: float = 5.0,
           fix_only: bool = False) -> np.ndarray:
    """Improve ``labels`` (regions 0..k-1, -1 = not ours) in place of a copy and return it.
    ``fix_only``: only moves that bring a region nearer its bounds (no reshaping for
    compactness or evenness), so boundaries already on streets stay there."""
    st = _State(g, labels, lo, hi)
    if len(st.members) < 2:
        return labels.copy()
    st.fix_only = fix_only
    deadline = time.perf_counter() + time_budget
    for alpha in (ALPHA_FIX,) if fix_only else (ALPHA_FIX, ALPHA):
        st.alpha = alpha
        if alpha == ALPHA_FIX and st.violation() == 0:
            continue
        touched = None  # first sweep: every boundary atom; then those near changes
        for _ in range(MAX_SWEEPS):
            touched = st.sweep(_boundary(st, touched))
            if not touched or time.perf_counter() > deadline:
                break
        if alpha == ALPHA_FIX and st.violation() > 0:
            push_chains(st)
    return np.asarray(st.lab)
