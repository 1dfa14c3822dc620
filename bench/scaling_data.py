"""The districts of the scaling benchmark, generated once per (households, seed) and
cached on disk under ``bench/.cache`` (git-ignored): a 2,000,000-household district
takes minutes to generate, the benchmarks themselves much less.

Each cache directory holds GeoParquet layers (admin units, buildings, address points,
roads, cameras, incidents, grids), the incidents as a CSV with ``lon``/``lat`` columns
(the file a user imports or assigns), the patrol fixes as the generator's CSV
(``worker,time,lon,lat``) and ``manifest.json`` with the counts. A directory is written
under a temporary name and renamed when complete, so an interrupted run never leaves a
half-written cache behind.

Grids: partitioning a whole 2M-household county takes far longer than everything
measured here, so the benchmark's grids are cheap stand-ins of the right size: each
community is cut into Voronoi cells around ``households / 400`` household-weighted seed
units, clipped to the community (seamless, no gaps or overlaps, one community each,
coded community + 4-digit serial as real grids are).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

CACHE = Path(__file__).parent / ".cache"
LAYERS = ("admin_units", "buildings", "address_points", "roads", "cameras", "incidents")
HOUSEHOLDS_PER_GRID = 400


def district_dir(households: int, seed: int = 1, *, cache: Path = CACHE) -> Path:
    """The cache directory of a district, generated and written first if missing."""
    folder = cache / f"district-{households}-s{seed}"
    if (folder / "manifest.json").exists():
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    (cache / ".gitignore").write_text("*\n")  # never committed, whoever runs it
    tmp = cache / f".{folder.name}.{os.getpid()}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        _write(tmp, households, seed)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _write(folder: Path, households: int, seed: int) -> None:
    from gis.generate import generate_district
    from gis.generate.output import write_patrol_csv

    t0 = time.perf_counter()
    d = generate_district(households, seed)
    generated = time.perf_counter() - t0
    for name in LAYERS:
        getattr(d, name).to_parquet(folder / f"{name}.parquet")
    grids = bench_grids(d.admin_units, d.buildings, d.address_points, d.metric_epsg)
    grids.to_parquet(folder / "grids.parquet")
    incidents_csv(d.incidents, folder / "incidents.csv")
    write_patrol_csv(d.patrol_points, folder / "patrol_points.csv")
    counts = {**d.counts(), "grids": len(grids)}
    manifest = {"households": households, "seed": seed, "counts": counts,
                "generate_s": round(generated, 1), "metric_epsg": d.metric_epsg}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))


def manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def incidents_csv(incidents: gpd.GeoDataFrame, path: Path) -> Path:
    """Incidents as a user's CSV: attributes, then ``lon``/``lat`` (7 decimals)."""
    df = pd.DataFrame(incidents.drop(columns=incidents.geometry.name))
    df["lon"] = np.round(incidents.geometry.x.to_numpy(), 7)
    df["lat"] = np.round(incidents.geometry.y.to_numpy(), 7)
    df.to_csv(path, index=False)
    return path


def bench_grids(admin_units: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame,
                address_points: gpd.GeoDataFrame, metric_epsg: int,
                seed: int = 0) -> gpd.GeoDataFrame:
    """Seamless Voronoi grids of about 400 households inside every community."""
    coms = admin_units[admin_units["level"] == "community"].reset_index(drop=True)
    coms_m = coms.geometry.to_crs(metric_epsg).to_numpy()
    units = pd.concat([
        pd.DataFrame({"hh": buildings["households"].to_numpy(),
                      "code": buildings["community_code"].to_numpy(),
                      "geom": buildings.geometry.to_crs(metric_epsg).centroid.to_numpy()}),
        pd.DataFrame({"hh": address_points["households"].to_numpy(),
                      "code": address_points["community_code"].to_numpy(),
                      "geom": address_points.geometry.to_crs(metric_epsg).to_numpy()})])
    pos = pd.Index(coms["code"]).get_indexer(units["code"])
    mask = (pos >= 0) & (units["hh"].to_numpy() > 0)
    units = units[mask].assign(com=pos[mask])
    seeds, com = _seeds(units, len(coms), seed)
    cells, owner = _cells(seeds, com, coms_m)
    serial = pd.Series(owner).groupby(owner).cumcount().to_numpy() + 1
    codes = [f"{coms['code'].iat[o]}{s:04d}" for o, s in zip(owner, serial)]
    out = gpd.GeoDataFrame({"code": codes, "community_code": coms["code"].to_numpy()[owner]},
                           geometry=gpd.GeoSeries(cells, crs=metric_epsg))
    return out.to_crs(4326)


