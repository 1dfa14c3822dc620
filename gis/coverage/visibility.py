"""What each camera sees: its sector (range × field of view) cut by building occlusion.

The view is a true 2D visibility polygon: every building edge that faces the camera
casts a "shadow" (the region behind the edge as seen from the camera, out to beyond
the range), and the view is the sector minus the union of those shadows. Shadows of
the facing edges cover the footprint itself, so no separate footprint subtraction is
needed, and the construction is exact for any footprint, convex or not, with
courtyards: a camera inside a courtyard faces every courtyard wall and sees only the
courtyard.

Conventions (documented because they change the answer):

* Buildings are taller than cameras: mounting height is kept on the record but does
  not let a camera see over roofs.
* A camera located on or inside a footprint is mounted on that building's wall: it is
  moved to the nearest wall, ``NUDGE_M`` outside, and the building then occludes like
  any other. A wall-mounted dome therefore sees the half plane in front of its wall,
  not through its own building; a camera on a courtyard wall sees the courtyard.
* Work is done in a metric CRS (:func:`gis.crs.metric_crs_for`, or the input's own CRS
  when it is already projected); views are returned in the cameras' CRS with
  ``view_m2`` in square metres.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from gis.coverage.cameras import defaults_used, normalize_cameras
from gis.coverage.workers import map_ranges
from gis.crs import metric_crs_for

NUDGE_M = 0.01          # how far outside its wall a wall-mounted camera is placed
ARC_STEP_DEG = 2.0      # sector arcs: one vertex every 2° (area error < 0.02 %)
CHUNK = 1000            # cameras per batch: bounds the memory held by shadow polygons
_FAN = 4                # far side of a shadow: 4 arcs, so it stays beyond the range
MAX_CHAIN_SPAN = np.pi / 2  # a wider run of walls casts one shadow per wall


def working_crs(gdf) -> CRS:
    """The metric CRS to measure ``gdf`` in: its own if projected, else the local zone."""
    crs = CRS(gdf.crs) if gdf.crs is not None else None
    if crs is not None and crs.is_projected:
        return crs
    return metric_crs_for(gdf)


def footprint_parts(buildings: gpd.GeoDataFrame, crs) -> np.ndarray:
    """Valid, oriented single polygons of the footprints in ``crs`` (exterior CCW,
    holes CW, so the solid is always on the left of every edge)."""
    geoms = buildings.geometry.to_crs(crs).values._data if len(buildings) else np.array([])
    geoms = np.asarray(geoms, dtype=object)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        geoms[bad] = shapely.make_valid(geoms[bad])
    parts = shapely.get_parts(geoms)
    parts = parts[shapely.get_type_id(parts) == 3]  # drop lines/points from make_valid
    parts = parts[shapely.area(parts) > 0]
    return shapely.orient_polygons(parts, exterior_cw=False)


def polygonal(geoms: np.ndarray) -> np.ndarray:
    """Valid polygonal geometry: invalid inputs (self-touching rings after reprojection,
    bow-ties from digitising) are repaired and stray lines or points dropped."""
    geoms = np.asarray(geoms, dtype=object).copy()
    bad = ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
    if not bad.any():
        return geoms
    fixed = shapely.make_valid(geoms[bad])
    parts, idx = shapely.get_parts(fixed, return_index=True)
    poly = np.isin(shapely.get_type_id(parts), (3, 6))
    out = np.full(len(fixed), shapely.Polygon(), dtype=object)
    if poly.any():
        owners, dense = np.unique(idx[poly], return_inverse=True)
        out[owners] = shapely.make_valid(shapely.multipolygons(
            shapely.get_parts(parts[poly]), indices=np.repeat(dense, shapely.get_num_geometries(
                parts[poly]))))
    geoms[bad] = out
    return geoms


class Edges:
    """All footprint edges as flat arrays, grouped by polygon part (CSR offsets)."""

    def __init__(self, parts: np.ndarray):
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        coords, ring = shapely.get_coordinates(rings, return_index=True)
        same = ring[1:] == ring[:-1]  # consecutive vertices of one ring form an edge
        self.a = coords[:-1][same]
        self.b = coords[1:][same]
        self.ring = ring[:-1][same]
        self.part = ring_part[self.ring]
        self.start = np.searchsorted(self.part, np.arange(len(parts) + 1))

    def expand(self, pair_cam: np.ndarray, pair_part: np.ndarray):
        """Edge indices and camera of every (camera, part) pair's edges."""
        counts = self.start[pair_part + 1] - self.start[pair_part]
        cam = np.repeat(pair_cam, counts)
        first = np.repeat(self.start[pair_part] - np.cumsum(counts) + counts, counts)
        return first + np.arange(counts.sum()), cam


