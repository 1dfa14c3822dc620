"""Camera coverage at county scale: 1,000 → 10,000 cameras among 100,000 buildings.

A synthetic town (built here, seeded) of square blocks between streets, each block
holding rectangular buildings, some rotated, some with courtyards; cameras stand on
the streets facing random directions. The building count stays fixed while the camera
count grows, and we report time, peak memory and the growth exponent (slope of
log time against log cameras; 1.0 is linear).

Cases (each in its own process, :func:`bench.common.measure`):

* ``gridgis views``: every camera's occlusion-aware view (gis.coverage.visibility);
* ``gridgis coverage``: the whole analysis, views + target per grid + blind spots
  (smallest and largest size only: its per-grid target work does not grow with cameras);
* ``naive sector-minus-footprints`` (the only cheap peer): sectors minus the footprints
  they touch, ignoring shadows. Not a coverage peer: its ``overstates_pct`` shows how
  much area it claims that buildings actually hide.
"""

from __future__ import annotations

import math
import time

import geopandas as gpd
import numpy as np
import shapely

from bench.common import measure, row

GK = 4547
X0, Y0 = 500_000.0, 2_500_000.0
BLOCK, STREET, PER_SIDE = 90.0, 20.0, 3  # 9 buildings per block


def town(n_buildings: int, seed: int = 0):
    """Footprints (metric arrays), street centre lines and grid polygons of a town."""
    rng = np.random.default_rng(seed)
    blocks = math.ceil(n_buildings / PER_SIDE**2)
    side = math.ceil(math.sqrt(blocks))
    pitch = BLOCK + STREET
    cell = BLOCK / PER_SIDE
    bi, bj = np.divmod(np.arange(blocks), side)
    k = np.arange(PER_SIDE**2)
    cx = (X0 + bj[:, None] * pitch + (k[None, :] % PER_SIDE + 0.5) * cell).ravel()[:n_buildings]
    cy = (Y0 + bi[:, None] * pitch + (k[None, :] // PER_SIDE + 0.5) * cell).ravel()[:n_buildings]
    w = rng.uniform(0.45, 0.8, n_buildings) * cell
    h = rng.uniform(0.45, 0.8, n_buildings) * cell
    geoms = shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
    turn = rng.random(n_buildings) < 0.2
    geoms[turn] = [shapely.affinity.rotate(g, a) for g, a in
                   zip(geoms[turn], rng.uniform(-20, 20, turn.sum()))]
    court = rng.random(n_buildings) < 0.03  # a few courtyard buildings
    geoms[court] = shapely.difference(geoms[court], shapely.buffer(geoms[court], -5.0))
    extent = side * pitch
    offs = np.arange(side + 1) * pitch - STREET / 2
    streets = np.concatenate([
        shapely.linestrings([[(X0, Y0 + o), (X0 + extent, Y0 + o)] for o in offs]),
        shapely.linestrings([[(X0 + o, Y0), (X0 + o, Y0 + extent)] for o in offs])])
    g = np.arange(0, extent, 4 * pitch)
    gx, gy = np.meshgrid(g, g)
    grids = shapely.box(X0 + gx.ravel() - STREET / 2, Y0 + gy.ravel() - STREET / 2,
                        X0 + gx.ravel() + 4 * pitch - STREET / 2,
                        Y0 + gy.ravel() + 4 * pitch - STREET / 2)
    return geoms, streets, grids


def cameras(n: int, streets: np.ndarray, seed: int = 1) -> gpd.GeoDataFrame:
    """Cameras on random street points, random type (defaults by type) and direction."""
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(streets), n)
    pts = shapely.line_interpolate_point(streets[which], rng.random(n), normalized=True)
    side = rng.choice([-1.0, 1.0], n) * rng.uniform(0, STREET / 2 - 0.5, n)
    vertical = np.arange(len(streets))[which] >= len(streets) // 2
    x = shapely.get_x(pts) + np.where(vertical, side, 0)
    y = shapely.get_y(pts) + np.where(vertical, 0, side)
    types = rng.choice(["xueliang_a", "xueliang_b", "tianwang", "face", "dome", "ptz"], n,
                       p=[0.3, 0.3, 0.1, 0.1, 0.15, 0.05])
    return gpd.GeoDataFrame({"type": types, "azimuth": rng.uniform(0, 360, n)},
                            geometry=gpd.points_from_xy(x, y), crs=GK)


def case_views(n_cams: int, n_buildings: int) -> dict:
    from gis.coverage.cameras import normalize_cameras
    from gis.coverage.visibility import footprint_parts, views_metric

    geoms, streets, _ = town(n_buildings)
    cams = normalize_cameras(cameras(n_cams, streets))
    t0 = time.perf_counter()
    parts = footprint_parts(gpd.GeoDataFrame(geometry=geoms, crs=GK), GK)
    views, _ = views_metric(cams.geometry.x, cams.geometry.y, cams["azimuth"], cams["fov"],
                            cams["range"], parts)
    covered = shapely.union_all(views).area
    return {"seconds": time.perf_counter() - t0, "view_m2": float(shapely.area(views).sum()),
            "covered_m2": float(covered)}


def case_coverage(n_cams: int, n_buildings: int) -> dict:
    from gis.coverage import coverage

    geoms, streets, grids = town(n_buildings)
    cams = cameras(n_cams, streets)
    b = gpd.GeoDataFrame(geometry=geoms, crs=GK)
    g = gpd.GeoDataFrame({"code": np.arange(len(grids))}, geometry=grids, crs=GK)
    t0 = time.perf_counter()
    res = coverage(cams, b, g, mode="grid")
    return {"seconds": time.perf_counter() - t0, "coverage_ratio": res.summary["coverage_ratio"],
            "blind_spots": res.summary["blind_spots"], "grids": len(grids)}


def case_naive(n_cams: int, n_buildings: int) -> dict:
    from gis.coverage.cameras import normalize_cameras
    from gis.coverage.visibility import footprint_parts, sectors, views_metric

    geoms, streets, _ = town(n_buildings)
    cams = normalize_cameras(cameras(n_cams, streets))
    x, y = cams.geometry.x.to_numpy(), cams.geometry.y.to_numpy()
    t0 = time.perf_counter()
    sec = sectors(x, y, cams["azimuth"], cams["fov"], cams["range"])
    tree = shapely.STRtree(geoms)
    s, b = tree.query(sec, predicate="intersects")
    naive = sec.copy()
    owners, dense = np.unique(s, return_inverse=True)
    hit = shapely.make_valid(shapely.multipolygons(geoms[b], indices=dense), method="structure")
    naive[owners] = shapely.difference(sec[owners], hit)
    seconds = time.perf_counter() - t0
    views, _ = views_metric(x, y, cams["azimuth"], cams["fov"], cams["range"],
                            footprint_parts(gpd.GeoDataFrame(geometry=geoms, crs=GK), GK))
    true_m2, naive_m2 = shapely.area(views).sum(), shapely.area(naive).sum()
    return {"seconds": seconds, "overstates_pct": 100.0 * (naive_m2 - true_m2) / true_m2}


def _slope(sizes, seconds) -> float | None:
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0]) if len(sizes) > 1 else None


