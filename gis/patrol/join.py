"""Joining cleaned tracks to grids: time and distance inside each grid, entries and exits.

A *segment* joins two consecutive fixes of one worker no more than ``max_gap_s`` apart.
The worker is assumed to move along it at constant speed, so time and distance split
in the same proportions:

* a segment whose two ends lie in the same grid counts fully for that grid (the
  cheap, common case: fixes are seconds apart, grids hundreds of metres wide);
* any other segment (ends in different grids, or an end outside every grid) is cut
  where it crosses grid edges (numpy line–line intersection against the edges an
  STRtree finds: the same answer as a shapely intersection, several times faster);
  each grid gets the fraction of the segment's length inside it, in metres and seconds;
* a segment faster than ``speed_max`` is not counted at all (the worker was in a car,
  or one end is bad), so no bogus distance reaches a grid;
* nor is a segment travelled faster than ``patrol_speed_max`` (the patrol speed rule,
  :data:`PATROL_SPEED`: a bus or car ride is not a patrol even at town speeds). The
  speed is the *sustained* one: the straight distance covered between the fixes about
  :data:`SPEED_WINDOW_S` seconds either side of the segment, over that time, so GPS
  jitter between fixes a second apart does not make a walker look fast. What this
  rule leaves out is counted (``excluded``: segments, seconds, metres);
* segments are first cut at window boundaries (at the interpolated instant), so the
  11:50–12:10 walk gives ten minutes to each half day.

A fix on the shared edge of two grids belongs to the first grid in the grids table.
Seconds and metres are summed as integer millionths (see :func:`micro`), so totals do
not depend on summation order. An *entry* is a segment piece inside a grid whose segment starts outside it, or the
first fix of a track (after a gap) inside it; an *exit* is a piece whose segment ends
outside the grid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from gis.patrol.fixes import worker_codes
from gis.patrol.gridindex import GridIndex
from gis.patrol.windows import Windows, to_ns

MICRO = 1_000_000
# 18 km/h: an e-bike patrol rides at 10-15 km/h in town and a brisk walk is 6 km/h; buses
# and cars average more than this between stops.
PATROL_SPEED = 5.0  # m/s
SPEED_WINDOW_S = 30.0
EXCLUDED_KEYS = ("segments", "seconds", "metres")  # seconds, metres as integer millionths
PRESENCE_COLUMNS = ("grid", "window", "worker", "seconds", "metres", "entries", "exits")


def _segments(codes, t, x, y, g, max_gap_ns: int, speed_max: float,
              patrol_speed_max: float | None = None, excluded: dict | None = None
              ) -> dict[str, np.ndarray]:
    """Consecutive fix pairs of one worker, at most ``max_gap_ns`` apart, not too fast and
    (with ``patrol_speed_max``) at patrol speed; what the speed rule leaves out is added
    to ``excluded``."""
    link = (codes[1:] == codes[:-1]) & (t[1:] - t[:-1] <= max_gap_ns)
    start = np.r_[True, ~link[:-1]] if len(link) else np.array([], bool)  # track begins here
    dist = np.hypot(x[1:] - x[:-1], y[1:] - y[:-1])
    plausible = dist <= speed_max * (t[1:] - t[:-1]) / 1e9
    if patrol_speed_max is not None and len(link):
        cand = np.flatnonzero(link & plausible)
        fast = np.zeros(len(link), bool)
        fast[cand] = sustained_speed(link, t, x, y, cand) > patrol_speed_max
        if excluded is not None:
            f = np.flatnonzero(fast)
            for k, v in zip(EXCLUDED_KEYS, (len(f), int(micro((t[f + 1] - t[f]) / 1e9).sum()),
                                            int(micro(dist[f]).sum()))):
                excluded[k] = excluded.get(k, 0) + v
        plausible &= ~fast
    i = np.flatnonzero(link & plausible)
    return {"w": codes[i], "t0": t[i], "t1": t[i + 1], "x0": x[i], "y0": y[i],
            "x1": x[i + 1], "y1": y[i + 1], "g0": g[i], "g1": g[i + 1], "first": start[i]}


def sustained_speed(link: np.ndarray, t: np.ndarray, x: np.ndarray, y: np.ndarray,
                    i: np.ndarray, half_window_s: float = SPEED_WINDOW_S) -> np.ndarray:
    """Speed (m/s) around each segment ``i`` (fix ``i`` to ``i + 1``): straight distance
    between the first and last fix of its track within ``half_window_s`` of the segment's
    middle (at least the segment's own ends), over their time apart."""
    track = np.r_[0, np.cumsum(~link)]  # a new track after every break
    ms = (t - t.min()) // 1_000_000
    span = int(ms.max()) + 2 * int(half_window_s * 1000) + 2
    if (int(track.max()) + 1) * span >= 2**62:  # cannot happen below ~10^8 tracks a batch
        lo, hi = i, i + 1
    else:
        key = track.astype(np.int64) * span + ms
        mid = track[i].astype(np.int64) * span + (ms[i] + ms[i + 1]) // 2
        half = int(half_window_s * 1000)
        lo = np.minimum(np.searchsorted(key, mid - half, "left"), i)
        hi = np.maximum(np.searchsorted(key, mid + half, "right") - 1, i + 1)
    dt = (t[hi] - t[lo]) / 1e9
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.hypot(x[hi] - x[lo], y[hi] - y[lo]) / dt


def _split_at_windows(seg: dict, starts: np.ndarray, ends: np.ndarray, index: GridIndex) -> dict:
    """Cut segments that cross a window boundary at the interpolated instant; ``win`` is
    the position of each piece's window in ``starts``."""
    win = np.searchsorted(starts, seg["t0"], side="right") - 1
    end = ends[win]
    cut = np.flatnonzero(seg["t1"] > end)
    seg["win"] = win
    if not len(cut):
        return seg
    end = end[cut]
    f = (end - seg["t0"][cut]) / (seg["t1"][cut] - seg["t0"][cut])
    xb = seg["x0"][cut] + f * (seg["x1"][cut] - seg["x0"][cut])
    yb = seg["y0"][cut] + f * (seg["y1"][cut] - seg["y0"][cut])
    gb = index.locate(xb, yb)
    tail = {k: v[cut].copy() for k, v in seg.items()}
    tail.update(t0=end, x0=xb, y0=yb, g0=gb, win=win[cut] + 1, first=np.zeros(len(cut), bool))
    for k, v in (("t1", end), ("x1", xb), ("y1", yb), ("g1", gb)):
        seg[k][cut] = v
    return {k: np.concatenate([seg[k], tail[k]]) for k in seg}


def _pieces(seg: dict, index: GridIndex) -> pd.DataFrame:
    """(segment, grid, fraction) for every piece of every segment inside a grid."""
    same = (seg["g0"] == seg["g1"]) & (seg["g0"] >= 0)
    whole = pd.DataFrame({"s": np.flatnonzero(same), "grid": seg["g0"][same], "frac": 1.0})
    cross = np.flatnonzero(~same)
    if not len(cross):
        return whole
    part = _crossing_pieces(seg["x0"][cross], seg["y0"][cross], seg["x1"][cross],
                            seg["y1"][cross], index)
    part["s"] = cross[part["s"].to_numpy()]
    return pd.concat([whole, part], ignore_index=True)


def _cross2(ax, ay, bx, by):
    return ax * by - ay * bx


def _crossing_pieces(x0, y0, x1, y1, index: GridIndex) -> pd.DataFrame:
    """Cut segments where they cross grid edges (line–line intersection in numpy against
    the edges an STRtree finds); each piece between cuts lies in one grid (or none),
    found by locating its midpoint. Exact, and much cheaper than polygon overlay."""
    ea, eb, tree = index.edges()
    si, ei = tree.query(shapely.linestrings(np.stack([np.column_stack([x0, y0]),
                                                      np.column_stack([x1, y1])], axis=1)))
    dx, dy = (x1 - x0)[si], (y1 - y0)[si]
    ex, ey = (eb - ea)[ei, 0], (eb - ea)[ei, 1]
    wx, wy = ea[ei, 0] - x0[si], ea[ei, 1] - y0[si]
    den = _cross2(dx, dy, ex, ey)
    with np.errstate(invalid="ignore", divide="ignore"):
        u, v = _cross2(wx, wy, ex, ey) / den, _cross2(wx, wy, dx, dy) / den
    hit = (den != 0) & (u > 0) & (u < 1) & (v >= 0) & (v <= 1)
    n = len(x0)
    seg = np.concatenate([si[hit], np.arange(n), np.arange(n)])
    cut = np.concatenate([u[hit], np.zeros(n), np.ones(n)])
    order = np.lexsort((cut, seg))
    seg, cut = seg[order], cut[order]
    nxt = np.flatnonzero((seg[1:] == seg[:-1]) & (cut[1:] > cut[:-1]))
    s, lo, hi = seg[nxt], cut[nxt], cut[nxt + 1]
    mid = (lo + hi) / 2.0
    grid = index.locate(x0[s] + mid * (x1 - x0)[s], y0[s] + mid * (y1 - y0)[s])
    keep = grid >= 0
    return pd.DataFrame({"s": s[keep], "grid": grid[keep], "frac": (hi - lo)[keep]})


def presence(clean: pd.DataFrame, index: GridIndex, windows: Windows, *,
             speed_max: float, max_gap_s: float, patrol_speed_max: float | None = None
             ) -> pd.DataFrame:
    """Seconds, metres, entries and exits per grid, window and worker.

    Parameters
    ----------
    clean : cleaned fixes sorted by worker and time, with metric ``x``, ``y`` in
        ``index.crs`` (the output of :func:`gis.patrol.cleaning.clean_fixes`).
    index : the grids.
    windows : the compliance windows.

    Returns
    -------
    DataFrame : columns ``grid`` (position in ``index``), ``window`` (UTC ns of the window
        start), ``worker``, ``seconds``, ``metres``, ``entries``, ``exits``, sorted by
        grid, window and worker.
    """
    if not len(clean):
        return _empty_presence()
    names, codes = worker_codes(pa.array(clean["worker"].astype(object), type=pa.string()))
    return presence_arrays(names, codes, to_ns(clean["time"]), clean["x"].to_numpy(float),
                           clean["y"].to_numpy(float), index, windows, speed_max=speed_max,
                           max_gap_s=max_gap_s, patrol_speed_max=patrol_speed_max)


def presence_arrays(names: np.ndarray, codes: np.ndarray, t: np.ndarray, x: np.ndarray,
                    y: np.ndarray, index: GridIndex, windows: Windows, *, speed_max: float,
                    max_gap_s: float, patrol_speed_max: float | None = None,
                    excluded: dict | None = None) -> pd.DataFrame:
    """:func:`presence` on arrays sorted by worker code (codes follow ``names`` order)
    and time: the form :func:`gis.patrol.cleaning.clean_arrays` leaves them in.
    ``excluded`` (a dict) receives what the patrol speed rule left out."""
    seg = _segments(codes, t, x, y, index.locate_track(x, y), int(max_gap_s * 1e9), speed_max,
                    patrol_speed_max, excluded)
    if not len(seg["t0"]):
        return _empty_presence()
    starts, ends = windows.table(int(seg["t0"].min()), int(seg["t1"].max()))
    seg = _split_at_windows(seg, starts, ends, index)
    p = _pieces(seg, index)
    if not len(p):  # every segment outside every grid
        return _empty_presence()
    s, g, frac = p["s"].to_numpy(), p["grid"].to_numpy(), p["frac"].to_numpy()
    dur = (seg["t1"][s] - seg["t0"][s]) / 1e9
    dist = np.hypot(seg["x1"][s] - seg["x0"][s], seg["y1"][s] - seg["y0"][s])
    values = np.column_stack([micro(dur * frac), micro(dist * frac),
                              (seg["g0"][s] != g) | seg["first"][s], seg["g1"][s] != g])
    key, sums = _sum_by_key(g, seg["win"][s], seg["w"][s].astype(np.int64), values,
                            len(starts), max(len(names), 1))
    grid, win, worker = key
    return pd.DataFrame({
        "grid": grid, "window": starts[win], "worker": np.asarray(names, object)[worker],
        "seconds": sums[:, 0] / MICRO, "metres": sums[:, 1] / MICRO,
        "entries": sums[:, 2], "exits": sums[:, 3]})


def _sum_by_key(grid, win, worker, values: np.ndarray, n_win: int, n_workers: int):
    """Integer sums of ``values`` rows per (grid, window, worker), sorted by that key
    (one int64 key and ``np.add.reduceat``: exact, and no pandas groupby)."""
    comp = (grid.astype(np.int64) * n_win + win) * n_workers + worker
    order = np.argsort(comp, kind="stable")
    sc = comp[order]
    first = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])
    sums = np.add.reduceat(values.astype(np.int64)[order], first, axis=0)
    k = sc[first]
    rest = k // n_workers
    return (rest // n_win, rest % n_win, k % n_workers), sums


def micro(values) -> np.ndarray:
    """Seconds or metres as integer millionths: integer sums are exact in any order, so
    every partitioning of the work (batches, Dask) gives bit-identical totals."""
    return np.rint(np.asarray(values, dtype=float) * MICRO).astype(np.int64)


def _empty_presence() -> pd.DataFrame:
    return pd.DataFrame({"grid": pd.Series([], dtype=np.int64),
                         "window": pd.Series([], dtype=np.int64),
                         "worker": pd.Series([], dtype=str), "seconds": [], "metres": [],
                         "entries": pd.Series([], dtype=np.int64),
                         "exits": pd.Series([], dtype=np.int64)})
