"""Vectorised overlays that survive GEOS' rare robustness failures.

On large real-world inputs GEOS occasionally raises ("Unable to determine overlay result
geometry dimension") for one pair among thousands. Rather than lose the whole analysis,
the failing pairs are recomputed one by one with a 1 mm precision grid (coordinates are
metres here), which snaps the near-degenerate vertices that caused it."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.errors import GEOSException

GRID_SIZE_M = 0.001


def _pairwise(fn, a, b) -> np.ndarray:
    a = np.asarray(a, dtype=object)
    b = np.broadcast_to(np.asarray(b, dtype=object), a.shape)
    out = np.empty(a.shape, dtype=object)
    for i in range(len(a)):
        try:
            out[i] = fn(a[i], b[i])
        except GEOSException:
            out[i] = fn(a[i], b[i], grid_size=GRID_SIZE_M)
    return out


def intersection(a, b) -> np.ndarray:
    try:
        return shapely.intersection(a, b)
    except GEOSException:
        return _pairwise(shapely.intersection, a, b)


def difference(a, b) -> np.ndarray:
    try:
        return shapely.difference(a, b)
    except GEOSException:
        return _pairwise(shapely.difference, a, b)
