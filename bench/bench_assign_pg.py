"""Benchmark: assigning 1,000,000 incidents to 10,000 grids in PostGIS (issue 4).

The data are those of :mod:`bench.bench_assign` (Voronoi grids, clustered points, 5 % on
or within 15 m of a boundary). The PostGIS path loads the points with COPY into
``incidents`` and assigns them with the bulk path of
:func:`gis.store.assignment.assign_incidents` (tolerance 10 m, boundary flags and
candidates; the current grids prepared for the library path inside the timed call), on
a throwaway embedded cluster (fsync off). Peers in the
same run, on the same files: the library path (:func:`gis.assign.assign_points`) and
``geopandas.sjoin`` (predicate ``intersects``, no tolerance, no boundary rules).

Quality metrics: agreement of the PostGIS grid with the library path on every point
(the same rules, so it should be ~100 %), and with sjoin on the points sjoin assigns to
exactly one grid. Run: ``.venv/bin/python -m bench.bench_assign_pg [--quick]``.
"""

from __future__ import annotations

import gc
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.bench_assign import join_gridgis, join_sjoin, prepare
from bench.common import measure, row

SIZES = {False: (1_000_000, 10_000), True: (100_000, 2_000)}


def load_grids(url: str, grids_path: str) -> None:
    """Communities (one per 12-digit prefix) and the grids, as published grids."""
    import geopandas as gpd
    import shapely
    from sqlalchemy import text

    from gis.store.db import make_engine, migrate

    engine = make_engine(url)
    migrate(engine)
    grids = gpd.read_file(grids_path)
    geoms = shapely.to_wkb(shapely.set_srid(_multi(grids.geometry.to_numpy()), 4326),
                           hex=True, include_srid=True)
    box = shapely.to_wkb(shapely.set_srid(shapely.multipolygons(
        [shapely.box(*grids.total_bounds)]), 4326), hex=True, include_srid=True)
    with engine.begin() as conn:
        for code in sorted({c[:12] for c in grids["code"]}):
            conn.execute(text("INSERT INTO admin_units (code, name, level, kind, geom) "
                              "VALUES (:c, :n, 'community', 'community', :g)"),
                         {"c": code, "n": code, "g": box})
        conn.execute(text("INSERT INTO grids (code, community_code, geom) "
                          "SELECT c, left(c, 12), ST_GeomFromEWKB(decode(g, 'hex')) "
                          "FROM unnest(CAST(:codes AS text[]), CAST(:geoms AS text[])) AS t(c, g)"),
                     {"codes": list(grids["code"]), "geoms": list(geoms)})
        conn.execute(text("ANALYZE grids"))
    engine.dispose()


def _multi(geoms):
    import shapely

    single = shapely.get_type_id(geoms) == 3
    out = geoms.copy()
    out[single] = [shapely.multipolygons([g]) for g in geoms[single]]
    return out


def assign_pg(url: str, points_path: str) -> dict:
    """COPY the points into incidents, then the bulk assignment (the points read out,
    placed by the library path against the current grids prepared in memory, the answers
    written into a temporary table, one UPDATE); ``seconds`` is the whole assignment."""
    import pandas as pd
    import psycopg
    import shapely

    from gis.store.assignment import assign_incidents
    from gis.store.db import make_engine, transaction

    t0 = time.perf_counter()
    df = pd.read_csv(points_path, usecols=["Longitude", "Latitude"])
    pts = shapely.set_srid(shapely.points(df["Longitude"].to_numpy(),
                                          df["Latitude"].to_numpy()), 4326)
    payload = pd.DataFrame({"category": "other", "reported_at": "2024-05-01T08:00:00+08:00",
                            "geom": shapely.to_wkb(pts, hex=True, include_srid=True)}
                           ).to_csv(index=False, header=False)
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE incidents RESTART IDENTITY CASCADE")
        with cur.copy("COPY incidents (category, reported_at, geom) FROM STDIN (FORMAT csv)") as cp:
            cp.write(payload)
        cur.execute("ANALYZE incidents")
    copy_s = time.perf_counter() - t0
    # the loader's million shapely points and its CSV text are not the assignment's:
    # freed here, they are not walked by the collector inside the timed call
    del df, pts, payload
    gc.collect()
    engine = make_engine(url)
    t1 = time.perf_counter()
    with transaction(engine) as session:
        counts = assign_incidents(session, None, tolerance_m=10.0)
    assign_s = time.perf_counter() - t1
    with psycopg.connect(conninfo) as conn:
        grid = [r[0] for r in conn.execute("SELECT grid_code FROM incidents ORDER BY id")]
    engine.dispose()
    return {"copy_s": copy_s, "assign_s": assign_s,
            "grid": np.asarray(grid, dtype=object),
            **counts}


def _start_cluster(root: Path):
    from gis.store.embedded import EmbeddedCluster

    cluster = EmbeddedCluster(root, durable=False)
    cluster.start()
    return cluster


def run(quick: bool = False) -> list[dict]:
    n_points, n_grids = SIZES[quick]
    size = f"{n_points:,} x {n_grids:,}"
    root = Path(tempfile.mkdtemp(prefix="gg-bench-"))
    os.chmod(root, 0o755)  # the server user must enter it when we are root
    cluster = None
    try:
        points, grids = (str(p) for p in prepare(root, n_points, n_grids))
        cluster = _start_cluster(root / "db")
        load_grids(cluster.url(), grids)
        pg = measure(assign_pg, cluster.url(), points)
        lib = measure(join_gridgis, points, grids)
        sj = measure(join_sjoin, points, grids)
    finally:
        if cluster is not None:
            cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)
    res, lres, sres = pg["result"], lib["result"], sj["result"]
    agree_lib = float(np.mean(_same(res["grid"], lres["grid"])))
    single = sres["single_index"]
    agree_sj = float(np.mean(_same(res["grid"][single], sres["single_code"])))
    return [
        row("assign_pg", size, "gridgis_postgis", res["assign_s"], pg["peak_mb"],
            points_per_s=round(n_points / res["assign_s"]), copy_s=round(res["copy_s"], 2),
            assigned=res["assigned"], boundary=res["boundary"], unassigned=res["unassigned"],
            agree_library=round(agree_lib, 6), agree_sjoin_single=round(agree_sj, 6)),
        row("assign_pg", size, "gridgis_library", lres["join_s"], lib["peak_mb"],
            points_per_s=round(n_points / lres["join_s"]), boundary=lres["boundary"]),
        row("assign_pg", size, "geopandas_sjoin", sres["join_s"], sj["peak_mb"],
            points_per_s=round(n_points / sres["join_s"]), rows=sres["rows"]),
    ]


def _same(a, b) -> np.ndarray:
    """Equal grids; no grid (None from PostGIS, "" from the library's output) equals no grid."""
    a = np.asarray([x if isinstance(x, str) and x else None for x in a], dtype=object)
    b = np.asarray([x if isinstance(x, str) and x else None for x in b], dtype=object)
    return a == b


if __name__ == "__main__":
    for r in run(quick="--quick" in sys.argv):
        print(r)
