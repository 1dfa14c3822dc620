"""Patrol GPS tracks: one grid worker per ~400 households, walking the streets around
their blocks in town (cycling the village roads in the countryside) in a morning and
an afternoon round each day, a fix every 10–30 s with ~5 m noise, and the faults real
trackers have: occasional jumps of kilometres and duplicated fixes."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import shapely

from gis.generate.incidents import END, TZ

HH_PER_WORKER = 400
GPS_NOISE_M = 5.0
JUMP_SHARE = 0.003
DUPLICATE_SHARE = 0.005
SPEED = {"walk": (0.9, 1.4), "cycle": (2.5, 4.5)}
CHUNK_WORKERS = 400


def _ring_of(geom) -> shapely.Geometry:
    """Outer ring of the largest part, as a line (the streets around a set of blocks)."""
    parts = shapely.get_parts(geom)
    big = parts[np.argmax(shapely.area(parts))]
    return shapely.LineString(big.exterior.coords)


def urban_beats(blocks, block_unit, block_hh, comm_hh) -> tuple[list, np.ndarray]:
    """Beats (closed street loops) and the community of each urban worker."""
    beats, owner = [], []
    cen = shapely.get_coordinates(shapely.centroid(blocks))
    for c, total in enumerate(comm_hh):  # one community at a time
        idx = np.flatnonzero(block_unit == c)
        idx = idx[np.lexsort((cen[idx, 0].round(-1), -cen[idx, 1].round(-1)))]
        n = max(1, int(round(total / HH_PER_WORKER)))
        before = np.cumsum(block_hh[idx]) - block_hh[idx]
        group = np.minimum((before * n // max(int(total), 1)).astype(int), n - 1)
        rings = {}
        for g in np.unique(group):
            rings[int(g)] = _ring_of(shapely.union_all(blocks[idx[group == g]]))
        last = rings[min(rings)]
        for g in range(n):
            last = rings.get(g, last)
            beats.append(last)
            owner.append(c)
    return beats, np.array(owner, dtype=np.int64)


def rural_beats(villages, centres, vhh, roads) -> tuple[list, np.ndarray]:
    """Beats (the longest stretch of road in the village, ridden back and forth)."""
    v_idx, r_idx = shapely.STRtree(roads).query(villages, predicate="intersects")
    clipped = shapely.intersection(roads[r_idx], villages[v_idx])
    beats, owner = [], []
    for v, total in enumerate(vhh):  # one village at a time
        parts = shapely.get_parts(shapely.line_merge(shapely.union_all(clipped[v_idx == v])))
        parts = parts[shapely.get_type_id(parts) == 1] if len(parts) else parts
        if len(parts):
            beat = parts[np.argmax(shapely.length(parts))]
        else:
            beat = shapely.LineString(shapely.buffer(centres[v], 150).exterior.coords)
        for _ in range(max(1, int(round(total / HH_PER_WORKER)))):
            beats.append(beat)
            owner.append(v)
    return beats, np.array(owner, dtype=np.int64)


def _sessions(n_workers: int, days: int, rng):
    """Start (seconds from the first day's midnight) and duration of every round."""
    w = np.repeat(np.arange(n_workers), days * 2)
    day = np.tile(np.repeat(np.arange(days), 2), n_workers)
    pm = np.tile([0, 1], n_workers * days)
    start = day * 86400 + np.where(pm, 14.5, 8.5) * 3600 + rng.uniform(0, 3600, len(w))
    return w, start, rng.uniform(3600, 7200, len(w))


def patrol_points(beats: list, modes: np.ndarray, worker_ids: np.ndarray, days: int,
                  to_lonlat, rng) -> pd.DataFrame:
    """GPS fixes of every worker (worker, time, lon, lat), chunked for bounded memory."""
    frames = []
    for lo in range(0, len(beats), CHUNK_WORKERS):
        hi = min(lo + CHUNK_WORKERS, len(beats))
        frames.append(_chunk(np.asarray(beats[lo:hi], dtype=object), modes[lo:hi],
                             worker_ids[lo:hi], days, to_lonlat, rng))
    if not frames:
        return pd.DataFrame({"worker": [], "time": [], "lon": [], "lat": []})
    return pd.concat(frames, ignore_index=True)


def _chunk(beats, modes, ids, days, to_lonlat, rng) -> pd.DataFrame:
    w, start, dur = _sessions(len(beats), days, rng)
    n = np.maximum((dur / 20.0).astype(np.int64), 2)
    s = np.repeat(np.arange(len(w)), n)
    dt = rng.uniform(10.0, 30.0, len(s))
    first = np.cumsum(n) - n
    t = start[s] + _grouped_cumsum(dt, first, n) - dt[first][s]
    lo_hi = np.array([SPEED[m] for m in modes])
    speed = rng.uniform(lo_hi[w[s], 0], lo_hi[w[s], 1]) * (rng.random(len(s)) > 0.25)
    length = shapely.length(beats)
    dist = rng.uniform(0, 1, len(w))[s] * length[w[s]] + _grouped_cumsum(speed * dt, first, n)
    closed = shapely.is_closed(beats)[w[s]]
    L = length[w[s]]
    m = np.mod(dist, 2 * L)
    pos = np.where(closed, np.mod(dist, L), np.where(m <= L, m, 2 * L - m))
    xy = shapely.get_coordinates(shapely.line_interpolate_point(beats[w[s]], pos))
    xy += rng.normal(0, GPS_NOISE_M, xy.shape)
    jump = rng.random(len(s)) < JUMP_SHARE
    ang = rng.uniform(0, 2 * np.pi, jump.sum())
    xy[jump] += np.column_stack([np.cos(ang), np.sin(ang)]) * rng.uniform(1000, 5000, (jump.sum(), 1))
    keep = np.repeat(np.arange(len(s)), np.where(rng.random(len(s)) < DUPLICATE_SHARE, 2, 1))
    lon, lat = to_lonlat(xy[keep, 0], xy[keep, 1])
    day0 = np.datetime64((END - timedelta(days=days)).replace(tzinfo=None), "s")
    local = day0 + np.round(t[keep]).astype("timedelta64[s]")
    return pd.DataFrame({"worker": ids[w[s][keep]],
                         "time": pd.DatetimeIndex(local).tz_localize(TZ),
                         "lon": np.round(lon, 7), "lat": np.round(lat, 7)})


def _grouped_cumsum(x: np.ndarray, first: np.ndarray, n: np.ndarray) -> np.ndarray:
    c = np.cumsum(x)
    return c - np.repeat(c[first] - x[first], n)
