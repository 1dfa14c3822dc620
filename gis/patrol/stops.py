"""Stops and household visits: a worker standing still near a building for a few
minutes is counted as a visit (入户走访); the norm is five households a day.

A *stop* is a maximal run of consecutive fixes of one worker that all stay within
``radius`` metres of the run's first fix, lasting at least ``min_minutes`` (the
classic stay-point rule of Li et al., 2008). The scan is sequential by nature; it runs
over plain arrays, one pass per fix, which is fast enough for a day of a district's
tracks. A stop whose centre lies within ``distance`` of a building footprint visits
the nearest such building; a building counts once per worker per day.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.patrol.cleaning import DEFAULT_MAX_GAP_S, to_metric
from gis.patrol.windows import DEFAULT_TZ, to_ns

DAILY_VISIT_NORM = 5  # households visited per grid worker per day


def _stay_runs(w: np.ndarray, t: np.ndarray, x: np.ndarray, y: np.ndarray, radius: float,
               max_gap_ns: int) -> list[tuple[int, int]]:
    """(first, last) fix of every run staying within ``radius`` of its first fix."""
    runs, i, n = [], 0, len(t)
    r2 = radius * radius
    while i < n:
        j = i + 1
        while (j < n and w[j] == w[i] and t[j] - t[j - 1] <= max_gap_ns
               and (x[j] - x[i]) ** 2 + (y[j] - y[i]) ** 2 <= r2):
            j += 1
        runs.append((i, j - 1))
        i = j
    return runs


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
    runs = np.array(_stay_runs(w.tolist(), t.tolist(), x.tolist(), y.tolist(), radius,
                               int(max_gap_s * 1e9)), dtype=np.int64).reshape(-1, 2)
    a, b = runs[:, 0], runs[:, 1]
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
