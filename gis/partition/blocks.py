"""Atoms of a partition: cells that tile the parent exactly, each holding households.

Three ways to form them, chosen from the data:

* ``blocks``: the units are polygons that already cover the parent (census blocks, street
  blocks); each unit is an atom, slivers the units leave are given to a neighbour.
* ``faces``: roads are given and the units are buildings or address points; the street
  network is polygonised inside the parent and each face is an atom (街巷定界), the units
  inside a face belong to it.
* ``voronoi``: no roads, units are buildings or points; the space between them is shared
  out by nearest unit (a Voronoi diagram of points sampled along building outlines, so a
  cell boundary runs between buildings, not through them).

Everything here works in a metric CRS (metres).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.coverage import overlay
from gis.errors import InputError
from gis.partition.cells import compact, locate, polygonal, voronoi_cells
from gis.partition.split import split_cells

COVER_SHARE = 0.99  # units covering this share of the parent are blocks, not buildings
HULL_MARGIN = 15.0  # metres around the units' hull when no parent is given
END_SNAP = 1.0  # metres: road ends are extended this far so that lines which stop a hair
#                 short of a junction or the parent's edge (clipping, reprojection) still node


@dataclass
class Atoms:
    """Cells tiling the parent (metric CRS) and the households each holds."""

    cells: np.ndarray  # shapely polygons, one per atom
    households: np.ndarray  # float per atom
    unit_atom: np.ndarray  # int per unit: its atom, -1 when outside the parent
    mode: str  # "blocks" | "faces" | "voronoi"


def per_atom(atoms: "Atoms", values) -> np.ndarray:
    """A per-unit value (a compound name) carried to each atom (None where no unit)."""
    ok = atoms.unit_atom >= 0
    out = np.array([None] * len(atoms.cells), dtype=object)
    out[atoms.unit_atom[ok]] = np.asarray(values, dtype=object)[ok]
    return out


def clean_units(units: gpd.GeoDataFrame, households: str) -> gpd.GeoDataFrame:
    """Repair geometry and household counts as real files bring them.

    Missing or non-numeric counts become 0 (a unit without households still takes space)
    and are counted; negative counts are an error naming the row (1-based, as in the
    file). Empty geometries are dropped and counted (``attrs["repairs"]``).
    """
    if not len(units):
        raise InputError("no units: the layer has no features", field="geometry")
    if households not in units.columns:
        raise InputError(f"no household field {households!r} (columns: "
                         f"{', '.join(map(str, units.columns))})", field=households)
    raw = pd.to_numeric(units[households], errors="coerce").to_numpy(dtype=float)
    if (raw < 0).any():
        row = int(np.flatnonzero(raw < 0)[0])
        raise InputError(f"negative household count {raw[row]:g}", row=row + 1, field=households)
    has_geom = ~(units.geometry.isna() | units.geometry.is_empty).to_numpy()
    out = units[has_geom].copy()
    hh = raw[has_geom]
    out["households"] = np.nan_to_num(hh, nan=0.0)
    geoms = out.geometry.values
    bad = ~shapely.is_valid(geoms)
    repairs = {"geometries_repaired": int(bad.sum()), "rows_without_geometry":
               int((~has_geom).sum()), "households_missing": int(np.isnan(hh).sum())}
    if bad.any():
        fixed = np.asarray(geoms, dtype=object)
        fixed[bad] = shapely.make_valid(fixed[bad], method="structure", keep_collapsed=False)
        out = out.set_geometry(gpd.GeoSeries(fixed, index=out.index, crs=out.crs))
        empty = out.geometry.is_empty
        repairs["rows_without_geometry"] += int(empty.sum())
        out = out[~empty]
    out, merged = dissolve_parts(out)
    out.attrs["repairs"] = {**repairs, **merged}
    return out


PART_SHARE = 0.9  # a footprint this much inside a larger one is a part of it (or a copy)
SAME_AREA = 0.95  # ... and a copy when their areas differ by less than this ratio


def _roots(host: dict) -> np.ndarray:
    """For each part (in order), the building it ends in when hosts are parts too."""
    out = []
    for h in host.values():
        seen = set()
        while h in host and h not in seen:
            seen.add(h)
            h = host[h]
        out.append(h)
    return np.array(out, dtype=int)


def dissolve_parts(units: gpd.GeoDataFrame):
    """Footprints inside another footprint (OSM ``building:part`` inside its building)
    or listed twice are dissolved into the building holding them: one unit.

    Households: the building keeps its own count (a part's floors, or a copy, are the
    same households again, so adding them would count them twice); a building without
    a count takes the sum of its parts' (towers on a podium drawn as parts), so no
    household is lost. Returns the units and the counts reported with the result:
    parts_dissolved, duplicate_footprints, households_from_parts (taken over by their
    building) and households_set_aside (on parts or copies of a building with its own
    count)."""
    geoms = np.asarray(units.geometry.values, dtype=object)
    area = shapely.area(geoms)
    poly = np.isin(shapely.get_type_id(geoms), (3, 6)) & (area > 0)
    none = {"parts_dissolved": 0, "duplicate_footprints": 0, "households_from_parts": 0.0,
            "households_set_aside": 0.0}
    if poly.sum() < 2:
        return units, none
    idx = np.flatnonzero(poly)
    i, j = shapely.STRtree(geoms[idx]).query(geoms[idx], predicate="intersects")
    i, j = idx[i], idx[j]
    bigger = (area[j] > area[i]) | ((area[j] == area[i]) & (j < i))
    i, j = i[bigger], j[bigger]
    share = shapely.area(overlay.intersection(geoms[i], geoms[j])) / area[i]
    inside = share >= PART_SHARE
    if not inside.any():
        return units, none
    pairs = pd.DataFrame({"part": i[inside], "host": j[inside], "area": area[j[inside]]})
    host = pairs.sort_values("area").groupby("part")["host"].last()  # the outermost
    part, host = host.index.to_numpy(), _roots(dict(zip(host.index, host)))
    copies = area[part] / area[host] >= SAME_AREA
    hh = units["households"].to_numpy(dtype=float).copy()
    own = hh[host] > 0
    taken = np.bincount(host[~own], weights=hh[part][~own], minlength=len(hh))
    aside = float(hh[part][own].sum())
    hh = hh + taken
    out = units.assign(households=hh).drop(index=units.index[part])
    return out, {"parts_dissolved": int((~copies).sum()),
                 "duplicate_footprints": int(copies.sum()),
                 "households_from_parts": float(taken.sum()), "households_set_aside": aside}


def is_polygonal(geoms) -> bool:
    kinds = shapely.get_type_id(geoms)
    return bool(len(geoms)) and bool(np.isin(kinds, (3, 6)).mean() > 0.5)


def default_parent(geoms) -> shapely.Geometry:
    """The area the units stand for: their union when they cover it (blocks), else their
    hull widened by ``HULL_MARGIN`` metres (buildings, address points). ``geoms`` must be
    in a metric CRS: the margin is metres, never degrees or feet."""
    if is_polygonal(geoms):
        union = shapely.union_all(geoms)
        hull = shapely.convex_hull(union)
        if union.area >= 0.5 * hull.area:
            return union
    return shapely.buffer(shapely.convex_hull(shapely.union_all(geoms)), HULL_MARGIN)


def anchor_points(geoms) -> np.ndarray:
    """A point inside each unit (representative point for polygons)."""
    return shapely.point_on_surface(geoms)


def end_stubs(lines, reach: float = END_SNAP) -> np.ndarray:
    """Short segments prolonging each line beyond both ends by ``reach`` metres, in the
    direction of its last few metres. Overshoots are dangles that polygonize ignores; an
    end that stopped just short of another line now crosses it and closes the face."""
    lines = np.asarray(lines, dtype=object)
    if not len(lines):
        return lines
    length = shapely.length(lines)
    back = np.minimum(5.0, length / 2)
    out = []
    for end, inner in ((shapely.get_point(lines, 0), shapely.line_interpolate_point(lines, back)),
                       (shapely.get_point(lines, -1),
                        shapely.line_interpolate_point(lines, length - back))):
        a, b = shapely.get_coordinates(end), shapely.get_coordinates(inner)
        v = a - b
        v /= np.maximum(np.linalg.norm(v, axis=1), 1e-9)[:, None]
        out.append(shapely.linestrings(np.stack([a, a + v * reach], axis=1)))
    return np.concatenate(out)


def road_lines(roads, parent) -> np.ndarray:
    """The road lines inside the parent as single LineStrings."""
    lines = shapely.get_parts(shapely.intersection(np.asarray(roads, dtype=object), parent))
    lines = shapely.get_parts(lines[np.isin(shapely.get_type_id(lines), (1, 2, 5))])
    return lines[~shapely.is_empty(lines) & (shapely.length(lines) > 0)]


def road_faces(roads, parent) -> np.ndarray:
    """Polygonise the street network inside the parent: faces tile the parent exactly."""
    lines = road_lines(roads, parent)
    edges = np.concatenate([lines, end_stubs(lines), shapely.get_parts(shapely.boundary(parent))])
    noded = shapely.get_parts(shapely.union_all(edges))
    faces = shapely.make_valid(shapely.get_parts(shapely.polygonize(noded)))
    inside = shapely.contains_properly(parent, shapely.point_on_surface(faces)) | \
        shapely.within(shapely.point_on_surface(faces), parent)
    return faces[inside & (shapely.area(faces) > 1e-6)]


def fill_slivers(cells, parent) -> np.ndarray:
    """Give each piece of the parent not covered by a cell to the neighbour sharing the
    longest edge with it (or make it its own cell when it touches none)."""
    cells = np.asarray(cells, dtype=object).copy()
    rest = shapely.difference(parent, shapely.union_all(cells))
    parts = shapely.get_parts(rest)
    parts = parts[shapely.area(parts) > 1e-6]
    if not len(parts):
        return cells
    tree = shapely.STRtree(cells)
    pi, ci = tree.query(parts, predicate="intersects")
    shared = shapely.length(shapely.intersection(shapely.boundary(parts[pi]),
                                                 shapely.boundary(cells[ci])))
    best = pd.DataFrame({"p": pi, "c": ci, "len": shared}).sort_values("len").groupby("p").last()
    extra = [p for p in range(len(parts)) if p not in best.index]
    for p, c in zip(best.index, best["c"]):
        cells[c] = shapely.union(cells[c], parts[p])
    return np.concatenate([cells, parts[extra]]) if extra else cells


def remove_overlaps(cells) -> np.ndarray:
    """Overlapping input polygons (bad data): the later one gives way."""
    cells = np.asarray(cells, dtype=object).copy()
    tree = shapely.STRtree(cells)
    i, j = tree.query(cells, predicate="overlaps")
    for a, b in zip(i[i < j], j[i < j]):
        cells[b] = shapely.difference(cells[b], cells[a])
    return cells


def _block_cells(geoms, parent):
    shapely.prepare(parent)
    inside = shapely.within(geoms, parent)
    cells = np.asarray(geoms, dtype=object).copy()
    cells[~inside] = shapely.intersection(cells[~inside], parent)
    if shapely.area(cells).sum() > shapely.area(shapely.union_all(cells)) * (1 + 1e-6):
        cells = remove_overlaps(cells)
    unit_atom = np.arange(len(cells))
    cells, unit_atom = compact(cells, unit_atom)
    return fill_slivers(cells, parent), unit_atom


def _voronoi_cells(geoms, points, parent):
    inside = locate(points, np.array([parent], dtype=object)) >= 0
    unit_atom = np.full(len(geoms), -1)
    unit_atom[inside] = np.arange(inside.sum())
    cells = voronoi_cells(geoms[inside], parent)
    cells, unit_atom = compact(cells, unit_atom)
    lost = inside & (unit_atom < 0)  # hidden under another unit: join the cell holding it
    unit_atom[lost] = locate(points[lost], cells)
    return cells, unit_atom


def cover_share(geoms, parent) -> float:
    """Share of the parent's area covered by polygon units."""
    if not is_polygonal(geoms):
        return 0.0
    covered = shapely.intersection(shapely.union_all(geoms), parent)
    return float(shapely.area(covered) / max(shapely.area(parent), 1e-9))


