"""The county town: a curved, jittered arterial lattice (with a diagonal avenue in
larger towns) whose cells are the urban communities, grouped into streets (街道),
and an irregular minor street network inside each community.

Everything is in metres around the district centre (0, 0)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from gis.generate.geom import local_bounds, orientation, wobbly_lines
from gis.generate.households import allocate

COMMUNITY_HH = (1500, 4000)
TARGET_COMMUNITY_HH = 2500
ARTERIAL_SPACING = 480.0


@dataclass
class Lines:
    """Road lines: ``geometry`` as published, ``full`` (extended past junctions so that
    polygonize nodes them reliably), class, and the community cell they belong to (-1)."""

    geometry: np.ndarray
    full: np.ndarray
    cls: np.ndarray
    cell: np.ndarray

    @staticmethod
    def concat(parts: list["Lines"]) -> "Lines":
        return Lines(*(np.concatenate([getattr(p, f) for p in parts])
                       for f in ("geometry", "full", "cls", "cell")))


@dataclass
class Town:
    cells: np.ndarray        # community polygons
    households: np.ndarray   # households per community
    street: np.ndarray       # index of the 街道 each community belongs to
    outline: shapely.Geometry
    arterials: Lines
    minor: Lines


def lattice_shape(urban_hh: int) -> tuple[int, int]:
    """Columns and rows of arterial cells so that communities hold ~2,500 households."""
    n = max(1.0, urban_hh / TARGET_COMMUNITY_HH)
    ny = max(1, int(np.floor(np.sqrt(n))))
    nx = max(1, int(np.ceil(n / ny)))
    if urban_hh / (nx * ny) < COMMUNITY_HH[0] and nx * ny > 1:
        nx = max(1, nx - 1)
    return nx, ny


def _positions(n: int, rng: np.random.Generator) -> np.ndarray:
    gaps = ARTERIAL_SPACING * rng.uniform(0.75, 1.3, n)
    xs = np.concatenate([[0.0], np.cumsum(gaps)])
    return xs - xs[-1] / 2.0


def _curved(fixed: np.ndarray, lo: float, hi: float, rng, vertical: bool) -> np.ndarray:
    """Lines at ``fixed`` positions running from ``lo`` to ``hi``, bent by sine waves."""
    t = np.linspace(lo, hi, max(24, int((hi - lo) / 40)))
    amp = rng.uniform(8.0, 0.07 * ARTERIAL_SPACING, len(fixed))[:, None]
    lam = rng.uniform(1.6, 3.2, len(fixed))[:, None] * ARTERIAL_SPACING
    phi = rng.uniform(0, 2 * np.pi, len(fixed))[:, None]
    off = fixed[:, None] + amp * np.sin(2 * np.pi * t[None, :] / lam + phi)
    tt = np.broadcast_to(t, off.shape)
    xy = np.stack([off, tt], -1) if vertical else np.stack([tt, off], -1)
    return shapely.linestrings(xy)


def arterial_network(nx: int, ny: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Arterial centre lines (extended past the outer ring) and their classes."""
    xs, ys = _positions(nx, rng), _positions(ny, rng)
    ext = 0.07 * ARTERIAL_SPACING + 60.0
    vert = _curved(xs, ys[0] - ext, ys[-1] + ext, rng, vertical=True)
    horiz = _curved(ys, xs[0] - ext, xs[-1] + ext, rng, vertical=False)
    lines = np.concatenate([vert, horiz])
    cls = np.full(len(lines), "secondary", dtype=object)
    # the ring and the central cross are primary roads
    for k in (0, nx, nx // 2, nx + 1, nx + 1 + ny, nx + 1 + ny // 2):
        cls[k] = "primary"
    if nx >= 3 and ny >= 3:
        diag = wobbly_lines(xs[0] - ext, ys[1] + rng.uniform(-50, 50), xs[-1] + ext,
                            ys[-2] + rng.uniform(-50, 50), 0.15 * ARTERIAL_SPACING, rng, n=40)
        lines, cls = np.concatenate([lines, diag]), np.append(cls, "primary")
    return lines, cls


def _merge_small(cells: list, min_area: float) -> list:
    """Merge slivers (e.g. cut off by the diagonal) into the neighbour sharing most edge."""
    cells = list(cells)
    while True:
        areas = shapely.area(np.asarray(cells, dtype=object))
        small = np.flatnonzero(areas < min_area)
        if len(small) == 0 or len(cells) == 1:
            return cells
        i = int(small[np.argmin(areas[small])])
        shared = shapely.length(shapely.intersection(
            shapely.boundary(np.asarray(cells, dtype=object)), shapely.boundary(cells[i])))
        shared[i] = -1
        j = int(np.argmax(shared))
        cells[j] = shapely.union(cells[j], cells[i])
        del cells[i]


def _group(points: np.ndarray, n: int) -> np.ndarray:
    """Split points into ``n`` compact groups of similar size by recursive bisection."""
    out = np.zeros(len(points), dtype=np.int64)

    def split(idx: np.ndarray, k: int, first: int) -> None:
        if k <= 1 or len(idx) <= 1:
            out[idx] = first
            return
        span = points[idx].max(0) - points[idx].min(0)
        order = idx[np.argsort(points[idx, int(np.argmax(span))], kind="stable")]
        k1 = k // 2
        cut = int(round(len(idx) * k1 / k))
        split(order[:cut], k1, first)
        split(order[cut:], k - k1, first + k1)

    split(np.arange(len(points)), min(n, len(points)), 0)
    return out


def build_town(urban_hh: int, rng: np.random.Generator) -> Town:
    """Arterials, community cells with households, streets and minor streets."""
    nx, ny = lattice_shape(urban_hh)
    lines, cls = arterial_network(nx, ny, rng)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.union_all(lines))))
    outline = shapely.union_all(faces)
    cells = np.asarray(_merge_small(list(faces), 0.3 * float(np.median(shapely.area(faces)))),
                       dtype=object)
    cells = cells[np.lexsort((shapely.get_x(shapely.centroid(cells)).round(-1),
                              -shapely.get_y(shapely.centroid(cells)).round(-1)))]
    weights = shapely.area(cells) * rng.lognormal(0.0, 0.15, len(cells))
    lo, hi = COMMUNITY_HH
    if not len(cells) * lo <= urban_hh <= len(cells) * hi:
        lo, hi = 0, urban_hh
    households = allocate(urban_hh, weights, lo, hi)
    centres = shapely.get_coordinates(shapely.centroid(cells))
    street = _group(centres, max(1, int(round(len(cells) / 8))))
    clipped = shapely.intersection(lines, shapely.buffer(outline, 0.01))
    arterials = Lines(clipped, lines, cls, np.full(len(lines), -1))
    return Town(cells, households, street, outline, arterials, minor_streets(cells, rng))


