"""The cases of :mod:`bench.bench_scaling`, one function per (analysis, implementation).

Each takes the cache directory of a district (:mod:`bench.scaling_data`) and runs in a
fresh process through :func:`bench.common.measure`; where set-up (reading files,
starting a database) is not what is compared, the function times its own core and
returns ``seconds`` beside its figures."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from bench.peers import patrol_minutes_sjoin

LO, HI = 300, 500  # households per grid


def hwm_mb() -> float:
    """Peak resident memory of this process alone (``VmHWM``: unlike ``ru_maxrss``, it
    starts afresh at exec, so it does not inherit the benchmark runner's own peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _read(folder: str, name: str) -> gpd.GeoDataFrame:
    return gpd.read_parquet(Path(folder) / f"{name}.parquet")


# --- assignment of the incidents to the grids ------------------------------------------

def assign_cli(folder: str, out: str) -> dict:
    """The whole ``gridgis assign`` process, as a user runs it (CSV in, CSV out)."""
    f = Path(folder)
    cmd = [str(Path(sys.executable).with_name("gridgis")), "assign", str(f / "incidents.csv"),
           "--grids", str(f / "grids.parquet"), "--grid-key", "code", "--lon", "lon",
           "--lat", "lat", "--out", out, "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    summary = json.loads(done.stdout)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    summary["child_peak_mb"] = usage.ru_maxrss / 1024
    return summary


def assign_sjoin(folder: str, out: str) -> dict:
    """The same work as a GeoPandas user writes it: read_csv, sjoin, to_csv."""
    f = Path(folder)
    df = pd.read_csv(f / "incidents.csv")
    pts = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs=4326)
    grids = gpd.read_parquet(f / "grids.parquet")[["code", "geometry"]]
    joined = gpd.sjoin(pts, grids, how="left", predicate="intersects")
    joined = joined[~joined.index.duplicated()]
    joined.drop(columns=["geometry", "index_right"]).to_csv(out, index=False)
    return {"hwm_mb": hwm_mb(),
            "rows": len(joined), "assigned": int(joined["code"].notna().sum())}


def assign_dask(folder: str) -> dict:
    """:func:`gis.distributed.assign.assign_points_dask` on a 2-process LocalCluster
    (the time includes starting the cluster: that is what a batch run pays)."""
    from gis.distributed.assign import assign_points_dask

    pts, grids = _read(folder, "incidents"), _read(folder, "grids")
    out = assign_points_dask(pts, grids, "code", scheduler="local")
    return {"hwm_mb": hwm_mb(),
            "rows": len(out), "assigned": int(out["grid"].notna().sum()),
            "grid": out["grid"].fillna("").to_numpy(dtype=object)}


def assign_agreement(ours_csv: str, sjoin_csv: str) -> dict:
    """Share of unflagged points where gridgis and sjoin name the same grid."""
    ours = pd.read_csv(ours_csv, usecols=["grid", "boundary"], dtype=str, keep_default_na=False)
    peer = pd.read_csv(sjoin_csv, usecols=["code"], dtype=str, keep_default_na=False)
    plain = ours["boundary"].str.lower() == "false"
    same = ours["grid"].to_numpy()[plain] == peer["code"].to_numpy()[plain]
    return {"agree_unflagged": round(float(same.mean()), 6) if plain.any() else None}


# --- partition of one township's communities -------------------------------------------

def township_units(folder: str):
    """Buildings and rural address points of the median township (by households)."""
    b, ap = _read(folder, "buildings"), _read(folder, "address_points")
    units = pd.concat([b[["households", "community_code", "geometry"]],
                       ap[["households", "community_code", "geometry"]]], ignore_index=True)
    units = gpd.GeoDataFrame(units, geometry="geometry", crs=b.crs)
    per_town = units.groupby(units["community_code"].str[:9])["households"].sum().sort_values()
    town = per_town.index[len(per_town) // 2]
    return units[units["community_code"].str[:9] == town].reset_index(drop=True), town


def _bounds_share(households: np.ndarray) -> float:
    return round(float(((households >= LO) & (households <= HI)).mean()), 4)


def partition_gridgis(folder: str) -> dict:
    """:func:`gis.partition.partition` of every community of the township."""
    from gis.partition import partition

    units, town = township_units(folder)
    admin, roads = _read(folder, "admin_units"), _read(folder, "roads")
    coms = admin[(admin["level"] == "community") & (admin["code"].str[:9] == town)]
    t0 = time.perf_counter()
    grids = []
    for code, geom in zip(coms["code"], coms.geometry):
        parent = gpd.GeoDataFrame({"code": [code]}, geometry=[geom], crs=admin.crs)
        res = partition(units[units["community_code"] == code], "households", parent=parent,
                        roads=roads, community_code=code)
        grids.append(res.grids)
    seconds = time.perf_counter() - t0
    hh = pd.concat(grids)["households"].to_numpy()
    basic = pd.concat(grids)["kind"].to_numpy() == "basic"
    return {"hwm_mb": hwm_mb(),
            "seconds": seconds, "township": town, "units": len(units), "grids": len(hh),
            "households": int(units["households"].sum()),
            "within_bounds_share": _bounds_share(hh[basic])}


def partition_maxp(folder: str, construction: int = 3, annealing: int = 1) -> dict:
    """spopt max-p on the same units (6-nearest-neighbour contiguity: the units are
    points and footprints, not a tessellation), floor 300 households per region."""
    from libpysal.weights import KNN
    from spopt.region import MaxPHeuristic

    units, town = township_units(folder)
    units = units.to_crs(units.estimate_utm_crs())
    units["geometry"] = units.geometry.centroid
    t0 = time.perf_counter()
    w = KNN.from_dataframe(units, k=6, use_index=False).symmetrize()  # max-p needs symmetry
    model = MaxPHeuristic(units, w, ["households"], "households", LO, top_n=2,
                          max_iterations_construction=construction,
                          max_iterations_sa=annealing, verbose=False)
    model.solve()
    seconds = time.perf_counter() - t0
    hh = units.groupby(np.asarray(model.labels_))["households"].sum().to_numpy()
    return {"hwm_mb": hwm_mb(),
            "seconds": seconds, "township": town, "units": len(units), "grids": len(hh),
            "households": int(units["households"].sum()),
            "within_bounds_share": _bounds_share(hh),
            "params": f"construction={construction}, annealing={annealing}, KNN k=6 symmetrised"}


# --- camera coverage per grid ------------------------------------------------------------

def _coverage_inputs(folder: str) -> dict:
    return {"cameras": _read(folder, "cameras"), "buildings": _read(folder, "buildings"),
            "grids": _read(folder, "grids"), "roads": _read(folder, "roads"),
            "incidents": _read(folder, "incidents")}


def coverage_gridgis(folder: str) -> dict:
    from gis.coverage import coverage

    layers = _coverage_inputs(folder)
    t0 = time.perf_counter()
    res = coverage(layers.pop("cameras"), layers.pop("buildings"), layers.pop("grids"),
                   **layers)
    return {"hwm_mb": hwm_mb(),
            "seconds": time.perf_counter() - t0, **_coverage_figures(res)}


def coverage_dask(folder: str) -> dict:
    """Same analysis on a 2-process LocalCluster (time includes the cluster start)."""
    from gis.distributed.coverage import coverage_dask as run

    layers = _coverage_inputs(folder)
    t0 = time.perf_counter()
    res = run(layers.pop("cameras"), layers.pop("buildings"), layers.pop("grids"),
              scheduler="local", **layers)
    return {"hwm_mb": hwm_mb(),
            "seconds": time.perf_counter() - t0, **_coverage_figures(res)}


def _coverage_figures(res) -> dict:
    s = res.summary
    return {"cameras": s["cameras_used"], "grids": s["grids"],
            "coverage_ratio": s["coverage_ratio"], "blind_spots": s["blind_spots"],
            "covered_m2": s["covered_m2"]}


# --- half-day patrol compliance -----------------------------------------------------------

def patrol_gridgis(folder: str) -> dict:
    """Tracks CSV (streamed, cleaned, segments cut at grid edges) to the compliance table."""
    from gis.patrol import GridIndex, PatrolParams, compliance_table, window_starts
    from gis.patrol.engine import patrol_presence_file

    params = PatrolParams()
    grids = _read(folder, "grids")
    t0 = time.perf_counter()
    index = GridIndex(grids, "code")
    res = patrol_presence_file(Path(folder) / "patrol_points.csv", index, params)
    starts = window_starts(params.windows, res.first_ns, res.last_ns)
    table = compliance_table(res.presence, index.keys, params.windows, starts, min_minutes=5.0)
    return {"hwm_mb": hwm_mb(),
            "seconds": time.perf_counter() - t0, "grid_windows": len(table),
            "patrolled_share": round(float(table["patrolled"].mean()), 4),
            "minutes": round(float(table["minutes"].sum()), 1)}


def patrol_sjoin(folder: str) -> dict:
    """The analyst's way: read_csv, sjoin, time to the next fix summed with groupby."""
    grids = _read(folder, "grids")
    t0 = time.perf_counter()
    df = pd.read_csv(Path(folder) / "patrol_points.csv")
    df["time"] = pd.to_datetime(df["time"], utc=True).dt.tz_convert("Asia/Shanghai")
    minutes = patrol_minutes_sjoin(df, grids)
    return {"hwm_mb": hwm_mb(),
            "seconds": time.perf_counter() - t0, "grid_windows": len(minutes),
            "patrolled_share": round(float((minutes >= 5).mean()), 4),
            "minutes": round(float(minutes.sum()), 1)}


# --- bulk import of the incidents into PostGIS ----------------------------------------------

def import_incidents(folder: str) -> dict:
    """A throwaway embedded cluster (fsync off): communities and grids loaded first (not
    timed), then the incidents CSV through :func:`gis.services.imports.import_file` (every
    check, the grids located by the library path, one binary COPY of the rows and one of
    their report events: :mod:`gis.store.incident_loader`), then the same rows with
    ``GeoDataFrame.to_postgis`` into a plain table (no checks, no assignment)."""
    import os
    import shutil
    import tempfile

    from gis.store.db import make_engine, migrate, transaction
    from gis.store.embedded import EmbeddedCluster
    from gis.services.imports import import_file
    from gis.store.importer import import_frame

    root = Path(tempfile.mkdtemp(prefix="gg-bench-"))
    os.chmod(root, 0o755)  # the server user must enter it when we run as root
    cluster = EmbeddedCluster(root, durable=False)
    try:
        cluster.start()
        engine = make_engine(cluster.url())
        migrate(engine)
        admin, grids = _read(folder, "admin_units"), _read(folder, "grids")
        with transaction(engine) as session:
            import_frame(session, "admin_units", admin)
            import_frame(session, "grids", grids)
        t0 = time.perf_counter()
        rep = import_file(engine, "incidents", Path(folder) / "incidents.csv")
        ours = time.perf_counter() - t0
        incidents = _read(folder, "incidents")
        t0 = time.perf_counter()
        incidents.to_postgis("incidents_peer", engine, chunksize=10_000)
        peer = time.perf_counter() - t0
        engine.dispose()
    finally:
        cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)
    return {"hwm_mb": hwm_mb(),
            "gridgis_s": ours, "peer_s": peer, "rows": rep.rows_loaded,
            "assigned": (rep.assignment or {}).get("assigned")}


# --- county coverage at a growing camera count (issue 19) --------------------------------

def _cpu_s() -> float:
    """CPU seconds of this process and of its waited-for children (the fork pool)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def coverage_county(folder: str, cameras_path: str, impl: str) -> dict:
    """The whole analysis on the district with the cameras of ``cameras_path``:
    ``impl`` "gridgis" (every core) or "before" (:mod:`bench.coverage_before`)."""
    from bench.coverage_before import coverage_before
    from gis.coverage import coverage

    layers = _coverage_inputs(folder)
    layers["cameras"] = gpd.read_parquet(cameras_path)
    run = coverage if impl == "gridgis" else coverage_before
    t0, cpu0 = time.perf_counter(), _cpu_s()
    res = run(layers.pop("cameras"), layers.pop("buildings"), layers.pop("grids"), **layers)
    seconds, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
    kids_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"hwm_mb": hwm_mb(), "seconds": seconds, "cpu_s": round(cpu, 1),
            "worker_peak_mb": round(kids_mb, 1) if impl == "gridgis" else None,
            "load_avg": round(os.getloadavg()[0], 1), **_coverage_figures(res),
            "per_grid": res.grid_coverage[["target_m2", "covered_m2", "blind_m2"]].to_numpy()}
