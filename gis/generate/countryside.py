"""The countryside around the town: administrative villages as Voronoi cells of
jittered village centres, grouped into towns (镇) and townships (乡), a rural road
network (a spanning tree of the villages plus some loops), village lanes and
highways radiating from the town."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from gis.generate.geom import wobbly_lines
from gis.generate.households import allocate
from gis.generate.town import Lines, Town

VILLAGE_HH = (150, 1500)
TARGET_VILLAGE_HH = 550
VILLAGE_AREA = 2.4e6          # m² for a village of TARGET_VILLAGE_HH households
TOWNSHIP_HH = 12000


@dataclass
class Countryside:
    villages: np.ndarray      # polygons / multipolygons
    centres: np.ndarray       # village centre points (the 村委会)
    households: np.ndarray
    township: np.ndarray      # township index per village
    township_kind: list       # "town" | "township" per township
    seat: np.ndarray          # index of each township's seat village
    county: shapely.Geometry
    roads: Lines


def village_households(rural_hh: int, rng) -> np.ndarray:
    """Village sizes between 150 and 1,500, a fifth of them small (under ~300)."""
    n = max(2, int(round(rural_hh / TARGET_VILLAGE_HH)))
    n = min(n, max(1, rural_hh // VILLAGE_HH[0]))
    w = rng.lognormal(0.0, 0.45, n)
    w[rng.random(n) < 0.2] *= 0.15
    w[0] *= 0.15  # at least one small village even in a tiny district
    return allocate(rural_hh, w, VILLAGE_HH[0], VILLAGE_HH[1])


def _centres(n: int, outline, rng) -> tuple[np.ndarray, float]:
    d = float(np.sqrt(2.0 * VILLAGE_AREA / np.sqrt(3.0)))
    radius = np.sqrt((n * VILLAGE_AREA + outline.area) / np.pi) * 1.6 + 2 * d
    rows = np.arange(-radius, radius, d * np.sqrt(3) / 2)
    cols = np.arange(-radius, radius, d)
    gx, gy = np.meshgrid(cols, rows)
    gx = gx + (np.arange(len(rows))[:, None] % 2) * d / 2
    pts = np.column_stack([gx.ravel(), gy.ravel()]) + rng.uniform(-0.25, 0.25, (gx.size, 2)) * d
    c = shapely.get_coordinates(outline.centroid)[0]
    keep = ~shapely.contains_xy(shapely.buffer(outline, 0.45 * d), pts[:, 0], pts[:, 1])
    pts = pts[keep]
    dist = np.hypot(*(pts - c).T) * rng.uniform(0.85, 1.15, len(pts))
    return pts[np.argsort(dist, kind="stable")], d


def _county(n: int, outline, rng):
    """The ``n`` village centres nearest the town that form one connected county (a
    fringe point whose disc would be an island is replaced by the next candidate)."""
    cand, d = _centres(n, outline, rng)
    chosen = np.arange(n)
    nxt = n
    for _ in range(50):
        pts = cand[chosen]
        blob = shapely.union_all(np.append(shapely.buffer(shapely.points(pts), 0.8 * d),
                                           outline))
        blob = shapely.buffer(shapely.buffer(blob, 0.3 * d), -0.3 * d)
        largest = max(shapely.get_parts(blob), key=lambda g: g.area)
        county = shapely.Polygon(largest.exterior)
        out = np.flatnonzero(~shapely.contains_xy(county, pts[:, 0], pts[:, 1]))
        if len(out) == 0 or nxt + len(out) > len(cand):
            return pts, county, d
        chosen[out] = np.arange(nxt, nxt + len(out))
        nxt += len(out)
    return pts, county, d


def _townships(pts: np.ndarray, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Farthest-point seeds, villages joined to the nearest seed."""
    seeds = [int(rng.integers(len(pts)))]
    dist = np.hypot(*(pts - pts[seeds[0]]).T)
    for _ in range(1, min(n, len(pts))):
        seeds.append(int(np.argmax(dist)))
        dist = np.minimum(dist, np.hypot(*(pts - pts[seeds[-1]]).T))
    seeds = np.array(seeds)
    d2 = ((pts[:, None, :] - pts[seeds][None, :, :]) ** 2).sum(-1)
    township = np.argmin(d2, axis=1)
    order = np.lexsort((pts[seeds, 0].round(-2), -pts[seeds, 1].round(-2)))  # north-west first
    rank = np.empty(len(seeds), dtype=np.int64)
    rank[order] = np.arange(len(seeds))
    return rank[township], seeds[order]


def build_countryside(rural_hh: int, town: Town, rng: np.random.Generator) -> Countryside:
    """Villages, townships, county outline and rural roads around ``town``."""
    households = village_households(rural_hh, rng)
    pts, county, d = _county(len(households), town.outline, rng)
    region = shapely.difference(county, town.outline)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts),
                                                       extend_to=county, ordered=True))
    villages = shapely.intersection(cells, region)
    if shapely.is_empty(villages).any():
        raise RuntimeError("a village centre fell outside the county (generator bug)")
    n_town = max(1, int(round(rural_hh / TOWNSHIP_HH)))
    township, seat = _townships(pts, n_town, rng)
    kinds = ["town" if i < max(1, int(np.ceil(0.6 * len(seat)))) else "township"
             for i in range(len(seat))]
    roads = rural_roads(pts, villages, town, county, rng, d)
    # the county is exactly what its units cover, whatever the smoothing above did
    county = shapely.union_all(np.append(villages, town.outline))
    return Countryside(villages, shapely.points(pts), households, township, kinds, seat,
                       county, roads)