def _split_faces(cells, unit_atom, households, geoms, points, max_households, groups):
    ok = unit_atom >= 0
    load = np.bincount(unit_atom[ok], weights=households[ok], minlength=len(cells))
    which = load > (np.inf if max_households is None else max_households)
    keys = np.arange(len(geoms))
    if groups is not None:  # a compound sharing its block: apart from the other buildings
        names = pd.Series(np.asarray(groups, dtype=object)).fillna("")
        codes = pd.factorize(names)[0]
        kinds = pd.Series(codes[ok]).groupby(unit_atom[ok]).nunique()
        which[kinds.index[kinds.to_numpy() > 1]] = True
        grouped = ~which[np.maximum(unit_atom, 0)] | (load[np.maximum(unit_atom, 0)] <= (
            np.inf if max_households is None else max_households))
        keys = np.where(grouped, codes + len(geoms), keys)  # mixed only: one piece per group
        keys = np.where(names.to_numpy() != "", codes + len(geoms), keys)  # compounds whole
    cells, unit_atom, _origin = split_cells(cells, unit_atom, geoms, points, which, keys)
    return cells, unit_atom


def build_atoms(geoms, households, parent, roads=None, *, max_households=None,
                groups=None) -> Atoms:
    """Form the atoms of ``parent`` from units (metric geometry + household counts).

    Blocks covering the parent are atoms themselves; otherwise roads are polygonised into
    faces, or, without roads, space is shared out by nearest unit. A face holding more
    than ``max_households``, or units of more than one of ``groups`` (compound name per
    unit, None for ordinary units), is split between its buildings (see :mod:`.split`).
    """
    geoms = np.asarray(geoms, dtype=object)
    households = np.asarray(households, dtype=float)
    points = anchor_points(geoms)
    if cover_share(geoms, parent) >= COVER_SHARE:
        cells, unit_atom = _block_cells(geoms, parent)
        mode = "blocks"
    elif roads is not None and len(roads):
        cells = road_faces(roads, parent)
        unit_atom = locate(points, cells)
        mode = "faces"
        cells, unit_atom = _split_faces(cells, unit_atom, households, geoms, points,
                                        max_households, groups)
    else:
        cells, unit_atom = _voronoi_cells(geoms, points, parent)
        mode = "voronoi"
    cells = polygonal(cells)
    ok = unit_atom >= 0
    hh = np.bincount(unit_atom[ok], weights=households[ok], minlength=len(cells))
    return Atoms(cells=cells, households=hh, unit_atom=unit_atom, mode=mode)