def _seeds(units: pd.DataFrame, n_coms: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``ceil(H / 400)`` units per community, drawn with probability ~ households
    (exponential keys: the smallest ``k`` of ``-log(u) / w`` are a weighted sample)."""
    rng = np.random.default_rng(seed)
    hh = units["hh"].to_numpy(dtype=float)
    com = units["com"].to_numpy()
    per_com = np.bincount(com, weights=hh, minlength=n_coms)
    k = np.maximum(1, np.ceil(per_com / HOUSEHOLDS_PER_GRID)).astype(int)
    key = -np.log(rng.random(len(hh))) / hh
    order = np.lexsort((key, com))
    starts = np.searchsorted(com[order], np.arange(n_coms))
    rank = np.arange(len(order)) - starts[com[order]]
    pick = order[rank < k[com[order]]]
    pick = pick[np.argsort(com[pick], kind="stable")]
    return units["geom"].to_numpy()[pick], com[pick]


def _cells(seeds: np.ndarray, com: np.ndarray, coms_m: np.ndarray):
    """Voronoi cells of each community's seeds, clipped to it; a community with one
    seed (or none) is one grid. Returns (cells, community position of each cell)."""
    counts = np.bincount(com, minlength=len(coms_m))
    in_multi = counts[com] >= 2
    multi, dense = np.unique(com[in_multi], return_inverse=True)
    mp = shapely.multipoints(shapely.get_coordinates(seeds[in_multi]), indices=dense)
    diagrams = shapely.voronoi_polygons(mp, extend_to=coms_m[multi])
    parts, which = shapely.get_parts(diagrams, return_index=True)
    owner = multi[which]
    cells, kept = _polygonal(shapely.intersection(parts, coms_m[owner]))
    single = np.flatnonzero(counts < 2)
    whole, _ = _polygonal(coms_m[single])
    return np.concatenate([cells, whole]), np.concatenate([owner[kept], single])


def _polygonal(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each geometry's polygons as one MultiPolygon; positions of those that have any."""
    if len(geoms) == 0:
        return np.empty(0, dtype=object), np.empty(0, dtype=int)
    polys, idx = shapely.get_parts(geoms, return_index=True)
    keep = (shapely.get_type_id(polys) == 3) & (shapely.area(polys) > 0)
    kept, dense = np.unique(idx[keep], return_inverse=True)
    return np.asarray(shapely.multipolygons(polys[keep], indices=dense)), kept


def county_cameras(folder: Path, n: int, seed: int = 1) -> Path:
    """The district's online cameras resampled to ``n`` (GeoParquet beside the layers,
    written once): a seeded sample when the district has more, else all of them plus
    copies of randomly drawn ones moved 10–60 m along their nearest road with a new
    direction, so that the density pattern of the generator (crossings, streets, key
    places; denser in town) holds at every count and the buildings stay the same."""
    path = folder / f"cameras-online-{n}-s{seed}.parquet"
    if path.exists():
        return path
    cams = gpd.read_parquet(folder / "cameras.parquet")
    cams = cams[cams["status"] == "online"].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    if n <= len(cams):
        out = cams.iloc[np.sort(rng.choice(len(cams), n, replace=False))]
    else:
        out = pd.concat([cams, _moved_copies(folder, cams, n - len(cams), rng)],
                        ignore_index=True)
        out["camera_id"] = [f"B{i:08d}" for i in range(len(out))]
    tmp = path.with_suffix(f".{os.getpid()}.partial")
    gpd.GeoDataFrame(out, geometry="geometry", crs=cams.crs).to_parquet(tmp)
    os.replace(tmp, path)
    return path


def _moved_copies(folder: Path, cams: gpd.GeoDataFrame, k: int, rng) -> gpd.GeoDataFrame:
    epsg = manifest(folder)["metric_epsg"]
    roads = gpd.read_parquet(folder / "roads.parquet").geometry.to_crs(epsg).to_numpy()
    copies = cams.iloc[rng.integers(0, len(cams), k)].reset_index(drop=True)
    pts = copies.geometry.to_crs(epsg).to_numpy()
    _, road = shapely.STRtree(roads).query_nearest(pts, all_matches=False)
    at = shapely.line_locate_point(roads[road], pts)
    step = rng.uniform(10.0, 60.0, k) * rng.choice([-1.0, 1.0], k)
    moved = shapely.line_interpolate_point(roads[road], at + step)
    copies["azimuth"] = np.round(rng.uniform(0.0, 360.0, k), 1)
    return copies.set_geometry(gpd.GeoSeries(moved, crs=epsg, index=copies.index).to_crs(cams.crs))
