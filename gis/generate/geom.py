"""Vectorised geometry helpers for the generator (metric coordinates, metres)."""

from __future__ import annotations

import numpy as np
import shapely


def rectangles(cx, cy, w, d, theta) -> np.ndarray:
    """Rectangles centred at (cx, cy), ``w`` along direction ``theta`` (radians from the
    x axis) and ``d`` across it; one shapely Polygon per element."""
    cx, cy, w, d, theta = np.broadcast_arrays(*(np.asarray(a, dtype=float)
                                                for a in (cx, cy, w, d, theta)))
    su = np.array([-0.5, 0.5, 0.5, -0.5, -0.5])
    sv = np.array([-0.5, -0.5, 0.5, 0.5, -0.5])
    u = w[:, None] * su
    v = d[:, None] * sv
    c, s = np.cos(theta)[:, None], np.sin(theta)[:, None]
    coords = np.stack([cx[:, None] + u * c - v * s, cy[:, None] + u * s + v * c], axis=-1)
    return shapely.polygons(coords)


def wobbly_lines(x0, y0, x1, y1, amp, rng: np.random.Generator, n: int = 12) -> np.ndarray:
    """Straight segments bent by a random half or full sine wave of amplitude ``amp``
    (metres, per line), so that roads are not ruler-straight."""
    x0, y0, x1, y1, amp = np.broadcast_arrays(*(np.atleast_1d(np.asarray(a, dtype=float))
                                                for a in (x0, y0, x1, y1, amp)))
    m = len(x0)
    t = np.linspace(0.0, 1.0, n)[None, :]
    waves = rng.choice([1.0, 2.0], size=(m, 1))
    phase = rng.uniform(0, np.pi, size=(m, 1))
    bend = amp[:, None] * np.sin(np.pi * waves * t) * np.cos(phase) * np.sin(np.pi * t)
    dx, dy = x1 - x0, y1 - y0
    length = np.hypot(dx, dy)
    nx, ny = -dy / np.where(length > 0, length, 1), dx / np.where(length > 0, length, 1)
    xs = x0[:, None] + dx[:, None] * t + nx[:, None] * bend
    ys = y0[:, None] + dy[:, None] * t + ny[:, None] * bend
    return shapely.linestrings(np.stack([xs, ys], axis=-1))


def orientation(geoms) -> np.ndarray:
    """Angle (radians) of the long side of each geometry's minimum rotated rectangle."""
    env = shapely.oriented_envelope(np.asarray(geoms, dtype=object))
    coords, idx = shapely.get_coordinates(shapely.get_exterior_ring(env), return_index=True)
    first = np.searchsorted(idx, np.arange(len(env)))
    ok = np.bincount(idx, minlength=len(env)) >= 3
    p0 = coords[np.minimum(first, len(coords) - 1)]
    p1 = coords[np.minimum(first + 1, len(coords) - 1)]
    p2 = coords[np.minimum(first + 2, len(coords) - 1)]
    a = p1 - p0
    b = p2 - p1
    long_a = np.hypot(*a.T) >= np.hypot(*b.T)
    vec = np.where(long_a[:, None], a, b)
    return np.where(ok, np.arctan2(vec[:, 1], vec[:, 0]), 0.0)


def local_bounds(geoms, theta) -> np.ndarray:
    """Bounds (umin, vmin, umax, vmax) of each geometry in a frame rotated by ``theta``."""
    geoms = np.asarray(geoms, dtype=object)
    coords, idx = shapely.get_coordinates(geoms, return_index=True)
    c, s = np.cos(theta)[idx], np.sin(theta)[idx]
    u = coords[:, 0] * c + coords[:, 1] * s
    v = -coords[:, 0] * s + coords[:, 1] * c
    out = np.full((len(geoms), 4), np.nan)
    out[:, 0], out[:, 1] = np.inf, np.inf
    out[:, 2], out[:, 3] = -np.inf, -np.inf
    np.minimum.at(out[:, 0], idx, u)
    np.minimum.at(out[:, 1], idx, v)
    np.maximum.at(out[:, 2], idx, u)
    np.maximum.at(out[:, 3], idx, v)
    return out


def azimuth_on(lines, points, *, step: float = 3.0) -> np.ndarray:
    """Compass bearing (degrees clockwise from grid north) of each line at the point
    nearest to ``points``: the direction a camera or walker looks along the street."""
    lines = np.asarray(lines, dtype=object)
    pos = shapely.line_locate_point(lines, points)
    length = shapely.length(lines)
    a = shapely.line_interpolate_point(lines, np.clip(pos - step, 0, length))
    b = shapely.line_interpolate_point(lines, np.clip(pos + step, 0, length))
    dx = shapely.get_x(b) - shapely.get_x(a)
    dy = shapely.get_y(b) - shapely.get_y(a)
    return np.degrees(np.arctan2(dx, dy)) % 360.0


def explode(geoms, keys=None):
    """Parts of multi-geometries with the index (or key) of the geometry each came from."""
    parts, idx = shapely.get_parts(np.asarray(geoms, dtype=object), return_index=True)
    keep = ~shapely.is_empty(parts)
    if keys is None:
        return parts[keep], idx[keep]
    return parts[keep], np.asarray(keys)[idx[keep]]


def segments(lines: np.ndarray):
    """Two-point segments of every line and the index of the line each came from."""
    coords, idx = shapely.get_coordinates(lines, return_index=True)
    same = idx[1:] == idx[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    seg = shapely.linestrings(np.stack([a, b], axis=1))
    return seg, idx[:-1][same]
