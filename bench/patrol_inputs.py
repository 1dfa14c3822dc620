"""Issue 15 figures for ``gridgis patrol`` on tracks as they come: a sorted, a shuffled and
a lat-400 copy of a multi-month synthetic file over N×N grid squares; wall time and peak
memory of each run (each in its own process).

    python -m bench.patrol_inputs --grid 100 --workers 20 --days 182 [--out-dir DIR]

Old figures are taken by running the same commands with PYTHONPATH at an older checkout.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

X0, Y0, SIDE = 113.0, 28.0, 0.002  # 0.002° squares, about 200 m


def make_inputs(folder: Path, n: int, workers: int, days: int) -> None:
    boxes = [shapely.box(X0 + i * SIDE, Y0 + j * SIDE, X0 + (i + 1) * SIDE, Y0 + (j + 1) * SIDE)
             for j in range(n) for i in range(n)]
    gpd.GeoDataFrame({"code": [f"G{k:05d}" for k in range(len(boxes))]}, geometry=boxes,
                     crs=4326).to_file(folder / "grids.gpkg")
    rng = np.random.default_rng(0)
    parts = []
    for w in range(workers):  # one hour's walk a day, a fix every 30 s
        start = pd.Timestamp("2026-01-01 08:00") + pd.to_timedelta(np.arange(days), "D")
        t = (start.values[:, None] + np.arange(120)[None, :] * np.timedelta64(30, "s")).ravel()
        lon0 = X0 + rng.uniform(0, n * SIDE, days)[:, None]
        lat0 = Y0 + rng.uniform(0, n * SIDE, days)[:, None]
        step = np.cumsum(rng.normal(0, 1.2 * 30 / 98_300, (days, 120)), axis=1)
        parts.append(pd.DataFrame({
            "worker": f"w{w:03d}", "time": pd.DatetimeIndex(t).strftime("%Y-%m-%d %H:%M:%S"),
            "lon": (lon0 + step).ravel().clip(X0, X0 + n * SIDE),
            "lat": (lat0 + step[:, ::-1]).ravel().clip(Y0, Y0 + n * SIDE)}))
    df = pd.concat(parts, ignore_index=True)
    df.to_csv(folder / "sorted.csv", index=False)
    df.sample(frac=1.0, random_state=1).to_csv(folder / "shuffled.csv", index=False)
    df.loc[len(df) // 2, "lat"] = 400.0
    df.to_csv(folder / "lat400.csv", index=False)


# the child reports its own peak memory at exit (RUSAGE_CHILDREN keeps the maximum of all)
CHILD = ("import atexit, resource, sys\n"
         "atexit.register(lambda: sys.stderr.write('\\nPEAK_RSS_KB %d\\n' % "
         "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))\n"
         "sys.argv = ['gridgis'] + sys.argv[1:]\n"
         "from gis.cli import main\nmain()\n")


def run(folder: Path, tracks: str, *extra: str) -> dict:
    """One CLI run in a child process: its JSON summary, seconds and peak RSS (MB)."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, "patrol", "--tracks",
                           str(folder / tracks), "--grids", str(folder / "grids.gpkg"),
                           "--grid-key", "code", "--json", *extra],
                          capture_output=True, text=True)
    peak = [int(line.split()[1]) for line in proc.stderr.splitlines()
            if line.startswith("PEAK_RSS_KB")]
    out = {"tracks": tracks, "args": list(extra), "exit": proc.returncode,
           "seconds": round(time.perf_counter() - t0, 1),
           "peak_rss_mb": round(peak[-1] / 1024) if peak else None}
    if proc.returncode == 0:
        summary = json.loads(proc.stdout.strip().splitlines()[-1])
        out.update({k: summary.get(k) for k in ("fixes_read", "fixes_kept", "fixes_dropped",
                                                "rows", "patrolled_share")})
    else:
        out["error"] = [line for line in proc.stderr.splitlines() if "error" in line][-1:]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--grid", type=int, default=100)
    ap.add_argument("--workers", type=int, default=20)
    ap.add_argument("--days", type=int, default=182)
    ap.add_argument("--out-dir", type=Path, default=None)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = a.out_dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        make_inputs(folder, a.grid, a.workers, a.days)
        for tracks, extra in (("sorted.csv", ["--out", str(folder / "out.csv")]),
                              ("shuffled.csv", ["--out", str(folder / "out2.csv")]),
                              ("lat400.csv", ["--out", str(folder / "out3.csv")]),
                              ("sorted.csv", ["--summary", str(folder / "per_grid.csv")])):
            print(json.dumps(run(folder, tracks, *extra)), flush=True)


if __name__ == "__main__":
    main()
