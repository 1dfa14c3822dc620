"""Benchmark: assigning 1,000,000 points to 10,000 grids (issue 4).

Synthetic but realistic data: the grids are Voronoi cells of 10,000 random seeds clipped
to a 0.5° box around lon 113, lat 28 (cells of about 500 m, irregular, sharing edges
exactly); the points are clustered around 300 centres, and 5 % of them are put on a
grid boundary or within 0–15 m of one (as street-geocoded incidents are). Each row has
an id, a category, a free-text note and a date besides its coordinates.

(a) end to end: the ``gridgis assign`` process (read CSV, join, write CSV) against
    pandas.read_csv + geopandas.sjoin + DataFrame.to_csv on the same files, alternating
    ``repeats`` times (medians; ``ratio`` is the median of the rounds' ratios). The peer
    reads with pandas' C engine: on this file it is its fastest reader (0.12 s against
    0.29 s for ``engine="pyarrow"``, pandas 3.1, measured 2026-11);
(b) the join alone: ``assign_points`` against ``geopandas.sjoin(predicate="intersects")``;
(c) memory: the ``gridgis assign`` process on the points file repeated 4 times (4M rows,
    267 MB): peak RSS, which a streamed CSV keeps bounded whatever the file size.

Quality metrics: agreement with sjoin on points sjoin assigns to exactly one grid, the
number of boundary flags, and rows kept (sjoin's left join duplicates rows on shared edges).
``cpu_s`` (user + system CPU of the case) is quoted beside wall seconds because the
benchmark machine is shared: wall time swings with other load, CPU time much less
(our CLI uses two threads, so its wall time can be below its CPU time on an idle machine).
Run: ``.venv/bin/python -m bench.bench_assign [--quick]``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import measure, row

BOX = (112.75, 27.75, 113.25, 28.25)
CATEGORIES = ("dispute", "public_security", "safety_hazard", "public_facility", "environment")


def make_grids(n: int, seed: int = 1):
    """Voronoi cells of ``n`` random seeds clipped to BOX, keyed by a 16-digit code."""
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(seed)
    xy = np.column_stack([rng.uniform(BOX[0], BOX[2], n), rng.uniform(BOX[1], BOX[3], n)])
    box = shapely.box(*BOX)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=box))
    cells = shapely.intersection(cells, box)
    codes = [f"430102001{i:07d}" for i in range(len(cells))]
    return gpd.GeoDataFrame({"code": codes}, geometry=cells, crs=4326)


def make_points(n: int, grids, seed: int = 2):
    """Clustered points; 5 % on (half of them exactly) or within 15 m of a boundary."""
    import pandas as pd
    import shapely

    rng = np.random.default_rng(seed)
    centres = np.column_stack([rng.uniform(BOX[0], BOX[2], 300), rng.uniform(BOX[1], BOX[3], 300)])
    pick = rng.integers(0, 300, n)
    lon = centres[pick, 0] + rng.normal(0, 0.03, n)
    lat = centres[pick, 1] + rng.normal(0, 0.03, n)
    out = (lon < BOX[0]) | (lon > BOX[2]) | (lat < BOX[1]) | (lat > BOX[3])
    lon[out] = rng.uniform(BOX[0], BOX[2], out.sum())  # keep the points inside the box
    lat[out] = rng.uniform(BOX[1], BOX[3], out.sum())
    edge = rng.random(n) < 0.05
    rings = shapely.boundary(grids.geometry.to_numpy()[rng.integers(0, len(grids), edge.sum())])
    on = shapely.line_interpolate_point(rings, rng.random(edge.sum()), normalized=True)
    shift = np.where(rng.random(edge.sum()) < 0.5, 0.0, rng.uniform(0, 15, edge.sum()))
    angle = rng.uniform(0, 2 * np.pi, edge.sum())
    lon[edge] = shapely.get_x(on) + shift * np.cos(angle) / (111_000 * np.cos(np.radians(28)))
    lat[edge] = shapely.get_y(on) + shift * np.sin(angle) / 111_000
    return pd.DataFrame({
        "id": np.arange(n), "Longitude": np.round(lon, 7), "Latitude": np.round(lat, 7),
        "category": np.asarray(CATEGORIES)[rng.integers(0, len(CATEGORIES), n)],
        "note": np.char.add("report ", rng.integers(0, 99999, n).astype(str)),
        "date": "2024-05-01"})


def prepare(folder: Path, n_points: int, n_grids: int) -> tuple[Path, Path]:
    grids = make_grids(n_grids)
    grids_path = folder / "grids.gpkg"
    grids.to_file(grids_path)
    points_path = folder / "points.csv"
    make_points(n_points, grids).to_csv(points_path, index=False)
    return points_path, grids_path


def run_cli(points: str, grids: str, out: str) -> dict:
    """The whole ``gridgis assign`` process, as a user runs it."""
    cmd = [str(Path(sys.executable).with_name("gridgis")), "assign", points, "--grids", grids,
           "--grid-key", "code", "--lon", "Longitude", "--lat", "Latitude", "--out", out,
           "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    import json
    import resource

    summary = json.loads(done.stdout)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    summary["child_peak_mb"] = usage.ru_maxrss / 1024
    summary["cpu_s"] = usage.ru_utime + usage.ru_stime
    return summary


def run_geopandas(points: str, grids: str, out: str) -> dict:
    """The same work as a GeoPandas user writes it."""
    import geopandas as gpd
    import pandas as pd

    df = pd.read_csv(points)
    pts = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df.Longitude, df.Latitude), crs=4326)
    g = gpd.read_file(grids)[["code", "geometry"]]
    joined = gpd.sjoin(pts, g, how="left", predicate="intersects")
    joined = joined[~joined.index.duplicated()]
    joined.drop(columns=["geometry", "index_right"]).to_csv(out, index=False)
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"rows": len(joined), "assigned": int(joined["code"].notna().sum()),
            "cpu_s": usage.ru_utime + usage.ru_stime}


def join_gridgis(points: str, grids: str) -> dict:
    import geopandas as gpd
    import pandas as pd

    from gis.assign import assign_points

    df = pd.read_csv(points)
    pts = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df.Longitude, df.Latitude), crs=4326)
    g = gpd.read_file(grids)
    t0, c0 = time.perf_counter(), time.process_time()
    out = assign_points(pts, g, "code")
    return {"join_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, "grid": out["grid"].fillna("").to_numpy(dtype=object),
            "flag": out["boundary"].to_numpy(), "boundary": int(out["boundary"].sum()),
            "candidates": out["candidates"].fillna("").to_numpy(dtype=object)}


def join_sjoin(points: str, grids: str) -> dict:
    import geopandas as gpd
    import pandas as pd

    df = pd.read_csv(points)
    pts = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df.Longitude, df.Latitude), crs=4326)
    g = gpd.read_file(grids)[["code", "geometry"]]
    t0, c0 = time.perf_counter(), time.process_time()
    joined = gpd.sjoin(pts, g, how="left", predicate="intersects")
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    counts = joined.index.value_counts()
    single = joined[(joined.index.map(counts) == 1) & joined["code"].notna()]
    return {"join_s": seconds, "cpu_s": cpu, "single_index": single.index.to_numpy(),
            "single_code": single["code"].to_numpy(dtype=object), "rows": len(joined)}


def run(quick: bool = False, repeats: int = 3) -> list[dict]:
    n_points, n_grids = (100_000, 2_000) if quick else (1_000_000, 10_000)
    size = f"{n_points}x{n_grids}"
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_assign_") as tmp:
        folder = Path(tmp)
        points, grids = (str(p) for p in prepare(folder, n_points, n_grids))
        rows += _e2e_rows(folder, points, grids, size, n_points, 1 if quick else repeats)
        rows += _join_rows(points, grids, size, n_points)
        rows.append(_memory_row(folder, points, grids, copies=2 if quick else 4))
    return rows


def _e2e_rows(folder: Path, points: str, grids: str, size: str, n_points: int,
              repeats: int) -> list[dict]:
    """Both processes ``repeats`` times, alternating (a shared machine's load drifts);
    medians of wall and CPU seconds, and the median of the per-round ratios."""
    ours, peer = [], []
    for _ in range(repeats):
        ours.append(measure(run_cli, points, grids, str(folder / "ours.csv")))
        peer.append(measure(run_geopandas, points, grids, str(folder / "peer.csv")))
    mid = repeats // 2

    def median(runs, key):
        return sorted(key(r) for r in runs)[mid]

    o_s, p_s = median(ours, lambda r: r["seconds"]), median(peer, lambda r: r["seconds"])
    o_cpu, p_cpu = (median(ours, lambda r: r["result"]["cpu_s"]),
                    median(peer, lambda r: r["result"]["cpu_s"]))
    ratios = sorted(p["seconds"] / o["seconds"] for o, p in zip(ours, peer))
    summary, theirs = ours[-1]["result"], peer[-1]["result"]
    mb = Path(points).stat().st_size / 1e6
    return [
        row("assign_e2e", size, "gridgis assign", o_s, median(ours, lambda r: r["result"]["child_peak_mb"]),
            points_per_s=round(n_points / o_s), csv_mb=round(mb, 1), repeats=repeats,
            assigned=summary["assigned"], boundary=summary["boundary"],
            unassigned=summary["unassigned"], rows_out=summary["rows"], cpu_s=round(o_cpu, 2),
            cpu_ratio=round(p_cpu / o_cpu, 2), ratio=round(ratios[mid], 2),
            ratios=[round(r, 2) for r in ratios]),
        row("assign_e2e", size, "pandas+geopandas.sjoin", p_s, median(peer, lambda r: r["peak_mb"]),
            points_per_s=round(n_points / p_s), rows_out=theirs["rows"],
            assigned=theirs["assigned"], cpu_s=round(p_cpu, 2)),
    ]


def _memory_row(folder: Path, points: str, grids: str, copies: int) -> dict:
    """Peak memory of ``gridgis assign`` on the points file repeated ``copies`` times."""
    big = folder / "big.csv"
    with open(points, "rb") as src, open(big, "wb") as dst:
        head = src.readline()
        body = src.read()
        dst.write(head)
        for _ in range(copies):
            dst.write(body)
    del body
    ours = measure(run_cli, str(big), grids, str(folder / "big_out.csv"))
    summary = ours["result"]
    return row("assign_memory", f"{summary['rows']} rows", "gridgis assign", ours["seconds"],
               summary["child_peak_mb"], csv_mb=round(big.stat().st_size / 1e6, 1),
               points_per_s=round(summary["rows"] / ours["seconds"]),
               cpu_s=round(summary["cpu_s"], 2))


def _join_rows(points: str, grids: str, size: str, n_points: int) -> list[dict]:
    ours_m = measure(join_gridgis, points, grids)
    ours = ours_m["result"]
    peer_m = measure(join_sjoin, points, grids)
    peer = peer_m["result"]
    idx, code = peer["single_index"], peer["single_code"]
    plain = ~ours["flag"][idx]
    agree = np.mean(ours["grid"][idx][plain] == code[plain])
    among = np.mean([c in str(cands).split(";") for c, cands in zip(code, ours["candidates"][idx])])
    return [
        row("assign_join", size, "gis.assign.assign_points", ours["join_s"], ours_m["peak_mb"],
            points_per_s=round(n_points / ours["join_s"]), boundary=ours["boundary"],
            agree_unflagged=round(float(agree), 6), sjoin_among_candidates=round(float(among), 6),
            ratio=round(peer["join_s"] / ours["join_s"], 2), cpu_s=round(ours["cpu_s"], 2),
            cpu_ratio=round(peer["cpu_s"] / ours["cpu_s"], 2)),
        row("assign_join", size, "geopandas.sjoin", peer["join_s"], peer_m["peak_mb"],
            points_per_s=round(n_points / peer["join_s"]), rows_out=peer["rows"],
            cpu_s=round(peer["cpu_s"], 2)),
    ]


if __name__ == "__main__":
    for r in run(quick="--quick" in sys.argv):
        print(r)
