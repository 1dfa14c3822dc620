"""New camera sites: where k more cameras would cover the most blind spot.

Candidates are street intersections and points every ``spacing`` metres along the
streets. Each candidate gets the view a new camera of ``camera_type`` would have there
(occlusion included), and we choose k sites maximising the weighted blind-spot area
covered: ``weight="area"`` counts square metres, ``weight="incidents"`` weighs each
blind spot's area by its incident density (incidents per m²), so the objective is the
number of incidents expected to fall in sight.

This is the maximal covering location problem. The objective is monotone submodular,
so the greedy choice (computed lazily, exact geometry) is within ``1 - 1/e`` (63 %) of
the optimum; we also report a tighter data-dependent upper bound on the optimum
(f(S_i) + the k largest remaining marginal gains, minimised over the steps i).
"""

from __future__ import annotations

import heapq

import geopandas as gpd
import numpy as np
import shapely

from gis.coverage.visibility import footprint_parts, polygonal, views_metric, working_crs
from gis.errors import InputError
from gis.vocabulary import CAMERA_DEFAULTS, CAMERA_TYPES

WEIGHTS = ("incidents", "area")
_TIE = 1e-6  # with incident weights, area breaks ties (and fills in once incidents run out)


def candidate_points(street_lines: np.ndarray, spacing: float = 25.0):
    """Street intersections (degree >= 3 after noding) and points along streets.

    Returns (points, kind) with kind ``"intersection"`` or ``"street"``.
    """
    lines = street_lines[~(shapely.is_missing(street_lines) | shapely.is_empty(street_lines))]
    if not len(lines):
        return np.array([], dtype=object), np.array([], dtype=object)
    noded = shapely.get_parts(shapely.union_all(lines))  # split where streets cross
    ends = np.vstack([shapely.get_coordinates(shapely.get_point(noded, 0)),
                      shapely.get_coordinates(shapely.get_point(noded, -1))])
    keys, degree = np.unique(np.round(ends, 2), axis=0, return_counts=True)
    crossings = keys[degree >= 3]
    along = np.unique(np.round(shapely.get_coordinates(shapely.segmentize(noded, spacing)), 2),
                      axis=0)
    pts = np.unique(np.vstack([crossings, along]), axis=0)
    is_cross = (np.isin(pts[:, 0] + 1j * pts[:, 1], crossings[:, 0] + 1j * crossings[:, 1])
                if len(crossings) else np.zeros(len(pts), dtype=bool))
    return shapely.points(pts), np.where(is_cross, "intersection", "street").astype(object)


def _camera_spec(camera_type: str, fov, range_m, height):
    if camera_type not in CAMERA_TYPES:
        raise InputError(f"unknown camera type {camera_type!r} (one of "
                         f"{', '.join(CAMERA_TYPES)})", field="camera_type")
    d_fov, d_range, d_height = CAMERA_DEFAULTS[camera_type]
    return (float(fov if fov is not None else d_fov),
            float(range_m if range_m is not None else d_range),
            float(height if height is not None else d_height))


def _blind_weights(blind_spots, polys, weight: str) -> np.ndarray:
    if weight not in WEIGHTS:
        raise InputError(f"unknown weight {weight!r} (one of {', '.join(WEIGHTS)})",
                         field="weight")
    if weight == "area":
        return np.ones(len(polys))
    if "incidents" not in blind_spots.columns:
        raise InputError("weight='incidents' needs an 'incidents' column on the blind spots "
                         "(run coverage with incidents)", field="incidents")
    area = np.maximum(shapely.area(polys), 1e-9)
    density = blind_spots["incidents"].to_numpy(dtype=float) / area
    return density + _TIE  # area still counts a little: ties and incident-free spots


class _Pieces:
    """Each candidate's view cut into the blind spots it overlaps, with weights."""

    def __init__(self, views, polys, w):
        c, b = shapely.STRtree(polys).query(views, predicate="intersects")
        geoms = shapely.intersection(views[c], polys[b])
        self.cand, self.geom, self.w = c, geoms, w[b]
        self.start = np.searchsorted(c, np.arange(len(views) + 1))
        self.views = views

    def gain(self, i: int, chosen: list[int]):
        """(weighted gain, m² gain) of candidate ``i`` given the chosen candidates."""
        lo, hi = self.start[i], self.start[i + 1]
        geoms = self.geom[lo:hi]
        if chosen:
            others = self.views[chosen]
            others = others[shapely.intersects(others, self.views[i])]
            if len(others):
                geoms = shapely.difference(geoms, shapely.union_all(others))
        area = shapely.area(geoms)
        return float((area * self.w[lo:hi]).sum()), float(area.sum())


def lazy_greedy(pieces: _Pieces, n: int, k: int):
    """Lazy (CELF) greedy selection; returns picks [(i, gain_w, gain_m2)] and an upper
    bound on the optimum (stale gains only overestimate, by submodularity)."""
    heap = []
    for i in range(n):
        gw, gm2 = pieces.gain(i, [])
        if gw > 0:
            heap.append((-gw, i, 0, gm2))
    heapq.heapify(heap)
    picks, chosen, total = [], [], 0.0
    upper = sum(-e[0] for e in heapq.nsmallest(k, heap))
    while heap and len(picks) < k:
        neg, i, stamp, gm2 = heapq.heappop(heap)
        if stamp == len(picks):  # fresh gain that tops every stale (larger) estimate
            picks.append((i, -neg, gm2))
            chosen.append(i)
            total += -neg
            upper = min(upper, total + sum(-e[0] for e in heapq.nsmallest(k, heap)))
            continue
        gw, gm2 = pieces.gain(i, chosen)
        if gw > 0:
            heapq.heappush(heap, (-gw, i, len(picks), gm2))
    return picks, max(upper, total)


