"""Exporting a layer from PostGIS to any supported file format, with the gridgis field
names (so the file imports back unchanged), optional equality filters and a bounding box,
in EPSG:4326 or any CRS the importer accepts (including ``gcj02``/``bd09``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from psycopg import sql
from sqlalchemy import Engine

from gis import csvsafe
from gis.crs import WGS84, parse_crs, wgs84_to_offset
from gis.errors import InputError
from gis.io import format_of, write_layer
from gis.store.registry import Layer, get_layer


def _where(layer: Layer, filters: Mapping[str, object], bbox) -> tuple[sql.Composable, list]:
    """Equality filters on known fields (several values: any of them) and a lon/lat box.
    Values are bound parameters, never SQL text."""
    known = {f.name: f.db_column for f in layer.export_columns}
    parts, params = [], []
    for name, value in filters.items():
        if name not in known:
            raise InputError(f"cannot filter {layer.name} on {name!r} (fields: "
                             f"{', '.join(known)})", field=name)
        values = list(value) if isinstance(value, (list, tuple, set)) else [value]
        parts.append(sql.SQL("{}::text = ANY(%s)").format(sql.Identifier(known[name])))
        params.append([str(v) for v in values])
    if bbox is not None:
        box = [float(v) for v in bbox]
        if len(box) != 4 or box[0] > box[2] or box[1] > box[3]:
            raise InputError("--bbox must be minlon,minlat,maxlon,maxlat", field="bbox")
        parts.append(sql.SQL("geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)"))
        params.extend(box)
    if not parts:
        return sql.SQL(""), params
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(parts), params


def read_table(engine: Engine, layer: str, *, filters: Mapping[str, object] | None = None,
               bbox: Sequence[float] | None = None) -> pd.DataFrame:
    """A layer's rows with gridgis field names: a GeoDataFrame in EPSG:4326 (a DataFrame
    for tables without geometry)."""
    spec = get_layer(layer)
    select = [sql.Identifier(f.db_column) for f in spec.export_columns]
    if spec.geometry:
        select.append(sql.SQL("ST_AsBinary(geom) AS geom"))
    where, params = _where(spec, filters or {}, bbox if spec.geometry else None)
    query = sql.SQL("SELECT {} FROM {}{} ORDER BY {}").format(
        sql.SQL(", ").join(select), sql.Identifier(spec.table), where,
        sql.Identifier(spec.export_order))
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            cur.execute(query, params)
            names = [d.name for d in cur.description]
            df = pd.DataFrame(cur.fetchall(), columns=names)
    for c in df.columns:  # timestamps come back as Python objects; make them a datetime column
        if len(df) and df[c].map(lambda v: hasattr(v, "tzinfo")).any() and c != "geom":
            df[c] = pd.to_datetime(df[c], utc=True)
    if not spec.geometry:
        return df
    geoms = shapely.from_wkb(df.pop("geom").to_numpy()) if len(df) else []
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs=WGS84), crs=WGS84)


def export_layer(engine: Engine, layer: str, path: str | Path, *, crs=None,
                 bbox: Sequence[float] | None = None, source_layer: str | None = None,
                 **filters) -> int:
    """Write a layer to ``path`` (format by suffix) and return the number of rows.

    Examples
    --------
    >>> export_layer(engine, "incidents", "closed.gpkg", status="closed")  # doctest: +SKIP
    """
    fmt = format_of(path)
    df = read_table(engine, layer, filters=filters, bbox=bbox)
    if not isinstance(df, gpd.GeoDataFrame):
        if fmt != "csv":
            raise InputError(f"{layer} has no geometry: export it to .csv", file=str(path))
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.part")
        csvsafe.to_csv(df, tmp)  # spreadsheet formulas neutralised
        tmp.replace(path)  # atomic, like write_layer
        return len(df)
    df = _to_output_crs(df, crs)
    write_layer(df, path, layer=source_layer or layer)
    return len(df)


def _to_output_crs(gdf: gpd.GeoDataFrame, crs) -> gpd.GeoDataFrame:
    target = parse_crs(crs)
    if target is None:
        return gdf
    if target.offset:  # the web offsets are applied on lon/lat; the file still says 4326
        return gdf.set_geometry(wgs84_to_offset(gdf.geometry.values, target.offset), crs=WGS84)
    return gdf.to_crs(target.crs)