def sectors(x, y, azimuth, fov, rng, step_deg: float = ARC_STEP_DEG) -> np.ndarray:
    """Sector polygons (vectorised): azimuth clockwise from north, fov and range per camera.

    A 360° field of view gives a circle; zero range or fov gives an empty polygon.
    """
    x, y, az, fov, r = (np.asarray(v, dtype=float) for v in (x, y, azimuth, fov, rng))
    fov = np.minimum(fov, 360.0)
    out = np.full(len(x), shapely.Polygon(), dtype=object)
    ok = (r > 0) & (fov > 0)
    full = ok & (fov >= 360.0)
    n_arc = np.where(full, int(np.ceil(360.0 / step_deg)),
                     np.ceil(fov / step_deg).astype(int) + 1)
    n_pts = n_arc + ~full  # a sector also has its apex; rings close themselves
    idx = np.flatnonzero(ok)
    cam = np.repeat(idx, n_pts[idx])
    k = np.arange(len(cam)) - np.repeat(np.cumsum(n_pts[idx]) - n_pts[idx], n_pts[idx])
    f = full[cam]
    t = np.where(f, k / n_arc[cam], (k - 1) / np.maximum(n_arc[cam] - 1, 1))
    # sweep clockwise (as azimuths go) from the left edge of the view to the right edge
    ang = np.radians(90.0 - az[cam] + fov[cam] / 2.0) - t * np.radians(fov[cam])
    px, py = x[cam] + r[cam] * np.cos(ang), y[cam] + r[cam] * np.sin(ang)
    apex = ~f & (k == 0)
    px, py = np.where(apex, x[cam], px), np.where(apex, y[cam], py)
    rings = shapely.linearrings(np.column_stack([px, py]), indices=np.searchsorted(idx, cam))
    out[idx] = shapely.polygons(rings)
    return out


def _segment_nearest(px, py, a, b):
    """Closest point on each segment (a, b) to each (px, py), and its distance."""
    d = b - a
    len2 = np.maximum((d * d).sum(axis=1), 1e-18)
    t = np.clip(((px - a[:, 0]) * d[:, 0] + (py - a[:, 1]) * d[:, 1]) / len2, 0.0, 1.0)
    q = a + t[:, None] * d
    return q, np.hypot(q[:, 0] - px, q[:, 1] - py)


def mount_on_walls(x, y, parts, tree, edges: Edges):
    """Move cameras standing on or inside a footprint to just outside its nearest wall.

    Returns new x, y arrays and the distance each camera was moved (0 for most).
    """
    x, y = x.copy(), y.copy()
    moved = np.zeros(len(x))
    cam, part = tree.query(shapely.points(x, y), predicate="intersects")
    if not len(cam):
        return x, y, moved
    cam, first = np.unique(cam, return_index=True)  # one footprint per camera is enough
    e, ecam = edges.expand(cam, part[first])
    pos = np.searchsorted(cam, ecam)
    q, dist = _segment_nearest(x[ecam], y[ecam], edges.a[e], edges.b[e])
    order = np.lexsort((dist, pos))
    best = order[np.r_[0, np.flatnonzero(np.diff(pos[order])) + 1]]
    d = edges.b[e[best]] - edges.a[e[best]]
    normal = np.column_stack([d[:, 1], -d[:, 0]]) / np.hypot(d[:, 0], d[:, 1])[:, None]
    new = q[best] + NUDGE_M * normal  # right of an edge is outside the solid
    moved[cam] = np.hypot(new[:, 0] - x[cam], new[:, 1] - y[cam])
    x[cam], y[cam] = new[:, 0], new[:, 1]
    return x, y, moved


