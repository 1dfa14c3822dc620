"""Rural houses (1–3 households each) clustered in hamlets along the roads of each
village, with a few scattered off-road, plus the township seat's public buildings
(government, central school, market in towns). Houses never touch a road buffer,
never leave their village and never overlap each other."""

from __future__ import annotations

import numpy as np
import shapely

from gis.generate.buildings import Buildings, Places
from gis.generate.geom import rectangles
from gis.generate.households import allocate

HOUSE_HH = (1, 3)
SEAT_PLACES = (("office", "government", "人民政府", (35, 45), (15, 20)),
               ("school", "school", "中心小学", (45, 60), (14, 16)),
               ("market", "market", "农贸市场", (35, 50), (25, 35)))


def _road_samples(vid, pairs_v, geoms, rng, spread: float):
    """Points near roads of each sample's village, clustered around three hamlets per
    village; returns x, y, angle and the road half-gap needed (nan if no road)."""
    length = shapely.length(geoms)
    order = np.argsort(pairs_v, kind="stable")
    pv, g, ln = pairs_v[order], geoms[order], length[order]
    cum = np.cumsum(ln) - ln
    n_v = int(max(vid.max(initial=0), pv.max(initial=0))) + 1
    start = np.full(n_v, np.nan)
    total = np.zeros(n_v)
    first = np.searchsorted(pv, np.arange(n_v))
    has = np.bincount(pv, minlength=n_v) > 0
    start[has] = cum[first[has]]
    np.add.at(total, pv, ln)
    hamlets = rng.random((n_v, 3)) * total[:, None]
    h = hamlets[vid, rng.integers(0, 3, len(vid))]
    pos = np.clip(h + rng.normal(0, spread, len(vid)), 0, np.maximum(total[vid] - 1e-6, 0))
    ok = has[vid]
    k = np.searchsorted(cum, np.where(ok, start[vid] + pos, 0), side="right") - 1
    k = np.clip(k, 0, max(len(cum) - 1, 0))
    local = np.where(ok, start[vid] + pos - cum[k] if len(cum) else 0, 0)
    if len(g) == 0:
        return np.zeros(len(vid)), np.zeros(len(vid)), np.zeros(len(vid)), ok
    p = shapely.line_interpolate_point(g[k], local)
    q = shapely.line_interpolate_point(g[k], local + 2.0)
    r = shapely.line_interpolate_point(g[k], np.maximum(local - 2.0, 0))
    ang = np.arctan2(shapely.get_y(q) - shapely.get_y(r), shapely.get_x(q) - shapely.get_x(r))
    return shapely.get_x(p), shapely.get_y(p), ang, ok


def _candidates(vid, centres, pairs_v, geoms, rng, w, d, spread):
    x, y, ang, on_road = _road_samples(vid, pairs_v, geoms, rng, spread)
    scatter = ~on_road | (rng.random(len(vid)) < 0.2)
    cx = shapely.get_x(centres)[vid] + rng.normal(0, 350, len(vid))
    cy = shapely.get_y(centres)[vid] + rng.normal(0, 350, len(vid))
    gap = 3.0 + 4.0 + d / 2 + 1.0 + rng.exponential(10.0, len(vid))  # half road + setback
    side = rng.choice([-1.0, 1.0], len(vid))
    x = np.where(scatter, cx, x - np.sin(ang) * gap * side)
    y = np.where(scatter, cy, y + np.cos(ang) * gap * side)
    ang = np.where(scatter, rng.uniform(0, np.pi, len(vid)), ang)
    return rectangles(x, y, w, d, ang)


def _accept(rects, vid, villages, road_tree, placed):
    """Candidates inside their village, off road buffers, not overlapping earlier ones."""
    ok = shapely.contains(villages[vid], rects)
    hit = road_tree.query(rects, predicate="intersects")[0]
    ok[hit] = False
    allr = np.concatenate([placed, rects])
    i, j = shapely.STRtree(allr).query(allr, predicate="intersects")
    later = j[(i < j)] - len(placed)
    ok[later[later >= 0]] = False
    return ok


