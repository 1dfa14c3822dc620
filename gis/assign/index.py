"""The grids, prepared once for many batches of points (see :mod:`gis.assign` for the rules).

Built from grids in EPSG:4326, a :class:`GridIndex` holds

* the grids in the metric CRS of their extent (``gis.crs.metric_crs``) with an STRtree,
  for the exact tolerance work on the few points near a boundary;
* the range of the projection's scale factor over the extent, so that the tolerance,
  given in true metres, is applied correctly even far from the central meridian;
* for each grid a *safe region* in lon/lat: the grid shrunk by more than the tolerance
  and cut away from every other grid's tolerance zone. A point inside a safe region is
  strictly inside that grid and farther than the tolerance from every other grid, so it
  needs no distance work at all; everything else goes through the exact path.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import shapely
from pyproj import CRS, Proj, Transformer

from gis.assign.edges import Edges, grid_edges
from gis.assign.keys import canonical_keys, display_key, key_order
from gis.assign.lattice import Lattice, build_lattice
from gis.crs import WGS84, metric_crs
from gis.errors import InputError

# Margins that only make the safe regions smaller (a point outside one merely takes the
# exact path): the relative error of GEOS' round buffer joins at 8 segments per quarter
# circle is 0.5 %, lon/lat chords of metric segments of <= 200 m bend by well under 5 cm.
_SAFE_FACTOR = 1.01
_SAFE_MARGIN_M = 0.05
_SEGMENT_M = 200.0
_M_PER_DEG = 111_000.0
LARGE_GRID = 256  # vertices: larger grids take GEOS' indexed path for distances


@dataclass
class GridIndex:
    """Grids prepared for :func:`gis.assign.locate.locate_lonlat`."""

    labels: np.ndarray        # output key text per grid row (object)
    group: np.ndarray         # one id per distinct canonical key (rows of a key share it)
    rank: np.ndarray          # key order of each row, for "ties by key"
    tolerance: float          # metres
    crs: CRS                  # the metric CRS
    to_metric: Transformer    # EPSG:4326 -> crs, always_xy
    proj: Proj                # for scale factors at points
    scale: tuple[float, float]  # min, max scale factor over the extent
    metric: np.ndarray        # grid polygons in the metric CRS (prepared)
    metric_boxes: np.ndarray  # their bounds
    vertices: np.ndarray      # their vertex counts
    tree: shapely.STRtree     # over ``metric``
    boundaries: np.ndarray    # boundaries of ``metric``
    safe: np.ndarray          # safe regions in lon/lat (prepared; may be empty)
    safe_boxes: np.ndarray    # their bounds (NaN for empty ones)
    bounds: np.ndarray        # lon/lat box outside which no point is within tolerance
    lattice: Lattice | None = None  # bins answering most points without a test
    edges: Edges | None = None      # ring edges of small grids, for numpy distances

    def replicas(self, n: int) -> list["GridIndex"]:
        """``n`` indexes sharing everything but their own prepared geometries.

        GEOS builds a prepared geometry's point-in-area and distance indexes lazily, on
        first use, without locking: two threads must never share one. Copies are made
        once per index (in the calling thread) and reused for every later batch.
        """
        cache = self.__dict__.setdefault("_replicas", [self])
        while len(cache) < n:
            cache.append(replace(self, safe=_clone(self.safe), metric=_clone(self.metric),
                                 boundaries=_clone(self.boundaries)))
        return cache[:n]

    @property
    def search(self) -> float:
        """Projected distance that covers ``tolerance`` true metres anywhere in the extent."""
        return self.tolerance * self.scale[1]


def build_index(grids, key: str, tolerance: float = 10.0) -> GridIndex:
    """Prepare the GeoDataFrame ``grids`` (any CRS) keyed by the column ``key``.

    Rows without geometry are ignored; a row without a key is an input error naming the
    row; several rows with one key form one grid (a multi-part area).
    """
    if key not in grids.columns:
        raise InputError(f"no grid key column {key!r} (columns: "
                         f"{', '.join(map(str, grids.columns))})", field=key)
    return index_polygons(grids.geometry.to_numpy(), grids[key].to_numpy(), grids.crs,
                          tolerance, key=key)


def index_polygons(geoms: np.ndarray, keys, crs, tolerance: float = 10.0, *,
                   key: str = "key") -> GridIndex:
    """:func:`build_index` on plain arrays: polygons in ``crs`` and their keys (no pandas).

    ``key`` names the key field in error messages. Independent parts are built on two
    threads (GEOS and numpy release the GIL): the index is on the critical path of a run.
    """
    if not np.isfinite(tolerance) or tolerance < 0:
        raise InputError(f"tolerance must be a non-negative number of metres, not {tolerance}",
                         field="tolerance")
    geoms_ll, values = _polygons_ll(np.asarray(geoms, dtype=object),
                                    np.asarray(keys, dtype=object), crs)
    with ThreadPoolExecutor(2) as pool:
        keyed = pool.submit(_key_columns, values, key)
        extent = shapely.total_bounds(geoms_ll)
        crs = metric_crs(extent)
        # From the CRS's own geographic CRS: CGCS2000 and WGS 84 agree to a few
        # centimetres (PROJ itself applies no shift between them) and the search for a
        # datum transformation costs a third of a second.
        to_metric = Transformer.from_crs(crs.geodetic_crs, crs, always_xy=True)
        metric = _project(geoms_ll, to_metric)
        vertices = shapely.get_num_coordinates(metric)
        edges = pool.submit(grid_edges, metric, vertices <= LARGE_GRID)
        proj = Proj(crs)
        index = GridIndex(None, None, None, float(tolerance), crs, to_metric, proj,
                          _scale_range(proj, extent), metric, shapely.bounds(metric),
                          vertices, shapely.STRtree(metric), shapely.boundary(metric),
                          np.empty(0, dtype=object), np.empty((0, 4)), np.empty(4))
        shapely.prepare(index.metric)
        shapely.prepare(index.boundaries)
        index.safe = _safe_regions(index, pool)
        index.safe_boxes = shapely.bounds(index.safe)
        index.lattice = build_lattice(index.safe, index.safe_boxes, pool)
        index.bounds = _reach(extent, index.search)
        index.edges = edges.result()
        index.labels, index.group, index.rank = keyed.result()
    return index


def _key_columns(values: np.ndarray, key: str):
    """Output label, key group and key rank of each grid row."""
    keys = canonical_keys(values)
    if None in keys:
        row = keys.index(None)
        raise InputError("grid without a key", row=row + 1, field=key)
    uniq, first, group = np.unique(np.asarray(keys, dtype=str), return_index=True,
                                   return_inverse=True)
    rank = key_order(uniq)[group]
    # Output the key as the file writes it, the same text for every row of one key.
    shown = np.asarray([display_key(v) for v in values[first]], dtype=object)
    return shown[group], group, rank


def _clone(geoms: np.ndarray) -> np.ndarray:
    out = shapely.from_wkb(shapely.to_wkb(geoms))
    shapely.prepare(out)
    return out


def _polygons_ll(geoms: np.ndarray, keys: np.ndarray, crs):
    """Present, valid, polygonal geometries in EPSG:4326 and their keys."""
    if crs is None:
        raise InputError("the grids declare no CRS; give one with --grids-crs", field="crs")
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    geoms, keys = geoms[present], keys[present]
    if not CRS(crs).equals(WGS84):
        geoms = _project(geoms, Transformer.from_crs(CRS(crs), WGS84, always_xy=True))
    kinds = shapely.get_type_id(geoms)
    if not np.isin(kinds, (3, 6, 7)).all():  # Polygon, MultiPolygon, collections
        bad = int(np.flatnonzero(~np.isin(kinds, (3, 6, 7)))[0])
        raise InputError(f"grid geometry must be polygonal, not "
                         f"{shapely.get_type_id(geoms[bad])}", row=bad + 1, field="geometry")
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():  # digitised boundaries often self-touch; GEOS needs them valid
        geoms = geoms.copy()
        geoms[invalid] = _polygonal(shapely.make_valid(geoms[invalid]))
    if len(geoms) == 0:
        raise InputError("the grid file holds no polygons", field="geometry")
    return geoms, keys


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep only the polygonal parts of ``make_valid`` output (it may add lines, points)."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    poly = shapely.get_type_id(parts) == 3
    out = np.empty(len(geoms), dtype=object)
    for i in range(len(geoms)):  # few invalid grids: a loop over them is fine
        out[i] = shapely.multipolygons(parts[poly & (owner == i)])
    return out


def _project(geoms: np.ndarray, transformer: Transformer) -> np.ndarray:
    def apply(coords):
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, apply)


def _scale_range(proj: Proj, bounds) -> tuple[float, float]:
    """Min and max point scale over the extent (a transverse Mercator grows away from its
    central meridian: 0.2 % at 5° of longitude, far more for a whole country)."""
    minx, miny, maxx, maxy = bounds
    lon, lat = np.meshgrid(np.linspace(minx, maxx, 9), np.linspace(miny, maxy, 9))
    k = np.asarray(proj.get_factors(lon.ravel(), lat.ravel()).meridional_scale)
    k = k[np.isfinite(k)]
    return (float(k.min()), float(k.max())) if len(k) else (1.0, 1.0)


def _reach(bounds, distance_m: float) -> np.ndarray:
    """The grids' lon/lat box grown by a little more than ``distance_m`` metres."""
    minx, miny, maxx, maxy = bounds
    dlat = 2.0 * distance_m / _M_PER_DEG + 1e-6
    coslat = max(np.cos(np.radians(max(abs(miny), abs(maxy)) + dlat)), 1e-6)
    dlon = dlat / coslat
    return np.array([minx - dlon, miny - dlat, maxx + dlon, maxy + dlat])


