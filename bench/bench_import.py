"""Benchmark: importing incidents into PostGIS with every check and the grid assignment
(issue 19), beside ``GeoDataFrame.to_postgis`` (no checks, no grids) in the same run.

Data: the grids of :mod:`bench.bench_assign` (10,000 Voronoi cells, 0.5° box) published
in a throwaway embedded cluster (fsync off), with their communities; incidents CSVs of
10,000 → 100,000 → 1,000,000 rows (``quick``: 10,000 and 100,000) from
:func:`bench.bench_assign.make_points` (5 % on or near a boundary) with an external id,
a category, a description and a report time. For each size the two are run
interleaved, gridgis first: ``gridgis import`` (:func:`gis.services.imports.import_file`:
read, validate, COPY into a stage, the unique-key and reference checks, the assignment
to grids with boundary flags and candidates, one INSERT, the report events and the
audit row, one transaction), then ``to_postgis`` of the same rows as a GeoDataFrame
(its read of the CSV not timed) into a table of its own, each into an empty table.
Up to 100,000 rows a third case imports the file twice in one process and times the
second import: the web service's uploads after its first, on grids it has prepared
already (:func:`gis.store.import_grids.prepared_grids`).

``ratio`` is to_postgis' seconds over gridgis' (above 1: gridgis is faster); ``growth``
is the exponent b of seconds ~ n^b fitted over the sizes (1: linear). ``load`` is the
machine's 1-minute load average when the pair ran (the machine is shared).
Run: ``.venv/bin/python -m bench.bench_import [--quick]``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.bench_assign import make_grids, make_points
from bench.bench_assign_pg import _start_cluster, load_grids
from bench.common import measure, row

SIZES = {False: (10_000, 100_000, 1_000_000), True: (10_000, 100_000)}
AGAIN_UP_TO = 100_000  # rows: where preparing the grids is a large share of an import
CATEGORIES = ("dispute", "security_hazard", "safety_hazard", "public_facility", "environment")


def write_incidents(path: Path, n: int, grids) -> None:
    pts = make_points(n, grids, seed=n)
    rng = np.random.default_rng(n)
    pts["event_id"] = [f"E{i:08d}" for i in range(n)]
    pts["category"] = np.asarray(CATEGORIES)[rng.integers(0, len(CATEGORIES), n)]
    pts["reported_at"] = "2024-05-01T08:00:00+08:00"
    pts = pts.rename(columns={"Longitude": "lon", "Latitude": "lat", "note": "description"})
    pts[["event_id", "lon", "lat", "category", "description", "reported_at"]].to_csv(
        path, index=False)


def import_gridgis(url: str, path: str) -> dict:
    from sqlalchemy import text

    from gis.services.imports import import_file
    from gis.store.db import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE incidents RESTART IDENTITY CASCADE"))
    t0 = time.perf_counter()
    rep = import_file(engine, "incidents", path)
    seconds = time.perf_counter() - t0
    engine.dispose()
    return {"seconds": seconds, "rows": rep.rows_loaded, **(rep.assignment or {})}


def import_gridgis_again(url: str, path: str) -> dict:
    """The same import twice in one process; the second one timed."""
    import_gridgis(url, path)
    return import_gridgis(url, path)


def import_to_postgis(url: str, path: str) -> dict:
    import geopandas as gpd
    import pandas as pd

    from gis.store.db import make_engine

    df = pd.read_csv(path)
    gdf = gpd.GeoDataFrame(df.drop(columns=["lon", "lat"]),
                           geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs=4326)
    engine = make_engine(url)
    t0 = time.perf_counter()
    gdf.to_postgis("incidents_peer", engine, if_exists="replace", chunksize=10_000)
    seconds = time.perf_counter() - t0
    engine.dispose()
    return {"seconds": seconds, "rows": len(gdf)}


def growth(sizes, seconds) -> float | None:
    """Exponent b of seconds ~ n^b (least squares on logs)."""
    if len(sizes) < 2:
        return None
    return round(float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0]), 2)


def run(quick: bool = False) -> list[dict]:
    sizes = SIZES[quick]
    root = Path(tempfile.mkdtemp(prefix="gg-bench-"))
    os.chmod(root, 0o755)  # the server user must enter it when we are root
    cluster, rows, ours, peer = None, [], [], []
    try:
        grids = make_grids(10_000)
        grids.to_file(root / "grids.gpkg")
        cluster = _start_cluster(root / "db")
        load_grids(cluster.url(), str(root / "grids.gpkg"))
        for n in sizes:
            path = root / f"incidents_{n}.csv"
            write_incidents(path, n, grids)
            load = os.getloadavg()[0]
            o = measure(import_gridgis, cluster.url(), str(path))["result"]
            p = measure(import_to_postgis, cluster.url(), str(path))["result"]
            ours.append(o["seconds"])
            peer.append(p["seconds"])
            rows.append(row("import_incidents", n, "gridgis import (checks + grids)", o["seconds"],
                            items=o["rows"], per_s=round(n / o["seconds"]),
                            ratio=round(p["seconds"] / o["seconds"], 2), load=round(load, 1),
                            assigned=o.get("assigned"), boundary=o.get("boundary")))
            rows.append(row("import_incidents", n, "geopandas.to_postgis", p["seconds"],
                            items=p["rows"], per_s=round(n / p["seconds"]), load=round(load, 1)))
            if n <= AGAIN_UP_TO:
                a = measure(import_gridgis_again, cluster.url(), str(path))["result"]
                rows.append(row("import_incidents", n, "gridgis import, grids prepared already",
                                a["seconds"], items=a["rows"], per_s=round(n / a["seconds"]),
                                ratio=round(p["seconds"] / a["seconds"], 2),
                                load=round(load, 1), assigned=a.get("assigned"),
                                boundary=a.get("boundary")))
    finally:
        if cluster is not None:
            cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)
    for r in rows:
        if r["impl"] != "gridgis import, grids prepared already":
            r["growth"] = growth(sizes, ours if r["impl"].startswith("gridgis") else peer)
    return rows


if __name__ == "__main__":
    for r in run(quick="--quick" in sys.argv):
        print(r)