def _facing(x, y, rng, e_cam, e, edges: Edges):
    """The edges among ``e`` that face their camera (camera on their open, right-hand
    side) and reach into its range: only those cast a shadow that matters."""
    a, b = edges.a[e], edges.b[e]
    px, py = x[e_cam], y[e_cam]
    cross = (b[:, 0] - a[:, 0]) * (py - a[:, 1]) - (b[:, 1] - a[:, 1]) * (px - a[:, 0])
    _, dist = _segment_nearest(px, py, a, b)
    return (cross < 0) & (dist < rng[e_cam])


def _chains(e, cam, span, edges: Edges) -> np.ndarray:
    """Chain number of each facing edge: a chain is a run of consecutive edges of one
    ring seen by one camera, under ``MAX_CHAIN_SPAN`` wide (wider runs: one edge each)."""
    cont = np.zeros(len(e), dtype=bool)
    cont[1:] = (cam[1:] == cam[:-1]) & (e[1:] == e[:-1] + 1) & \
        (edges.ring[e[1:]] == edges.ring[e[:-1]])
    chain = np.cumsum(~cont) - 1
    wide = np.abs(np.bincount(chain, weights=span)) > MAX_CHAIN_SPAN
    solo = wide[chain]
    cont[1:] &= ~(solo[1:] | solo[:-1])
    return np.cumsum(~cont) - 1


def shadows(x, y, rng, e_cam, e, edges: Edges):
    """Shadows cast on cameras (x, y)[e_cam] by footprint edges ``e`` within range rng.

    Only edges facing the camera and reaching into its range cast a shadow. A facing
    edge sweeps the camera's view in one direction, so a run of them along a ring (the
    two or three walls of a block the camera sees) hides one star-shaped region: the
    run, then a far fan beyond the range. One polygon per run, not one per edge:
    the union that follows is the costly step and it gets half the pieces (the area
    hidden is the same, only the pieces beyond the range differ). Returns the polygons
    and the camera of each.
    """
    keep = _facing(x, y, rng, e_cam, e, edges)
    e, cam = e[keep], e_cam[keep]
    a, b, px, py = edges.a[e], edges.b[e], x[cam], y[cam]
    ta = np.arctan2(a[:, 1] - py, a[:, 0] - px)
    tb = np.arctan2(b[:, 1] - py, b[:, 0] - px)
    span = (tb - ta + np.pi) % (2 * np.pi) - np.pi  # in (-pi, pi): the edge's angular width
    if not len(e):
        return np.empty(0, dtype=object), cam
    chain = _chains(e, cam, span, edges)
    first = np.flatnonzero(np.r_[True, chain[1:] != chain[:-1]])
    width = np.add.reduceat(span, first)
    dist = np.maximum(np.hypot(a[:, 0] - px, a[:, 1] - py), np.hypot(b[:, 0] - px, b[:, 1] - py))
    reach = np.maximum(np.maximum.reduceat(dist, first), rng[cam[first]])
    # far chain of _FAN arcs each under MAX_CHAIN_SPAN/_FAN wide: chords beyond 1.1 * reach
    far = 1.1 * reach / np.cos(np.abs(width) / (2 * _FAN))
    ang = ta[first][:, None] + width[:, None] * np.linspace(1.0, 0.0, _FAN + 1)[None, :]
    fan = np.stack([px[first][:, None] + far[:, None] * np.cos(ang),
                    py[first][:, None] + far[:, None] * np.sin(ang)], axis=2)
    return _chain_polygons(a[first], b, chain, first, fan), cam[first]


def _chain_polygons(start, b, chain, first, fan) -> np.ndarray:
    """Rings of each chain: its first vertex, the end of each of its edges, its fan."""
    n_edges = np.diff(np.r_[first, len(chain)])
    n_pts = n_edges + 1 + fan.shape[1]
    off = np.r_[0, np.cumsum(n_pts)[:-1]]
    coords = np.empty((int(n_pts.sum()), 2))
    coords[off] = start
    coords[off[chain] + 1 + np.arange(len(chain)) - first[chain]] = b
    coords[((off + n_edges + 1)[:, None] + np.arange(fan.shape[1])).ravel()] = \
        fan.reshape(-1, 2)
    rings = shapely.linearrings(coords, indices=np.repeat(np.arange(len(first)), n_pts))
    return shapely.polygons(rings)


