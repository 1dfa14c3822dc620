"""Inputs as the partitioner wants them: frames in EPSG:4326 and one parent geometry.
Below :mod:`.pipeline` and :mod:`.quality`, which both read their inputs through it."""

from __future__ import annotations

import geopandas as gpd
import shapely

from gis.crs import WGS84


def as_wgs84(gdf):
    """A GeoDataFrame/GeoSeries in EPSG:4326 (no CRS is taken as lon/lat)."""
    if gdf.crs is None:
        return gdf.set_crs(WGS84)
    return gdf if gdf.crs.equals(WGS84) else gdf.to_crs(WGS84)


def as_geometry(parent):
    """One shapely geometry (EPSG:4326) from a geometry, GeoSeries or GeoDataFrame."""
    if isinstance(parent, (gpd.GeoDataFrame, gpd.GeoSeries)):
        return shapely.union_all(as_wgs84(parent).geometry.values)
    return parent