def rural_buildings(villages, centres, vhh, seat, seat_names, kinds, road_geoms,
                    road_buffers, rng) -> tuple[Buildings, Places, np.ndarray]:
    """Houses and seat buildings per village; returns buildings, key places and the
    village index of each building."""
    shapely.prepare(villages)
    pairs_v, pairs_r = shapely.STRtree(road_geoms).query(villages, predicate="intersects")
    inside = shapely.intersection(road_geoms[pairs_r], villages[pairs_v])
    road_tree = shapely.STRtree(road_buffers)
    pub = _seat_buildings(villages, centres, seat, seat_names, kinds, pairs_v, inside,
                          road_tree, rng)
    need = -(-vhh // HOUSE_HH[1])
    want = np.maximum(need, np.round(vhh / 1.9).astype(np.int64))
    got = [np.empty(0, dtype=object)]
    got_v = [np.empty(0, dtype=np.int64)]
    have = np.zeros(len(villages), dtype=np.int64)
    for attempt in range(6):  # few rounds: only villages still short get new candidates
        short = np.maximum(want - have, 0)
        if not short.any():
            break
        vid = np.repeat(np.arange(len(villages)), np.ceil(short * (2.0 + attempt)).astype(int) + 4)
        rects = _candidates(vid, centres, pairs_v, inside, rng, rng.uniform(9, 13, len(vid)),
                            rng.uniform(8, 10, len(vid)), 150.0 * (1 + attempt))
        ok = _accept(rects, vid, villages, road_tree, np.concatenate([pub[0]] + got))
        rects, vid = rects[ok], vid[ok]
        rank = _rank_in_group(vid)
        take = rank < short[vid]
        got.append(rects[take])
        got_v.append(vid[take])
        have += np.bincount(vid[take], minlength=len(villages))
    houses, hv = np.concatenate(got), np.concatenate(got_v)
    hh = _house_households(hv, vhh, have, need)
    floors = rng.integers(1, 4, len(houses))
    b = Buildings(np.concatenate([pub[0], houses]), np.r_[np.zeros(len(pub[0]), np.int64), hh],
                  np.r_[pub[3], floors], np.r_[pub[2], np.full(len(houses), "rural_house")],
                  np.r_[pub[4], np.full(len(houses), None)], np.full(len(pub[0]) + len(houses), -1))
    places = Places(shapely.buffer(pub[0], 3.0, join_style="mitre"), pub[4], pub[5])
    return b, places, np.r_[pub[1], hv]


def _rank_in_group(g: np.ndarray) -> np.ndarray:
    order = np.argsort(g, kind="stable")
    sg = g[order]
    starts = np.flatnonzero(np.r_[True, sg[1:] != sg[:-1]])
    rank = np.empty(len(g), dtype=np.int64)
    rank[order] = np.arange(len(g)) - np.repeat(starts, np.diff(np.r_[starts, len(g)]))
    return rank


def _house_households(hv, vhh, have, need) -> np.ndarray:
    if (have < need).any():
        v = int(np.flatnonzero(have < need)[0])
        raise RuntimeError(f"village {v} has room for {have[v]} houses, needs {need[v]}")
    hh = np.zeros(len(hv), dtype=np.int64)
    order = np.argsort(hv, kind="stable")
    bounds = np.searchsorted(hv[order], np.arange(len(vhh) + 1))
    for v in range(len(vhh)):  # one allocation per village
        idx = order[bounds[v]:bounds[v + 1]]
        hh[idx] = allocate(int(vhh[v]), np.ones(len(idx)), HOUSE_HH[0], HOUSE_HH[1])
    return hh


def _seat_buildings(villages, centres, seat, seat_names, kinds, pairs_v, inside,
                    road_tree, rng):
    """Government, school (and market in towns) in each township's seat village."""
    rows = [(v, b, p, f"{seat_names[t]}{suffix}", w, d)
            for t, v in enumerate(seat) for b, p, suffix, w, d in SEAT_PLACES
            if p != "market" or kinds[t] == "town"]
    rep = 12
    vid = np.repeat([r[0] for r in rows], rep)
    w = np.repeat([rng.uniform(*r[4]) for r in rows], rep)
    d = np.repeat([rng.uniform(*r[5]) for r in rows], rep)
    rects = _candidates(vid, centres, pairs_v, inside, rng, w, d, 60.0)
    ok = _accept(rects, vid, villages, road_tree, np.empty(0, dtype=object))
    chosen = [k * rep + int(np.argmax(ok[k * rep:(k + 1) * rep]))
              for k in range(len(rows)) if ok[k * rep:(k + 1) * rep].any()]
    keep = [c // rep for c in chosen]
    geoms = rects[chosen] if chosen else np.empty(0, dtype=object)
    return (geoms, np.array([rows[k][0] for k in keep], np.int64),
            np.array([rows[k][1] for k in keep], object), rng.integers(2, 5, len(keep)),
            np.array([rows[k][3] for k in keep], object),
            np.array([rows[k][2] for k in keep], object))