def run(quick: bool = False) -> list[dict]:
    """Rows per (impl, size); the gridgis rows carry the growth exponent of their series."""
    n_buildings = 10_000 if quick else 100_000
    sizes = [500] if quick else [1_000, 2_500, 5_000, 10_000]
    rows: list[dict] = []
    # the full analysis adds a fixed per-grid cost: two sizes bound its growth and keep
    # the whole run near five minutes on a shared 2-core machine
    plan = (("gridgis views", case_views, sizes),
            ("gridgis coverage", case_coverage, sorted({sizes[0], sizes[-1]})))
    for impl, fn, series_sizes in plan:
        series = []
        for n in series_sizes:
            m = measure(fn, n, n_buildings)
            r = m["result"]
            series.append(r["seconds"])
            extra = {k: v for k, v in r.items() if k != "seconds"}
            rows.append(row("coverage", n, impl, r["seconds"], m["peak_mb"],
                            buildings=n_buildings, **extra))
        for r in rows[-len(series_sizes):]:
            slope = _slope(series_sizes, series)
            r["growth_exponent"] = None if slope is None else round(slope, 3)
    m = measure(case_naive, sizes[0], n_buildings)
    rows.append(row("coverage", sizes[0], "naive sector-minus-footprints", m["result"]["seconds"],
                    m["peak_mb"], buildings=n_buildings,
                    overstates_pct=round(m["result"]["overstates_pct"], 1)))
    return rows


if __name__ == "__main__":
    import json
    import sys

    for r in run(quick="--quick" in sys.argv):
        print(json.dumps(r))
