"""Benchmark: half-day patrol compliance for N GPS fixes against G grids.

Synthetic city: G Voronoi grids around lon 113, lat 28 (about 0.3 km² each); grid
workers walk random walks along a 100 m street lattice at 1.25 m/s with a fix every
10 s (3 m GPS noise, 0.1 % teleports, 0.1 % duplicated rows), starting at 07:00 so
the walks cross noon; the CSV is ordered by time, as a server log is.

Cases, each in a fresh process (wall time and peak memory of that process):
* ``gridgis``      one machine: CSV streamed into worker-hashed partition files, then
  each partition cleaned and joined (two at a time) → compliance table;
* ``gridgis-dask`` the same on a Dask LocalCluster of 2 worker processes (peak_mb is
  the client's; ``worker_peak_mb`` the largest worker's); in quick mode the workers are
  threads (``processes=False``): starting worker processes would dominate at 200k fixes;
* ``geopandas``    the analyst's way: ``read_csv`` → ``points_from_xy`` → ``sjoin`` →
  time to the next fix summed with ``groupby`` (no cleaning, no segment splitting).
Quality fields: ``agree`` (share of grid-windows with the same patrolled verdict as
gridgis) and ``minutes`` (total minutes in grids).

``python -m bench.bench_patrol [--quick] [--fixes N --grids G]``
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import shapely

from bench.common import measure, row
from gis.patrol import GridIndex, PatrolParams
from gis.patrol.engine import patrol_presence_file
from gis.patrol.compliance import compliance_table, window_starts
from gis.patrol.distributed import dask_client, patrol_presence_dask
from bench.peers import patrol_minutes_sjoin

SEED = 6
STEP_S, STEP_M, LEG = 10, 12.5, 8  # a fix every 10 s, 12.5 m apart, 100 m between corners
GRID_KM2 = 0.3


def make_grids(n: int, seed: int = SEED) -> gpd.GeoDataFrame:
    """``n`` Voronoi grids of about 0.3 km² in a square around (113, 28)."""
    rng = np.random.default_rng(seed)
    half = np.sqrt(n * GRID_KM2) / 2 / 111.0  # degrees of latitude
    lon_half = half / np.cos(np.radians(28))
    frame = shapely.box(113 - lon_half, 28 - half, 113 + lon_half, 28 + half)
    seeds = rng.uniform([113 - lon_half, 28 - half], [113 + lon_half, 28 + half], (n, 2))
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=frame))
    return gpd.GeoDataFrame({"code": [f"G{i:05d}" for i in range(len(cells))]},
                            geometry=shapely.intersection(cells, frame), crs=4326)


def make_tracks(n_fixes: int, grids: gpd.GeoDataFrame, path: Path, seed: int = SEED) -> Path:
    """Random walks on a street lattice, written as a time-ordered CSV."""
    rng = np.random.default_rng(seed)
    per = 4_000  # fixes per worker: 11 hours
    workers = max(1, n_fixes // per)
    n = workers * per
    minx, miny, maxx, maxy = grids.total_bounds
    m_lat, m_lon = 1 / 111_320.0, 1 / (111_320.0 * np.cos(np.radians(28)))
    dirs = np.array([[1, 0], [-1, 0], [0, 1], [0, -1]], dtype=float) * STEP_M
    legs = rng.integers(0, 4, (workers, per // LEG + 1))
    steps = np.repeat(dirs[legs], LEG, axis=1)[:, :per]  # (workers, per, 2) metres
    xy = np.cumsum(steps, axis=1) + rng.normal(0, 3.0, (workers, per, 2))
    start = rng.uniform([minx + 0.02, miny + 0.02], [maxx - 0.02, maxy - 0.02], (workers, 2))
    lon = (start[:, None, 0] + xy[..., 0] * m_lon).ravel()
    lat = (start[:, None, 1] + xy[..., 1] * m_lat).ravel()
    t0 = pd.Timestamp("2026-10-30 07:00").value // 10**9
    t = (t0 + rng.integers(0, 600, workers)[:, None] + np.arange(per) * STEP_S).ravel()
    w = np.repeat(np.arange(workers), per)
    bad = rng.choice(n, n // 1000, replace=False)
    lon[bad] += 0.05  # teleports, ~5 km
    dup = rng.choice(n, n // 1000, replace=False)
    order = np.argsort(np.concatenate([t, t[dup]]), kind="stable")
    cols = [np.concatenate([a, a[dup]])[order] for a in (w, t, lon, lat)]
    names = pa.array([f"w{i:05d}" for i in range(workers)])
    table = pa.table({
        "worker": pa.DictionaryArray.from_arrays(pa.array(cols[0], pa.int32()), names).cast(pa.string()),
        "time": pa.array(cols[1], pa.timestamp("s")),
        "lon": np.round(cols[2], 6), "lat": np.round(cols[3], 6)})
    pacsv.write_csv(table, path)
    return path


def make_files(folder: str, n_fixes: int, n_grids: int) -> tuple[str, str]:
    """The grids (GeoParquet) and tracks (CSV) files of one benchmark size."""
    gpath = Path(folder) / "grids.parquet"
    g = make_grids(n_grids)
    g.to_parquet(gpath)
    return str(gpath), str(make_tracks(n_fixes, g, Path(folder) / "tracks.csv"))


def _compliance(res, index, params):

    starts = window_starts(params.windows, res.first_ns, res.last_ns)
    return compliance_table(res.presence, index.keys, params.windows, starts, min_minutes=5.0)


def _summary(table) -> dict:
    return {"verdicts": table["patrolled"].to_numpy(), "minutes": float(table["minutes"].sum()),
            "rows": len(table)}


def _cpu() -> float:
    """CPU seconds of this process, all threads (the machine is shared: wall time alone
    says little about the code)."""
    return time.process_time()


def _worker_usage() -> tuple[float, float]:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_maxrss / 1024.0, use.ru_utime + use.ru_stime


def case_gridgis(tracks: str, grids_path: str) -> dict:

    cpu = _cpu()
    params = PatrolParams()
    index = GridIndex(gpd.read_parquet(grids_path), "code")
    res = patrol_presence_file(tracks, index, params)
    return {**_summary(_compliance(res, index, params)), "dropped": res.dropped,
            "cpu_s": round(_cpu() - cpu, 2)}


def case_dask(tracks: str, grids_path: str, processes: bool = True) -> dict:

    cpu = _cpu()
    params = PatrolParams()
    index = GridIndex(gpd.read_parquet(grids_path), "code")
    with dask_client("local", n_workers=2, processes=processes) as client:
        address = client.scheduler.address
        res = patrol_presence_dask(tracks, index, params, scheduler=address)
        usage = client.run(_worker_usage) if processes else {}
    workers_cpu = sum(c for _, c in usage.values())  # worker processes (incl. start-up)
    return {**_summary(_compliance(res, index, params)), "cpu_s": round(_cpu() - cpu + workers_cpu, 2),
            "worker_peak_mb": max((m for m, _ in usage.values()), default=None)}


def case_geopandas(tracks: str, grids_path: str) -> dict:
    """What an analyst would write: every fix stands for the time until the next one."""
    cpu = _cpu()
    grids = gpd.read_parquet(grids_path)
    df = pd.read_csv(tracks)
    df["time"] = pd.to_datetime(df["time"]).dt.tz_localize("Asia/Shanghai")
    minutes = patrol_minutes_sjoin(df, grids)
    return {"verdicts": (minutes >= 5).to_numpy(), "minutes": float(minutes.sum()),
            "rows": len(minutes), "cpu_s": round(_cpu() - cpu, 2)}


def run(quick: bool = False, fixes: int | None = None, grids: int | None = None) -> list[dict]:
    n_fixes = fixes or (200_000 if quick else 10_000_000)
    n_grids = grids or (500 if quick else 10_000)
    size = f"{n_fixes:,} fixes x {n_grids:,} grids"
    with tempfile.TemporaryDirectory(prefix="bench_patrol_") as tmp:
        # generated in a child: a spawned case inherits this process's peak memory
        gpath, tpath = measure(make_files, tmp, n_fixes, n_grids)["result"]
        rows, ref = [], None
        for impl, fn, *more in (("gridgis", case_gridgis), ("gridgis-dask", case_dask, not quick),
                                ("geopandas", case_geopandas)):
            m = measure(fn, str(tpath), str(gpath), *more)
            res = m["result"]
            ref = res if ref is None else ref
            same = len(res["verdicts"]) == len(ref["verdicts"])
            agree = float((res["verdicts"] == ref["verdicts"]).mean()) if same else None
            extra = {k: v for k, v in res.items() if k in ("worker_peak_mb", "dropped", "cpu_s")}
            rows.append(row("patrol", size, impl, m["seconds"], m["peak_mb"],
                            fixes_per_s=round(n_fixes / m["seconds"]), rows=res["rows"],
                            minutes=round(res["minutes"], 1), agree=agree, **extra))
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--fixes", type=int)
    ap.add_argument("--grids", type=int)
    a = ap.parse_args()
    for r in run(a.quick, a.fixes, a.grids):
        print(json.dumps(r, default=str))