def _views_batch(x, y, az, fov, rng, parts, tree, edges) -> np.ndarray:
    sector = sectors(x, y, az, fov, rng)
    cam, part = tree.query(sector, predicate="intersects")
    if not len(cam):
        return sector
    e, e_cam = edges.expand(cam, part)
    shade, s_cam = shadows(x, y, rng, e_cam, e, edges)
    if not len(shade):
        return sector
    owners, dense = np.unique(s_cam, return_inverse=True)
    # one (invalid, overlapping) multipolygon per camera; "structure" make_valid unions
    # its parts in one vectorised call instead of a Python loop of union_all
    shade = shapely.make_valid(shapely.multipolygons(shade, indices=dense), method="structure")
    out = sector.copy()
    out[owners] = shapely.difference(sector[owners], shade)
    return out


def views_metric(x, y, az, fov, rng, parts: np.ndarray, *, chunk: int = CHUNK,
                 workers: int | None = 1):
    """View polygons for cameras given as metric arrays, among footprint ``parts``.

    Returns (views, moved): the view of each camera and how far it was moved onto
    the outside of the wall it is mounted on. ``workers``: processes to share the
    chunks of cameras (``None``: every core; see :mod:`gis.coverage.workers`).
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    az, fov, rng = (np.asarray(v, dtype=float) for v in (az, fov, rng))
    tree = shapely.STRtree(parts)
    edges = Edges(parts)
    x, y, moved = mount_on_walls(x, y, parts, tree, edges)
    order = _spatial_order(x, y)  # nearby cameras share buildings: better cache locality

    def batch(lo, hi):
        ids = order[lo:hi]
        return _views_batch(x[ids], y[ids], az[ids], fov[ids], rng[ids], parts, tree, edges)

    views = np.empty(len(x), dtype=object)
    if len(x):
        views[order] = np.concatenate(map_ranges(batch, len(order), chunk, workers))
    return views, moved


def _spatial_order(x, y) -> np.ndarray:
    if not len(x):
        return np.arange(0)
    pts = shapely.points(x, y)
    return np.argsort(shapely.hilbert_distance(pts)) if hasattr(shapely, "hilbert_distance") \
        else np.lexsort((x, np.floor(y / 500.0)))


def camera_views(cameras: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, *,
                 include_offline: bool = False, mapping=None,
                 workers: int | None = None) -> gpd.GeoDataFrame:
    """Each camera's view: its sector cut by the shadows of the buildings around it.

    Parameters
    ----------
    cameras : point GeoDataFrame with ``type``, ``status``, ``azimuth``, ``fov``,
        ``range``, ``height`` (missing values filled by type, see
        :func:`gis.coverage.cameras.normalize_cameras`).
    buildings : footprint polygons (any CRS; reprojected to the cameras' metric CRS).
    include_offline : also compute views of offline cameras.
    mapping : source column -> field name for the camera file.
    workers : processes sharing the work (default: every core, where forking is safe;
        see :mod:`gis.coverage.workers`); the views do not depend on it.

    Returns
    -------
    GeoDataFrame in the cameras' CRS: the camera rows used, geometry = view polygon,
    ``view_m2`` (square metres) and ``moved_m`` (how far a camera standing on a
    footprint was moved out to its wall). ``attrs["defaults_used"]`` is kept.

    Examples
    --------
    One view per online camera (the names are one community of ``generate_district(2000, seed=1)``: see tests/test_doctests.py):

    >>> views = camera_views(cameras, buildings)
    >>> len(views) == int((cameras.status == "online").sum())
    True
    """
    cams = normalize_cameras(cameras, mapping)
    if not include_offline:
        cams = cams[cams["status"] == "online"]
    crs = working_crs(cams) if len(cams) else working_crs(buildings)
    pts = cams.geometry.to_crs(crs)
    parts = footprint_parts(buildings, crs)
    views, moved = views_metric(pts.x.to_numpy(), pts.y.to_numpy(), cams["azimuth"],
                                cams["fov"], cams["range"], parts, workers=workers)
    out = gpd.GeoDataFrame(cams.drop(columns=cams.geometry.name),
                           geometry=gpd.GeoSeries(views, index=cams.index, crs=crs))
    out["view_m2"] = shapely.area(views) if len(views) else np.zeros(0)
    out["moved_m"] = moved
    out = out.to_crs(cameras.crs) if cameras.crs is not None else out
    out.attrs["defaults_used"] = defaults_used(cams)
    out.attrs["metric_crs"] = crs.to_string()
    return out
