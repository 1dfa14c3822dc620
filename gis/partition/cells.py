"""Cells: the geometry steps shared by the block builder and the block splitter — which
cell holds a point, unions by label, polygon repair, Voronoi cells around buildings that
keep each building whole, and dropping empty cells. Below :mod:`.blocks` and
:mod:`.split`, so neither needs the other to reach them."""

from __future__ import annotations

import numpy as np
import shapely

SITE_SPACING = 8.0  # metres between Voronoi sites along building outlines
SPECK_AREA = 0.1  # m²: holes and parts smaller than this are noise of overlays


def locate(points, cells) -> np.ndarray:
    """Index of the cell holding each point (-1 when none); points on a shared edge go to
    the first cell found."""
    tree = shapely.STRtree(cells)
    pi, ci = tree.query(points, predicate="intersects")
    out = np.full(len(points), -1, dtype=int)
    out[pi[::-1]] = ci[::-1]  # the first hit wins
    return out


def union_by(geoms, labels, n: int, *, coverage: bool = False) -> np.ndarray:
    """Union of geometries grouped by integer label 0..n-1 (empty for unused labels).
    ``coverage=True`` is much faster for pieces that only share edges (Voronoi cells)."""
    merge = shapely.coverage_union_all if coverage else shapely.union_all
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(n + 1))
    out = np.empty(n, dtype=object)
    for g in range(n):
        part = geoms[order[bounds[g]:bounds[g + 1]]]
        out[g] = part[0] if len(part) == 1 else (merge(part) if len(part) else shapely.Polygon())
    return out


def polygonal(geoms, min_area: float = None) -> np.ndarray:
    """Valid (Multi)Polygons: unions and differences of touching cells can leave a
    collapsed ring or a stray line behind; those are repaired and dropped, and so are
    holes and parts smaller than ``min_area`` (m², metric CRS; 0 in degrees: none)."""
    geoms = np.asarray(geoms, dtype=object).copy()
    bad = ~shapely.is_valid(geoms) | ~np.isin(shapely.get_type_id(geoms), (3, 6))
    for k in np.flatnonzero(bad & ~shapely.is_empty(geoms)):
        fixed = shapely.make_valid(geoms[k], method="structure", keep_collapsed=False)
        parts = shapely.get_parts(fixed)
        parts = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
        geoms[k] = shapely.union_all(parts) if len(parts) else shapely.Polygon()
    holed = np.flatnonzero(shapely.get_num_interior_rings(geoms) > 0)
    multi = np.flatnonzero(shapely.get_type_id(geoms) == 6)
    for k in np.union1d(holed, multi) if min_area != 0 else ():
        geoms[k] = _drop_specks(geoms[k], SPECK_AREA if min_area is None else min_area)
    return geoms


def _drop_specks(geom, min_area: float = SPECK_AREA):
    """Without holes and parts smaller than ``min_area`` (m²): slivers of float noise
    where cells almost tile, which reprojection can turn into invalid rings."""
    out = []
    for poly in shapely.get_parts(geom):
        if poly.area < min_area:
            continue
        holes = [h for h in poly.interiors if shapely.Polygon(h).area >= min_area]
        out.append(shapely.Polygon(poly.exterior, holes) if len(holes) < len(poly.interiors)
                   else poly)
    if not out:
        return geom
    return out[0] if len(out) == 1 else shapely.MultiPolygon(out)


def _sites(geoms, spacing: float):
    """Points along each unit's outline (or the point itself) and the unit they belong to."""
    outline = np.where(np.isin(shapely.get_type_id(geoms), (3, 6)),
                       shapely.boundary(geoms), geoms)
    dense = shapely.segmentize(outline, spacing)
    coords, owner = shapely.get_coordinates(dense, return_index=True)
    keys = np.round(coords, 2)
    _, first = np.unique(keys, axis=0, return_index=True)
    first.sort()
    return coords[first], owner[first]


def voronoi_cells(geoms, parent, spacing: float = SITE_SPACING) -> np.ndarray:
    """Share the parent out between units by nearest outline: one cell per unit (empty for
    a unit entirely hidden under another). Each cell holds its own building whole."""
    n = len(geoms)
    if n == 1:
        return np.array([parent], dtype=object)
    coords, owner = _sites(geoms, spacing)
    if len(np.unique(owner)) == 1:
        out = np.array([shapely.Polygon()] * n, dtype=object)
        out[owner[0]] = parent
        return out
    # in local coordinates: with metric eastings/northings in the millions GEOS can emit
    # an invalid cell and lose the order of the cells
    shift = coords.mean(axis=0)
    frame = shapely.transform(parent, lambda c: c - shift)
    diagram = shapely.voronoi_polygons(shapely.multipoints(coords - shift), extend_to=frame,
                                       ordered=True)
    polys = shapely.transform(shapely.get_parts(diagram), lambda c: c + shift)
    # GEOS can emit a self-touching cell, or a collection, for collinear sites
    bad = ~shapely.is_valid(polys) | (shapely.get_type_id(polys) != 3)
    polys[bad] = polygonal(shapely.make_valid(polys[bad]))
    cells = union_by(polys, owner, n, coverage=not bad.any())
    try:
        shapely.prepare(parent)
        cells = shapely.intersection(cells, parent)
    except shapely.errors.GEOSException:  # a parent with near-touching rings: repair, snap
        cells = shapely.intersection(polygonal(shapely.make_valid(cells)),
                                     polygonal([shapely.make_valid(parent)])[0], grid_size=1e-6)
    return keep_buildings_whole(cells, geoms)


def keep_buildings_whole(cells, geoms) -> np.ndarray:
    """Give back to each polygon unit the parts of it that fell into another unit's cell
    (a wide building's middle can be nearer a neighbour's wall than its own). The cells
    still tile the same area."""
    cells = np.asarray(cells, dtype=object).copy()
    poly = np.flatnonzero(np.isin(shapely.get_type_id(geoms), (3, 6)))
    if not len(poly):
        return cells
    b, c = shapely.STRtree(cells).query(geoms[poly], predicate="intersects")
    b = poly[b]
    other = b != c
    b, c = b[other], c[other]
    piece = shapely.intersection(cells[c], geoms[b])
    real = shapely.area(piece) > 1e-4
    for u, k, part in zip(b[real], c[real], piece[real]):
        cells[k] = shapely.difference(cells[k], part)
        cells[u] = shapely.union(cells[u], part)
    return cells


def compact(cells, unit_atom):
    """Drop empty cells and renumber the atoms units point to."""
    keep = ~(shapely.is_empty(cells) | (shapely.area(cells) <= 1e-6))
    new = np.cumsum(keep) - 1
    mapped = np.where(unit_atom >= 0, new[np.maximum(unit_atom, 0)], -1)
    mapped[(unit_atom >= 0) & ~keep[np.maximum(unit_atom, 0)]] = -1
    return cells[keep], mapped