def _kruskal(n: int, edges: np.ndarray, length: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Minimum spanning forest over ``n`` nodes; ``free`` edges join for nothing."""
    parent = np.arange(n)

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    chosen = np.zeros(len(edges), dtype=bool)
    for k in np.lexsort((length, ~free)):  # a few thousand edges: cheap
        a, b = find(int(edges[k, 0])), find(int(edges[k, 1]))
        if a != b:
            parent[a] = b
            chosen[k] = not free[k]
    return chosen


def rural_roads(pts, villages, town: Town, county, rng, d: float) -> Lines:
    """Village-to-village and village-to-town roads, lanes and highways."""
    ring = shapely.get_exterior_ring(town.outline)
    anchors = shapely.get_coordinates(shapely.line_interpolate_point(
        ring, np.arange(0, ring.length, 0.6 * d)))
    nodes = np.vstack([pts, anchors])
    tri = shapely.get_parts(shapely.delaunay_triangles(shapely.multipoints(nodes),
                                                       only_edges=True))
    ends = shapely.get_coordinates(tri).reshape(-1, 2, 2)
    key = {tuple(p): i for i, p in enumerate(nodes)}
    edges = np.array([[key[tuple(a)], key[tuple(b)]] for a, b in ends])
    length = shapely.length(tri)
    is_anchor = edges >= len(pts)
    free = is_anchor.all(axis=1)
    inside = shapely.contains_xy(town.outline, *ends.mean(axis=1).T)
    usable = ~free & ~inside
    tree = _kruskal(len(nodes), edges, np.where(usable | free, length, np.inf), free)
    tree &= usable
    extra = usable & ~tree & (length < 1.15 * np.median(length[usable])) & \
        (rng.random(len(edges)) < 0.25)
    keep = np.flatnonzero(tree | extra)
    a, b = nodes[edges[keep, 0]], nodes[edges[keep, 1]]
    # roads reaching the town run 40 m into it so that they node with the ring road
    to_town = is_anchor[keep, 1]
    vec = b - a
    unit = vec / np.hypot(*vec.T)[:, None]
    b = np.where(to_town[:, None], b + 40.0 * unit, b)
    full = wobbly_lines(a[:, 0], a[:, 1], b[:, 0], b[:, 1], 0.05 * np.hypot(*vec.T), rng)
    parts = [Lines(full, full, np.full(len(full), "rural", dtype=object), np.full(len(full), -1))]
    parts.append(_lanes(pts, villages, rng))
    parts.append(_highways(town, county, rng))
    lines = Lines.concat(parts)
    outside = shapely.intersection(shapely.difference(lines.geometry, town.outline), county)
    lines.geometry = shapely.line_merge(outside)
    ok = ~shapely.is_empty(lines.geometry) & (shapely.length(lines.geometry) > 10.0)
    return Lines(lines.geometry[ok], lines.full[ok], lines.cls[ok], lines.cell[ok])


def _lanes(pts, villages, rng) -> Lines:
    """One to three dead-end lanes from each village centre (村道), kept inside it."""
    n = rng.integers(1, 4, len(pts))
    vid = np.repeat(np.arange(len(pts)), n)
    ang = rng.uniform(0, 2 * np.pi, len(vid))
    length = rng.uniform(250.0, 600.0, len(vid))
    x0, y0 = pts[vid, 0], pts[vid, 1]
    lines = wobbly_lines(x0, y0, x0 + length * np.cos(ang), y0 + length * np.sin(ang),
                         0.08 * length, rng, n=8)
    inner = shapely.buffer(villages[vid], -25.0)
    clipped = shapely.intersection(lines, inner)
    first = shapely.get_geometry(clipped, 0)
    first = np.where(shapely.get_type_id(clipped) == 1, clipped, first)
    ok = ~shapely.is_empty(first) & (shapely.length(first) > 60.0) & \
        shapely.intersects(first, shapely.buffer(shapely.points(pts[vid]), 0.01))
    return Lines(first[ok], first[ok], np.full(ok.sum(), "lane", dtype=object), vid[ok])


def _highways(town: Town, county, rng) -> Lines:
    """National/provincial roads from the town centre out past the county edge."""
    c = np.asarray(town.outline.centroid.coords[0])
    k = 4 if town.outline.area > 2e7 else 3
    ang = rng.uniform(0, 2 * np.pi) + np.arange(k) * 2 * np.pi / k + rng.normal(0, 0.2, k)
    far = np.sqrt(county.area) * 1.5
    start = c + np.column_stack([np.cos(ang), np.sin(ang)]) * 0.0
    end = c + np.column_stack([np.cos(ang), np.sin(ang)]) * far
    lines = wobbly_lines(start[:, 0], start[:, 1], end[:, 0], end[:, 1], 0.04 * far, rng, n=60)
    return Lines(lines, lines, np.full(k, "primary", dtype=object), np.full(k, -1))
