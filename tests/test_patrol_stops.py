"""Vectorised stop detection gives exactly the runs of the sequential stay-point scan."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gis.crs import metric_crs
from gis.patrol.stops import _run_ends, _run_starts, _stay_runs, detect_stops


def sequential_runs(w, t, x, y, radius, max_gap_ns):
    """The textbook scan (Li et al. 2008), one fix at a time: the reference."""
    runs, i, n = [], 0, len(t)
    while i < n:
        j = i + 1
        while (j < n and w[j] == w[i] and t[j] - t[j - 1] <= max_gap_ns
               and (x[j] - x[i]) ** 2 + (y[j] - y[i]) ** 2 <= radius ** 2):
            j += 1
        runs.append((i, j - 1))
        i = j
    return runs


def walks_with_stays(seed=3, workers=4, per=3000):
    rng = np.random.default_rng(seed)
    w = np.repeat(np.arange(workers), per)
    moving = rng.random(workers * per) < 0.5
    moving = np.repeat(moving[::60], 60)[: workers * per]  # alternate stays and walks
    step = rng.normal(0, 1, (workers * per, 2)) * np.where(moving, 12.0, 1.0)[:, None]
    xy = np.cumsum(step, axis=0)
    t = np.cumsum(rng.choice([10] * 99 + [700], workers * per)) * 10**9  # some gaps
    return w, t.astype(np.int64), xy[:, 0], xy[:, 1]


def test_runs_equal_sequential_scan():
    w, t, x, y = walks_with_stays()
    gap = 600 * 10**9
    nxt = _run_ends(w, t, x, y, 30.0, gap)
    starts = _run_starts(nxt)
    got = list(zip(starts.tolist(), (nxt[starts] - 1).tolist()))
    want = sequential_runs(w, t, x, y, 30.0, gap)
    assert got == want
    assert sum(1 for a, b in want if b - a >= 20) > 20  # real stays were found
    a, b = _stay_runs(w, t, x, y, 30.0, gap, batch=1000)  # batches of whole workers
    assert list(zip(a.tolist(), b.tolist())) == want


def test_a_long_stay_is_one_stop():
    n = 2000  # 5.5 hours of fixes every 10 s, jittering within 5 m
    rng = np.random.default_rng(1)
    times = pd.Timestamp("2026-10-30 08:00") + pd.to_timedelta(np.arange(n) * 10, "s")
    fixes = pd.DataFrame({"worker": "w", "time": times.tz_localize("Asia/Shanghai").tz_convert("UTC"),
                          "lon": 113.0 + rng.normal(0, 2e-5, n), "lat": 28.0 + rng.normal(0, 2e-5, n),
                          "row": np.arange(1, n + 1)})
    stops = detect_stops(fixes, metric_crs((112.9, 27.9, 113.1, 28.1)), radius=30, min_minutes=3)
    assert len(stops) == 1 and stops["fixes"].iloc[0] == n
    assert stops["minutes"].iloc[0] == (n - 1) * 10 / 60
