"""The coverage analysis as it was before issue 19's speed work, kept as the peer of
``python -m bench`` and as the reference of tests/test_coverage_speed.py.

What changed since, and is therefore copied here as it was: one shadow polygon per
facing edge (now one per run of walls), the target, coverage and blind area of all
grids in one pass (now in chunks of grids on both cores), and blind area as target
minus *covered* (now target minus the union of the views). Everything else (camera
model, sectors, wall mounting, blind spot polygons, tables) is shared, unchanged.
"""

from __future__ import annotations

import time

import numpy as np
import shapely

from gis.coverage import blindspots as bs
from gis.coverage import overlay
from gis.coverage.analysis import CoverageResult, _blind_spot_frame, _select, _summary
from gis.coverage.analysis import _layer, _views_layer
from gis.coverage.target import grid_keys, grouped_union, street_polygons
from gis.coverage.visibility import (_FAN, CHUNK, Edges, _segment_nearest, _spatial_order,
                                     footprint_parts, mount_on_walls, polygonal, sectors,
                                     working_crs)


def shadows_per_edge(x, y, rng, e_cam, a, b):
    """One shadow quadrilateral (and far fan) per facing edge within range."""
    px, py, r = x[e_cam], y[e_cam], rng[e_cam]
    cross = (b[:, 0] - a[:, 0]) * (py - a[:, 1]) - (b[:, 1] - a[:, 1]) * (px - a[:, 0])
    _, dist = _segment_nearest(px, py, a, b)
    keep = (cross < 0) & (dist < r)
    px, py, r, a, b, cam = px[keep], py[keep], r[keep], a[keep], b[keep], e_cam[keep]
    ta = np.arctan2(a[:, 1] - py, a[:, 0] - px)
    tb = np.arctan2(b[:, 1] - py, b[:, 0] - px)
    span = (tb - ta + np.pi) % (2 * np.pi) - np.pi
    reach = np.maximum.reduce([r, np.hypot(a[:, 0] - px, a[:, 1] - py),
                               np.hypot(b[:, 0] - px, b[:, 1] - py)])
    far = 1.1 * reach / np.cos(np.abs(span) / (2 * _FAN))
    t = np.linspace(1.0, 0.0, _FAN + 1)
    ang = ta[:, None] + span[:, None] * t[None, :]
    fx = px[:, None] + far[:, None] * np.cos(ang)
    fy = py[:, None] + far[:, None] * np.sin(ang)
    ring = np.concatenate([np.stack([a, b], axis=1), np.stack([fx, fy], axis=2)], axis=1)
    return shapely.polygons(ring), cam


def _views_batch(x, y, az, fov, rng, tree, edges) -> np.ndarray:
    sector = sectors(x, y, az, fov, rng)
    cam, part = tree.query(sector, predicate="intersects")
    if not len(cam):
        return sector
    e, e_cam = edges.expand(cam, part)
    quads, q_cam = shadows_per_edge(x, y, rng, e_cam, edges.a[e], edges.b[e])
    if not len(quads):
        return sector
    owners, dense = np.unique(q_cam, return_inverse=True)
    shade = shapely.make_valid(shapely.multipolygons(quads, indices=dense), method="structure")
    out = sector.copy()
    out[owners] = shapely.difference(sector[owners], shade)
    return out


def views_before(x, y, az, fov, rng, parts):
    """Views and wall moves, one process, one shadow per edge."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    az, fov, rng = (np.asarray(v, dtype=float) for v in (az, fov, rng))
    tree = shapely.STRtree(parts)
    edges = Edges(parts)
    x, y, moved = mount_on_walls(x, y, parts, tree, edges)
    views = np.empty(len(x), dtype=object)
    order = _spatial_order(x, y)
    for lo in range(0, len(order), CHUNK):
        ids = order[lo:lo + CHUNK]
        views[ids] = _views_batch(x[ids], y[ids], az[ids], fov[ids], rng[ids], tree, edges)
    return views, moved


def _clip(geoms, grid_geoms, tree):
    g, i = tree.query(grid_geoms, predicate="intersects")
    return shapely.intersection(grid_geoms, grouped_union(geoms[i], g, len(grid_geoms)))


def targets_before(grid_geoms, parts, street_geoms, mode="public", open_setback=5.0,
                   open_reach=30.0):
    """Every grid's target in one pass (modes as :mod:`gis.coverage.target`)."""
    built = _clip(parts, grid_geoms, shapely.STRtree(parts))
    if mode == "grid" or street_geoms is None:
        area = grid_geoms
    else:
        streets = _clip(street_geoms, grid_geoms, shapely.STRtree(street_geoms))
        area = streets
        if mode == "public":
            near = shapely.buffer(parts, open_setback, quad_segs=2)
            crowded = _clip(near, grid_geoms, shapely.STRtree(near))
            reach = shapely.intersection(shapely.buffer(streets, open_reach), grid_geoms)
            area = shapely.union(streets, shapely.difference(reach, crowded))
    return shapely.difference(area, built)


def covered_before(targets, views):
    views = views[~shapely.is_empty(views)] if len(views) else views
    g, v = shapely.STRtree(views).query(targets, predicate="intersects")
    return overlay.intersection(targets, grouped_union(views[v], g, len(targets)))


def coverage_before(cameras, buildings, grids, *, grid_key=None, roads=None, incidents=None,
                    min_area: float = 25.0, mode: str = "public") -> CoverageResult:
    """:func:`gis.coverage.coverage` as it computed before (no exclusions, no key places,
    no period: what the benchmark and the comparison test use)."""
    t0 = time.perf_counter()
    crs = working_crs(grids)
    cams, offline = _select(cameras, None, False)
    parts = footprint_parts(buildings, crs)
    pts = cams.geometry.to_crs(crs)
    views, moved = views_before(pts.x.to_numpy(), pts.y.to_numpy(), cams["azimuth"],
                                cams["fov"], cams["range"], parts)
    grid_geoms = polygonal(grids.geometry.to_crs(crs).values._data)
    streets = street_polygons(roads, crs) if roads is not None and len(roads) else None
    targets = targets_before(grid_geoms, parts, streets, mode)
    covered = covered_before(targets, views)
    blind = overlay.difference(targets, covered)
    keys = grid_keys(grids, grid_key).to_numpy()
    inc_pts = (shapely.point_on_surface(incidents.geometry.to_crs(crs).values._data)
               if incidents is not None and len(incidents) else None)
    spots = _blind_spot_frame(blind, keys, min_area, inc_pts, cams, pts, crs)
    table = bs.grid_table(keys, targets, covered, blind, spots.pop("_grid").to_numpy(),
                          spots["area_m2"].to_numpy(), spots["incidents"].to_numpy())
    res = CoverageResult(
        coverage=_layer(table[["grid", "covered_m2"]], covered, crs, grids.crs),
        blind_spots=spots.to_crs(grids.crs),
        grid_coverage=_layer(table, grid_geoms, crs, grids.crs),
        views=_views_layer(cams, views, moved, crs, grids.crs), summary={}, metric_crs=crs)
    res.summary = _summary(res, cams, offline, incidents, roads, mode, crs, t0)
    return res
