"""Building footprints laid out in rows inside buildable areas: a rotated grid of
rectangles aligned with each block's long side, kept only where a whole footprint
fits (so buildings never reach into a road buffer or cross a block edge)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from gis.generate.geom import local_bounds, orientation, rectangles

# kind -> footprint width/depth ranges (m) and gaps along / across rows (m)
PATTERNS = {
    "highrise": ((28, 48), (13, 18), (14, 24), (32, 48)),
    "lowrise": ((12, 22), (9, 12), (4, 9), (8, 14)),
    "market": ((40, 60), (28, 40), (10, 20), (10, 20)),
    "school": ((45, 65), (13, 16), (15, 25), (25, 35)),
    "hospital": ((40, 60), (18, 25), (12, 20), (15, 25)),
    "office": ((35, 55), (15, 20), (15, 25), (15, 25)),
    "public": ((50, 70), (22, 30), (15, 25), (15, 25)),
}
MAX_PER_BLOCK = 2500


@dataclass
class Footprints:
    geometry: np.ndarray
    block: np.ndarray      # index into the blocks given
    row: np.ndarray        # position along the block's long side (for splitting compounds)


def lay_out(buildable: np.ndarray, kinds: np.ndarray, rng: np.random.Generator) -> Footprints:
    """Footprints for every block whose kind is in :data:`PATTERNS`."""
    idx = np.flatnonzero(np.isin(kinds, list(PATTERNS)) & ~shapely.is_empty(buildable))
    if len(idx) == 0:
        return Footprints(np.empty(0, dtype=object), np.empty(0, np.int64), np.empty(0))
    geoms = buildable[idx]
    theta = orientation(geoms)
    u0, v0, u1, v1 = local_bounds(geoms, theta).T
    pat = np.array([[rng.uniform(*r) for r in PATTERNS[k]] for k in kinds[idx]])
    w, d, gu, gv = pat.T
    su, sv = w + gu, d + gv
    nu = np.maximum(np.floor((u1 - u0 - w) / su).astype(np.int64) + 1, 0)
    nv = np.maximum(np.floor((v1 - v0 - d) / sv).astype(np.int64) + 1, 0)
    nv = np.minimum(nv, np.maximum(MAX_PER_BLOCK // np.maximum(nu, 1), 1))
    count = nu * nv
    owner = np.repeat(np.arange(len(idx)), count)
    k = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    iu, iv = k % nu[owner], k // nu[owner]
    pu = u0 + (u1 - u0 - w - (nu - 1) * su) * rng.random(len(idx)) + w / 2
    pv = v0 + (v1 - v0 - d - (nv - 1) * sv) * rng.random(len(idx)) + d / 2
    u = pu[owner] + iu * su[owner] + rng.normal(0, 1.0, len(owner))
    v = pv[owner] + iv * sv[owner] + rng.normal(0, 1.0, len(owner))
    t = theta[owner]
    x, y = u * np.cos(t) - v * np.sin(t), u * np.sin(t) + v * np.cos(t)
    size = rng.uniform(0.9, 1.05, len(owner))
    rects = rectangles(x, y, w[owner] * size, d[owner] * size, t)
    shapely.prepare(geoms)
    fits = shapely.contains(geoms[owner], rects)
    return Footprints(rects[fits], idx[owner[fits]], (iu * 1000 + iv)[fits].astype(float))
