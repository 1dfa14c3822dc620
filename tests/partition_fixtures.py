"""Synthetic places for partition tests: built in metres (CGCS2000 / 3-degree GK zone
CM 105°E), handed out in EPSG:4326 as a user would have them."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

METRIC = 4544  # CGCS2000 3-degree Gauss-Kruger CM 105E
ORIGIN = (500_000.0, 3_390_000.0)  # about 105.0E, 30.6N


def _out(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    geoms = shapely.transform(np.asarray(gdf.geometry.values), lambda c: c + np.array(ORIGIN))
    return gdf.set_geometry(list(geoms)).set_crs(METRIC, allow_override=True).to_crs(4326)


def lattice_blocks(nx=10, ny=10, size=100.0, total=20_000, seed=1) -> gpd.GeoDataFrame:
    """Jittered quadrilateral blocks tiling a rectangle, households lognormal."""
    rng = np.random.default_rng(seed)
    X, Y = np.meshgrid(np.arange(nx + 1) * size, np.arange(ny + 1) * size)
    inner = (X > 0) & (X < nx * size) & (Y > 0) & (Y < ny * size)
    X = X + rng.uniform(-0.2, 0.2, X.shape) * size * inner
    Y = Y + rng.uniform(-0.2, 0.2, Y.shape) * size * inner
    polys = [shapely.Polygon([(X[r, c], Y[r, c]), (X[r, c + 1], Y[r, c + 1]),
                              (X[r + 1, c + 1], Y[r + 1, c + 1]), (X[r + 1, c], Y[r + 1, c])])
             for r in range(ny) for c in range(nx)]
    w = rng.lognormal(0, 0.5, len(polys))
    hh = np.round(w / w.sum() * total).astype(int)
    return _out(gpd.GeoDataFrame({"households": hh}, geometry=polys))


def street_town(n=6, block=120.0, per_block=4, seed=2):
    """A street grid (lines running 40 m past the town), buildings in every block, and
    the town square as parent. Returns (buildings, roads, parent)."""
    rng = np.random.default_rng(seed)
    side = n * block
    lines = [shapely.LineString([(x, -40), (x, side + 40)]) for x in np.arange(n + 1) * block]
    lines += [shapely.LineString([(-40, y), (side + 40, y)]) for y in np.arange(n + 1) * block]
    lines.append(shapely.LineString([(side + 100, 0), (side + 300, 0)]))  # far outside
    rows = []
    for bx in range(n):
        for by in range(n):
            for k in range(per_block):
                x0 = bx * block + 15 + (k % 2) * 55
                y0 = by * block + 15 + (k // 2) * 55
                rows.append({"households": int(rng.integers(25, 60)), "block": f"{bx},{by}",
                             "geometry": shapely.box(x0, y0, x0 + 30, y0 + 30)})
    buildings = gpd.GeoDataFrame(rows, geometry="geometry")
    roads = gpd.GeoDataFrame({"MTFCC": ["S1400"] * len(lines)}, geometry=lines)
    parent = gpd.GeoDataFrame({"community_code": ["510104001001"]},
                              geometry=[shapely.box(0, 0, side, side)])
    return _out(buildings), _out(roads), _out(parent)


def state_plane_blocks(nx=12, ny=10, size=400.0, total=6_000, seed=3, crs=2263):
    """Census-like blocks in a US state-plane CRS in feet (EPSG:2263, New York Long
    Island), as the Census Bureau's files come once projected: jittered quadrilaterals
    whose edges bend at a middle vertex (the same vertices from either side),
    households lognormal, in their own CRS (not lon/lat)."""
    rng = np.random.default_rng(seed)
    X, Y = np.meshgrid(np.arange(nx + 1) * size, np.arange(ny + 1) * size)
    inner = (X > 0) & (X < nx * size) & (Y > 0) & (Y < ny * size)
    X = X + rng.uniform(-0.2, 0.2, X.shape) * size * inner + 1_000_000.0
    Y = Y + rng.uniform(-0.2, 0.2, Y.shape) * size * inner + 190_000.0
    P = np.stack([X, Y], axis=-1)
    bend_h = rng.uniform(-0.04, 0.04, (ny + 1, nx)) * size  # across horizontal edges
    bend_v = rng.uniform(-0.04, 0.04, (ny, nx + 1)) * size  # across vertical edges
    bend_h[[0, -1], :] = 0  # the outline stays straight
    bend_v[:, [0, -1]] = 0
    mid_h = (P[:, :-1] + P[:, 1:]) / 2 + np.stack([0 * bend_h, bend_h], axis=-1)
    mid_v = (P[:-1] + P[1:]) / 2 + np.stack([bend_v, 0 * bend_v], axis=-1)
    polys = [shapely.Polygon([P[r, c], mid_h[r, c], P[r, c + 1], mid_v[r, c + 1],
                              P[r + 1, c + 1], mid_h[r + 1, c], P[r + 1, c], mid_v[r, c]])
             for r in range(ny) for c in range(nx)]
    w = rng.lognormal(0, 0.5, len(polys))
    hh = np.round(w / w.sum() * total).astype(int)
    return gpd.GeoDataFrame({"HOUSING20": hh,
                             "GEOID20": [f"36059{i:010d}" for i in range(len(polys))]},
                            geometry=polys, crs=crs)


def assert_seamless(path, input_crs=4326) -> gpd.GeoDataFrame:
    """What a user checks on a written grid file (or a result's grids): every grid a
    valid polygon, together a valid polygonal coverage (无缝覆盖) in the file's own CRS,
    after reprojection to the input's CRS and in lon/lat, which GEOS can union; codes
    unique within a community."""
    grids = path if isinstance(path, gpd.GeoDataFrame) else gpd.read_file(path)
    assert len(grids), f"{path}: no grids"
    for crs in dict.fromkeys([grids.crs, input_crs, 4326]):
        geoms = grids.to_crs(crs).geometry.values
        assert shapely.is_valid(geoms).all(), f"invalid grid in {crs}"
        assert shapely.coverage_is_valid(geoms), f"not a seamless coverage in {crs}"
        assert not shapely.union_all(geoms).is_empty
    community = grids["community_code"].fillna("") if "community_code" in grids else ""
    twice = grids.assign(_c=community).duplicated(["_c", "code"], keep=False)
    assert not twice.any(), f"codes used twice: {sorted(set(grids.loc[twice, 'code']))}"
    return grids