def suggest_sites(blind_spots: gpd.GeoDataFrame, roads: gpd.GeoDataFrame, k: int, *,
                  buildings: gpd.GeoDataFrame | None = None, weight: str = "incidents",
                  camera_type: str = "dome", fov: float | None = None,
                  range_m: float | None = None, height: float | None = None,
                  spacing: float = 25.0, crs=None) -> gpd.GeoDataFrame:
    """Choose ``k`` new camera sites covering the most (weighted) blind spot.

    Parameters
    ----------
    blind_spots : blind spot polygons, e.g. ``coverage(...).blind_spots``; with
        ``weight="incidents"`` they need an ``incidents`` column.
    roads : street lines; candidates are their intersections and points along them.
    k : number of sites.
    buildings : footprints occluding the new cameras' views (strongly advised).
    weight : ``"incidents"`` (incident density × area) or ``"area"`` (m²).
    camera_type, fov, range_m, height : the camera to install (defaults by type,
        :data:`gis.vocabulary.CAMERA_DEFAULTS`; the default dome sees 360°).
    spacing : metres between candidate points along a street.
    crs : metric CRS to measure in (default: chosen from the blind spots).

    Returns
    -------
    GeoDataFrame of at most ``k`` sites (points, the blind spots' CRS), best first:
    ``rank``, ``kind``, ``gain_m2``, ``gain_incidents``, ``cumulative_m2``,
    ``cumulative_incidents`` and camera fields ready to append to the camera layer.
    ``attrs["bound"]`` holds the objective, an upper bound on the optimum and the
    guaranteed ratio ``1 - 1/e``. Gains count blind spots as given: adding the sites
    as cameras raises covered area by ``cumulative_m2`` if ``blind_spots`` holds all
    blind area (``min_area=0``), and by at least that much otherwise.

    Examples
    --------
    The blind spots of a coverage run (the names are one community of ``generate_district(2000, seed=1)``: see tests/test_doctests.py), three sites:

    >>> from gis.coverage import coverage
    >>> res = coverage(cameras, buildings, grids, roads=roads, incidents=incidents)
    >>> sites = suggest_sites(res.blind_spots, roads, 3, buildings=buildings)
    >>> sites["rank"].tolist(), bool(sites["cumulative_m2"].is_monotonic_increasing)
    ([1, 2, 3], True)
    """
    crs = crs or blind_spots.attrs.get("metric_crs") or working_crs(blind_spots)
    polys = polygonal(blind_spots.geometry.to_crs(crs).values._data)
    w = _blind_weights(blind_spots, polys, weight)
    cam_fov, cam_range, cam_height = _camera_spec(camera_type, fov, range_m, height)
    pts, kind = candidate_points(roads.geometry.to_crs(crs).values._data, spacing)
    near = np.unique(shapely.STRtree(polys).query(pts, predicate="dwithin",
                                                  distance=cam_range)[0]) if len(pts) else []
    pts, kind = pts[near], kind[near]
    parts = footprint_parts(buildings, crs) if buildings is not None else np.array([], object)
    n = len(pts)
    views, _ = views_metric(shapely.get_x(pts), shapely.get_y(pts), np.zeros(n),
                            np.full(n, cam_fov), np.full(n, cam_range), parts)
    picks, upper = lazy_greedy(_Pieces(views, polys, w), n, int(k))
    return _sites_frame(picks, pts, kind, w, weight, upper, crs, blind_spots.crs,
                        camera_type, cam_fov, cam_range, cam_height)


def _sites_frame(picks, pts, kind, w, weight, upper, crs, out_crs, camera_type, fov, rng, h):
    idx = np.array([p[0] for p in picks], dtype=int)
    gain_w = np.array([p[1] for p in picks])
    gain_m2 = np.array([p[2] for p in picks])
    gain_inc = gain_w - _TIE * gain_m2 if weight == "incidents" else np.full(len(idx), np.nan)
    sites = gpd.GeoDataFrame({
        "rank": np.arange(1, len(idx) + 1), "kind": kind[idx] if len(idx) else [],
        "gain_m2": gain_m2, "gain_incidents": gain_inc,
        "cumulative_m2": np.cumsum(gain_m2), "cumulative_incidents": np.cumsum(gain_inc),
        "type": camera_type, "status": "online", "azimuth": 0.0, "fov": fov,
        "range": rng, "height": h}, geometry=gpd.GeoSeries(pts[idx], crs=crs))
    objective = float(gain_w.sum())
    sites.attrs["bound"] = {
        "method": "lazy greedy", "weight": weight, "objective": objective,
        "upper_bound": float(upper), "guarantee": 1.0 - 1.0 / np.e,
        "ratio_at_least": objective / upper if upper > 0 else 1.0,
        "candidates": int(len(pts))}
    return sites.to_crs(out_crs) if out_crs is not None else sites
