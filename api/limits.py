"""Geometry limits for what clients upload or draw (plans: split lines, redrawn
polygons, uploaded grid files). Checked before any analysis or PostgreSQL sees the
geometry, with errors naming the field: a malformed GeoJSON object, coordinates outside
lon/lat range or not finite, too many vertices, or an extent larger than a county."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gis.errors import InputError
from gis.geomcheck import checked_drawn, checked_polygons

MAX_DRAWN_VERTICES = 10_000        # one line or polygon drawn on the map
MAX_UPLOAD_VERTICES = 2_000_000    # a whole grid file
MAX_EXTENT_DEG = 2.0               # a county spans well under 1 degree


def _check_bounds(bounds: np.ndarray, field: str, file: str | None) -> None:
    if not np.all(np.isfinite(bounds)):
        raise InputError("coordinates must be finite numbers", field=field, file=file)
    x0, y0, x1, y1 = (float(v) for v in bounds)
    if x0 < -180 or x1 > 180 or y0 < -90 or y1 > 90:
        raise InputError("coordinates must be lon/lat in degrees (lon -180..180, "
                         "lat -90..90)", field=field, file=file)
    if x1 - x0 > MAX_EXTENT_DEG or y1 - y0 > MAX_EXTENT_DEG:
        raise InputError(f"the geometry spans more than {MAX_EXTENT_DEG:g} degrees; grids "
                         "are drawn within one county", field=field, file=file)


def drawn_geometry(doc: dict | None, field: str = "geometry") -> BaseGeometry | None:
    """A GeoJSON geometry object drawn by a client, checked; None stays None."""
    if doc is None:
        return None
    try:
        geom = shapely.geometry.shape(doc)
    except Exception as exc:  # shapely raises several types for malformed GeoJSON
        raise InputError(f"not a GeoJSON geometry: {exc}", field=field) from None
    if geom.is_empty:
        raise InputError("the geometry is empty", field=field)
    if shapely.get_num_coordinates(geom) > MAX_DRAWN_VERTICES:
        raise InputError(f"more than {MAX_DRAWN_VERTICES} vertices", field=field)
    checked_drawn(geom, field)  # NaN hides from bounds: every coordinate is checked
    _check_bounds(np.asarray(geom.bounds), field, None)
    return geom


def check_frame(gdf: gpd.GeoDataFrame, file: str | None = None,
                max_vertices: int = MAX_UPLOAD_VERTICES) -> gpd.GeoDataFrame:
    """An uploaded layer (already in EPSG:4326), checked as a whole."""
    geoms = gdf.geometry.values
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not present.any():
        raise InputError("the file holds no geometry", field="file", file=file)
    if int(shapely.get_num_coordinates(geoms).sum()) > max_vertices:
        raise InputError(f"more than {max_vertices} vertices", field="file", file=file)
    gdf, repaired = checked_polygons(gdf, file=file)
    _check_bounds(np.asarray(gdf.geometry[present].total_bounds), "file", file)
    gdf.attrs["repaired"] = repaired  # the endpoint says so in its answer
    return gdf
