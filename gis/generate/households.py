"""Integer household allocation: split a total over units (buildings, compounds,
communities, villages) within per-unit bounds, so that totals add up exactly."""

from __future__ import annotations

import numpy as np


def allocate(total: int, weights, lo, hi) -> np.ndarray:
    """Integers ``x`` with ``lo <= x <= hi`` and ``x.sum() == total``, roughly
    proportional to ``weights`` above the lower bounds (water-filling).

    Parameters
    ----------
    total : the exact sum wanted.
    weights : non-negative shares, one per unit.
    lo, hi : bounds per unit (scalars broadcast); ``sum(lo) <= total <= sum(hi)``.

    Examples
    --------
    >>> allocate(10, [1, 1, 2], 1, 5).tolist()
    [3, 3, 4]
    """
    w = np.asarray(weights, dtype=float)
    n = len(w)
    lo = np.broadcast_to(np.asarray(lo, dtype=np.int64), (n,)).copy()
    hi = np.broadcast_to(np.asarray(hi, dtype=np.int64), (n,)).copy()
    if n == 0:
        if total:
            raise ValueError(f"cannot place {total} households in no units")
        return lo
    if lo.sum() > total or hi.sum() < total:
        raise ValueError(f"{total} households do not fit bounds [{lo.sum()}, {hi.sum()}]")
    share = _water_fill(float(total - lo.sum()), np.where(w > 0, w, 1e-9), (hi - lo).astype(float))
    base = np.minimum(np.floor(share + 1e-9).astype(np.int64), hi - lo)
    left = int(total - lo.sum() - base.sum())
    while left > 0:  # hand out the rounding remainder by largest fraction, with room
        room = np.flatnonzero(base < hi - lo)
        order = room[np.argsort(-(share[room] - base[room]), kind="stable")][:left]
        base[order] += 1
        left -= len(order)
    return lo + base


def _water_fill(amount: float, w: np.ndarray, cap: np.ndarray) -> np.ndarray:
    share = np.zeros(len(w))
    active = cap > 0
    for _ in range(64):
        if amount <= 1e-9 or not active.any():
            break
        wa = np.where(active, w, 0.0)
        add = np.minimum(amount * wa / wa.sum(), cap - share)
        share += add
        amount -= add.sum()
        active = (cap - share) > 1e-9
    return share