def _safe_regions(index: GridIndex, pool: ThreadPoolExecutor) -> np.ndarray:
    """Per grid, the lon/lat region where a point needs no distance work (see module)."""
    rows = np.arange(len(index.metric))
    half = pool.submit(_safe_part, index, rows[: len(rows) // 2])
    rest = _safe_part(index, rows[len(rows) // 2:])
    safe = np.concatenate([half.result(), rest])
    shapely.prepare(safe)
    return safe


def _safe_part(index: GridIndex, rows: np.ndarray) -> np.ndarray:
    shrink = index.search * _SAFE_FACTOR + _SAFE_MARGIN_M
    inner = shapely.buffer(index.metric[rows], -shrink)
    # Grids that overlap (digitising slivers) reach into each other's inner region:
    # cut their tolerance zones away so safe regions never meet another grid's reach.
    i, j = index.tree.query(inner, predicate="intersects")
    other = rows[i] != j
    if other.any():
        inner = inner.copy()
        for a, b in zip(i[other], j[other]):  # only the overlapping pairs
            inner[a] = shapely.difference(inner[a], shapely.buffer(index.metric[b], shrink))
    inner = shapely.segmentize(inner, _SEGMENT_M)
    to_ll = Transformer.from_crs(index.crs, index.crs.geodetic_crs, always_xy=True)
    return _project(inner, to_ll)
