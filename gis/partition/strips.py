"""Cutting a street block into strips along the straight gaps between its buildings.

Buildings in a block stand in rows. A straight line through the gap between two rows
crosses the block without touching a building: it is the most street-like line a block
offers (an internal lane or a passage usually runs there). Each block that may need
splitting is cut into a few strips at the gaps nearest to even shares of its households,
along whichever axis of the block (its oriented envelope) gives the evener strips with
less cut length. Grids then take whole blocks or runs of consecutive strips, so a split
block is cut by one or two straight lines, not by a staircase around single buildings.
"""

from __future__ import annotations

import numpy as np
import shapely

MIN_GAP = 1.0  # metres of clear space a cut line needs between buildings
STRIP_SHARE = 0.6  # strips of at most this share of (max - min) households: some run of
#                    consecutive strips then always lands within the bounds
MAX_STRIPS = 16
LANE_SPREAD = 6.0  # metres: a lane this straight across the axis can carry a cut line
LANE_BONUS = 0.08  # a lane is worth missing the even share by 8 % of the block


def _axes(block) -> list[np.ndarray]:
    """Unit vectors along the two sides of the block's oriented envelope."""
    ring = np.asarray(shapely.oriented_envelope(block).exterior.coords)
    out = []
    for d in (ring[1] - ring[0], ring[2] - ring[1]):
        norm = np.hypot(*d)
        if norm > 1e-9:
            out.append(d / norm)
    return out


def _gaps(geoms, hh, u, lanes=()):
    """Clear gaps across the axis ``u``: (position, households before it, lane metres).
    A lane lying across the axis inside a gap moves the gap's cut line onto the lane."""
    coords, idx = shapely.get_coordinates(geoms, return_index=True)
    proj = coords @ u
    lo = np.full(len(geoms), np.inf)
    hi = np.full(len(geoms), -np.inf)
    np.minimum.at(lo, idx, proj)
    np.maximum.at(hi, idx, proj)
    order = np.argsort(lo)
    reach = np.maximum.accumulate(hi[order])
    starts = lo[order]
    at = np.flatnonzero(starts[1:] - reach[:-1] >= MIN_GAP)
    left, right = reach[at], starts[at + 1]
    pos, lane = (left + right) / 2, np.zeros(len(at))
    for line in lanes:
        p = shapely.get_coordinates(line) @ u
        if np.ptp(p) > LANE_SPREAD:
            continue  # runs along the axis, not across it
        hit = np.flatnonzero((left < p.mean()) & (p.mean() < right))
        pos[hit], lane[hit] = p.mean(), np.maximum(lane[hit], line.length)
    return pos, np.cumsum(hh[order])[at], lane


def _choose(pos, before, lane, total, n_strips):
    """Gaps nearest to even household shares, lanes preferred (each used once, in order)."""
    chosen = []
    for j in range(1, n_strips):
        miss = np.abs(before - total * j / n_strips) / total - LANE_BONUS * (lane > 0)
        k = int(np.argmin(miss))
        if k not in chosen:
            chosen.append(k)
    return np.sort(np.asarray(chosen, dtype=int))


def _slabs(block, u, cuts):
    """The block cut by lines across ``u`` at positions ``cuts`` (sorted), as strips."""
    v = np.array([-u[1], u[0]])
    coords = shapely.get_coordinates(block)
    reach = float(np.abs(coords @ v).max() + 1.0)
    edges = np.concatenate([[float((coords @ u).min()) - 1.0], cuts,
                            [float((coords @ u).max()) + 1.0]])
    out = []
    for a, b in zip(edges[:-1], edges[1:]):
        box = shapely.Polygon([a * u - reach * v, b * u - reach * v,
                               b * u + reach * v, a * u + reach * v])
        out.append(shapely.intersection(block, box))
    return out


def strip_block(block, geoms, hh, span: float, lanes=()):
    """Strips of one block (list of polygons, in order along the chosen axis), or None
    when the buildings leave no clear straight gap. ``span``: max − min households."""
    total = float(hh.sum())
    n_strips = int(np.clip(np.ceil(total / (STRIP_SHARE * span)), 2, MAX_STRIPS))
    best = None
    for u in _axes(block):
        pos, before, lane = _gaps(geoms, hh, u, lanes)
        if not len(pos):
            continue
        pick = _choose(pos, before, lane, total, n_strips)
        parts = np.diff(np.concatenate([[0.0], before[pick], [total]]))
        strips = _slabs(block, u, pos[pick])
        if any(shapely.get_num_geometries(s) != 1 or s.is_empty for s in strips):
            continue  # a concave block cut into disjoint pieces: not a clean strip
        cut = float(sum(shapely.length(s) for s in strips) - shapely.length(block)) / 2
        # strips too full to combine into grids first; then the fewest metres off street
        score = (parts.max() > span, cut - lane[pick].sum())
        if best is None or score < best[0]:
            best = (score, strips)
    return None if best is None else best[1]


def strip_atoms(cells, unit_atom, geoms, hh, which, span: float, roads=None):
    """Replace the cells where ``which`` is true by their strips.

    Returns the new cells, the cell of each unit, the original cell of each new cell and
    the rank of each new cell within its original (0 for cells left whole).
    """
    points = shapely.point_on_surface(geoms)
    roads = np.asarray([] if roads is None else roads, dtype=object)
    tree = shapely.STRtree(roads)
    out, origin, rank = [], [], []
    new_unit = np.full(len(unit_atom), -1)
    for a, cell in enumerate(cells):
        members = np.flatnonzero(unit_atom == a)
        strips = None
        if which[a] and len(members) > 1:
            lanes = shapely.intersection(roads[tree.query(cell, predicate="intersects")], cell)
            lanes = [x for x in shapely.get_parts(lanes) if x.length > LANE_SPREAD]
            strips = strip_block(cell, geoms[members], hh[members], span, lanes)
        if strips is None:
            new_unit[members] = len(out)
            out.append(cell)
            origin.append(a)
            rank.append(0)
            continue
        first = len(out)
        for r, s in enumerate(strips):
            out.append(s)
            origin.append(a)
            rank.append(r)
        # a building lies wholly in one strip: its point tells which
        hit = shapely.STRtree(np.asarray(strips, dtype=object)).query(
            points[members], predicate="intersects")
        new_unit[members[hit[0]]] = first + hit[1]
    return (np.asarray(out, dtype=object), new_unit, np.asarray(origin),
            np.asarray(rank))
