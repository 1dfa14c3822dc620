"""Stops and household visits: a worker standing still near a building for a few
minutes is counted as a visit (入户走访); the norm is five households a day.

A *stop* is a maximal run of consecutive fixes of one worker that all stay within
``radius`` metres of the run's first fix, lasting at least ``min_minutes`` (the
classic stay-point rule of Li et al., 2008). The rule reads like a sequential scan; it is
computed without one: where a run starting at each fix would end (whole-array shifts,
and binary lifting over a box table for the few fixes that stand still and can start
a run), then which fixes the greedy scan starts runs at (pointer doubling). The result
equals the scan's exactly (tested), 2–3 times faster than a Python loop at 1M fixes.
A stop whose centre lies within ``distance`` of a building footprint visits the
nearest such building; a building counts once per worker per day.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.patrol.cleaning import DEFAULT_MAX_GAP_S, to_metric
from gis.patrol.windows import DEFAULT_TZ, to_ns

DAILY_VISIT_NORM = 5  # households visited per grid worker per day


def _boxes(x: np.ndarray, y: np.ndarray, levels: int) -> np.ndarray:
    """``B[k, :, p]`` = (min x, max x, min y, max y) of fixes ``p .. p + 2**k - 1``
    (clipped at the end): a sparse table built by doubling, with contiguous slices."""
    n = len(x)
    out = np.empty((levels + 1, 4, n))
    out[0] = (x, x, y, y)
    for k in range(1, levels + 1):
        h, prev, cur = 1 << (k - 1), out[k - 1], out[k]
        cur[:] = prev  # the tail (fewer than h fixes ahead) keeps its box
        if h < n:
            np.minimum(prev[0::2, : n - h], prev[0::2, h:], out=cur[0::2, : n - h])
            np.maximum(prev[1::2, : n - h], prev[1::2, h:], out=cur[1::2, : n - h])
    return out


def _run_ends(w: np.ndarray, t: np.ndarray, x: np.ndarray, y: np.ndarray, radius: float,
              max_gap_ns: int, near: int = 8) -> np.ndarray:
    """``nxt[i]``: the first fix after ``i`` that ends a run starting at ``i`` (another
    worker, a gap, or farther than ``radius`` from fix ``i``), exact for every fix that
    can start a run of the greedy scan; any later fix for the others.

    1. The first ``near`` offsets are checked for every fix with whole-array shifts (no
       gathers): a walking fix's run ends there.
    2. A fix whose run is longer (it stands still) matters only if some run ends at it
       (or it is fix 0); only those are followed further, by :func:`_lift`, and so are
       the fixes their runs end at, until no new one appears. A stay of many fixes thus
       costs one search, not one per fix.
    """
    n = len(t)
    cut = np.r_[True, (w[1:] != w[:-1]) | (np.diff(t) > max_gap_ns), True]
    breaks = np.flatnonzero(cut)  # a run never contains a break position after its start
    limit = breaks[np.searchsorted(breaks, np.arange(n), side="right")]
    nxt, open_ = np.arange(n) + 1, np.ones(n, bool)
    r2 = radius * radius
    for k in range(1, near + 1):
        stop = open_ & (np.arange(n) + k >= limit)
        far = np.zeros(n, bool)
        far[: n - k] = (x[k:] - x[: n - k]) ** 2 + (y[k:] - y[: n - k]) ** 2 > r2
        stop |= open_ & far
        nxt[stop] = np.minimum(np.arange(n)[stop] + k, limit[stop])
        open_ &= ~stop
    reached = np.zeros(n + 1, bool)
    reached[0] = True
    reached[nxt[~open_]] = True
    todo = np.flatnonzero(reached[:n] & open_)
    boxes = _boxes(np.asarray(x, float), np.asarray(y, float), 6) if len(todo) else None
    while len(todo):
        nxt[todo] = _lift(todo, todo + near + 1, limit, boxes, x, y, r2)
        open_[todo] = False
        ends = nxt[todo]
        todo = np.unique(ends[ends < n])
        todo = todo[open_[todo]]
    return nxt


def _lift(start: np.ndarray, pos: np.ndarray, limit: np.ndarray, boxes: np.ndarray,
          x: np.ndarray, y: np.ndarray, r2: float) -> np.ndarray:
    """Run ends for fixes ``start`` known to stay near up to ``pos - 1``, by binary
    lifting: if the bounding box of the next 2**k fixes lies wholly within the radius
    (its four corners do: a disc is convex) the step is taken and doubled, else halved;
    a refused single fix ends the run."""
    n, levels = len(x), boxes.shape[0] - 1
    out = np.minimum(pos, limit[start])
    alive = np.flatnonzero(pos < limit[start])
    pos, lvl = pos[alive], np.full(len(alive), min(3, levels), np.int64)
    while len(alive):
        i = start[alive]
        room = pos + (1 << lvl) <= limit[i]
        p = np.minimum(pos, n - 1)
        b = [boxes[lvl, c, p] for c in range(4)]
        dx = np.maximum(np.abs(b[0] - x[i]), np.abs(b[1] - x[i]))
        dy = np.maximum(np.abs(b[2] - y[i]), np.abs(b[3] - y[i]))
        near = room & (dx * dx + dy * dy <= r2)
        pos = np.where(near, pos + (1 << lvl), pos)
        done = (~near & (lvl == 0)) | (pos >= limit[i])
        out[alive[done]] = np.minimum(pos[done], limit[i[done]])
        lvl = np.where(near, np.minimum(lvl + 1, levels), np.maximum(lvl - 1, 0))
        go = ~done
        alive, pos, lvl = alive[go], pos[go], lvl[go]
    return out


def _run_starts(nxt: np.ndarray) -> np.ndarray:
    """Fixes reached from fix 0 by following ``nxt`` (the greedy run starts), found by
    pointer doubling: after step k every start up to 2^(k+1) runs along is marked, so
    log2(n) vectorised steps replace the walk along the chain."""
    n = len(nxt)
    if not n:
        return np.array([], dtype=np.int64)
    jump = np.r_[nxt, n]  # n: past the end, a fixed point
    on = np.zeros(n + 1, bool)
    on[0] = True
    while True:
        on[jump[np.flatnonzero(on)]] = True
        jump = jump[jump]
        if jump[0] == n:
            break
    return np.flatnonzero(on[:n])


def _stay_runs(w, t, x, y, radius: float, max_gap_ns: int, batch: int = 500_000):
    """(first, last) fix of every run, computed in batches of whole workers (a run never
    spans two workers) so the box table stays small."""
    n = len(t)
    heads = np.flatnonzero(np.r_[True, w[1:] != w[:-1]]) if n else np.array([], np.int64)
    cut = np.minimum(np.searchsorted(heads, np.arange(batch, n, batch)), max(len(heads) - 1, 0))
    bounds = np.unique(np.r_[0, heads[cut] if len(heads) else [], n]).astype(np.int64)
    firsts, lasts = [], []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        nxt = _run_ends(w[lo:hi], t[lo:hi], x[lo:hi], y[lo:hi], radius, max_gap_ns)
        a = _run_starts(nxt)
        firsts.append(a + lo)
        lasts.append(nxt[a] - 1 + lo)
    if not firsts:
        return np.array([], np.int64), np.array([], np.int64)
    return np.concatenate(firsts), np.concatenate(lasts)


def detect_stops(fixes: pd.DataFrame, crs, *, radius: float = 30.0, min_minutes: float = 3.0,
                 max_gap_s: float = DEFAULT_MAX_GAP_S) -> pd.DataFrame:
    """Stays of at least ``min_minutes`` within ``radius`` metres.

    Returns
    -------
    DataFrame : ``worker``, ``start``, ``end`` (UTC), ``minutes``, ``fixes``, and the
        stop centre as ``lon``/``lat`` and metric ``x``/``y`` in ``crs``.
    """
    f = fixes.dropna(subset=["worker", "time", "lon", "lat"]).sort_values(["worker", "time"])
    x, y = to_metric(f["lon"].to_numpy(), f["lat"].to_numpy(), crs)
    w, t = pd.factorize(f["worker"])[0], to_ns(f["time"])
    a, b = _stay_runs(w, t, x, y, radius, int(max_gap_s * 1e9))
    long = (t[b] - t[a]) >= min_minutes * 60e9
    a, b = a[long], b[long]
    csum = lambda v: np.r_[0.0, np.cumsum(v)]  # noqa: E731  (mean over each run)
    cx, cy, cl, ct = csum(x), csum(y), csum(f["lon"].to_numpy()), csum(f["lat"].to_numpy())
    cnt = b - a + 1
    return pd.DataFrame({
        "worker": f["worker"].to_numpy()[a], "start": f["time"].to_numpy()[a],
        "end": f["time"].to_numpy()[b], "minutes": (t[b] - t[a]) / 60e9, "fixes": cnt,
        "lon": (cl[b + 1] - cl[a]) / cnt, "lat": (ct[b + 1] - ct[a]) / cnt,
        "x": (cx[b + 1] - cx[a]) / cnt, "y": (cy[b + 1] - cy[a]) / cnt})


def household_visits(stops: pd.DataFrame, buildings: gpd.GeoDataFrame, crs, *,
                     distance: float = 30.0, tz: str = DEFAULT_TZ, key: str | None = None,
                     norm: int = DAILY_VISIT_NORM) -> pd.DataFrame:
    """Distinct buildings visited per worker per local day, against the norm.

    Parameters
    ----------
    stops : output of :func:`detect_stops` (metric ``x``/``y`` in ``crs``).
    buildings : footprints (any CRS); ``key`` names them (row position when None).

    Returns
    -------
    DataFrame : ``worker``, ``day``, ``visits``, ``stops``, ``meets_norm``.
    """
    if stops.empty:  # no stops: their empty time column carries no zone to convert
        return pd.DataFrame({"worker": pd.Series(dtype=object), "day": pd.Series(dtype=object),
                             "visits": pd.Series(dtype=np.int64),
                             "stops": pd.Series(dtype=np.int64),
                             "meets_norm": pd.Series(dtype=bool)})
    feet = buildings.geometry.to_crs(crs).to_numpy()
    pts = shapely.points(stops["x"].to_numpy(), stops["y"].to_numpy())
    si, bi = shapely.STRtree(feet).query_nearest(pts, max_distance=distance, all_matches=False)
    ids = buildings[key].to_numpy() if key else np.arange(len(buildings))
    day = pd.DatetimeIndex(stops["start"]).tz_convert(tz).strftime("%Y-%m-%d")
    st = pd.DataFrame({"worker": stops["worker"].to_numpy(), "day": np.asarray(day)})
    visits = st.iloc[si].assign(building=ids[bi]).drop_duplicates()
    out = st.groupby(["worker", "day"]).size().rename("stops").to_frame()
    out["visits"] = visits.groupby(["worker", "day"]).size().reindex(out.index, fill_value=0)
    out["meets_norm"] = out["visits"] >= norm
    return out.reset_index()[["worker", "day", "visits", "stops", "meets_norm"]]