def _cell_lines(cell, rng) -> tuple[np.ndarray, np.ndarray]:
    """Minor streets of one community in its own rotated frame: jittered spacing, some
    curved, some stopping half way (dead ends), the middle one a tertiary road."""
    theta = float(orientation([cell])[0]) + rng.normal(0.0, 0.06)
    u0, v0, u1, v1 = local_bounds([cell], np.array([theta]))[0]
    out, classes = [], []
    for (a0, a1, b0, b1, across) in ((u0, u1, v0, v1, False), (v0, v1, u0, u1, True)):
        pos = a0 + np.cumsum(rng.uniform(100.0, 220.0, 64))
        pos = pos[pos < a1 - 70.0]
        if len(pos) == 0:
            continue
        start = np.full(len(pos), b0 - 30.0)
        end = np.full(len(pos), b1 + 30.0)
        dead = rng.random(len(pos)) < 0.22
        frac = rng.uniform(0.35, 0.7, len(pos))
        flip = rng.random(len(pos)) < 0.5
        cut = b0 + (b1 - b0) * frac
        end = np.where(dead & ~flip, cut, end)
        start = np.where(dead & flip, b1 - (b1 - b0) * frac, start)
        tilt = rng.normal(0.0, 12.0, len(pos))
        amp = np.where(rng.random(len(pos)) < 0.3, rng.uniform(10, 35, len(pos)),
                       rng.uniform(0, 4, len(pos)))
        pu0, pu1 = pos - tilt, pos + tilt
        ends = (start, pu0, end, pu1) if across else (pu0, start, pu1, end)
        out.append(_rotate_lines(*ends, amp, theta, rng))
        c = np.where(dead, np.where(rng.random(len(pos)) < 0.4, "lane", "residential"),
                     "residential").astype(object)
        full = np.flatnonzero(~dead)
        if len(full) and (a1 - a0) > 450:
            c[full[np.argmin(np.abs(pos[full] - (a0 + a1) / 2))]] = "tertiary"
        classes.append(c)
    if not out:
        return np.empty(0, dtype=object), np.empty(0, dtype=object)
    return np.concatenate(out), np.concatenate(classes)


def _rotate_lines(u0, v0, u1, v1, amp, theta, rng) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return wobbly_lines(u0 * c - v0 * s, u0 * s + v0 * c, u1 * c - v1 * s, u1 * s + v1 * c,
                        amp, rng)


def minor_streets(cells: np.ndarray, rng) -> Lines:
    """Minor streets of every community, clipped to it (published) and extended (noding)."""
    full, cls, cell = [], [], []
    for i, poly in enumerate(cells):  # one iteration per community, vectorised inside
        lines, c = _cell_lines(poly, rng)
        full.append(lines)
        cls.append(c)
        cell.append(np.full(len(lines), i))
    full = np.concatenate(full) if full else np.empty(0, dtype=object)
    cell = np.concatenate(cell).astype(np.int64)
    cls = np.concatenate(cls).astype(object)
    clipped = shapely.intersection(full, cells[cell])
    parts, idx = shapely.get_parts(clipped, return_index=True)
    keep = shapely.length(parts) > 15.0
    parts, idx = shapely.line_merge(parts[keep]), idx[keep]
    return Lines(parts, full[idx], cls[idx], cell[idx])
