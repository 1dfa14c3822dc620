"""Reading served layers as features: pages of GeoJSON, counts, extents, one feature,
and whole filtered layers as GeoDataFrames (downloads). The SQL lives in ``sql/layer_*.sql``;
identifiers come from the catalogue, values are bound."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import geopandas as gpd
from pyproj import CRS
from sqlalchemy import bindparam, literal_column, text
from sqlalchemy.orm import Session

from gis.crs import metric_crs
from gis.errors import NotFound
from gis.store.layer_filters import LayerQuery, compile_condition, layer_condition, where_sql
from gis.store.layers_catalog import Layer

SQL_DIR = Path(__file__).with_name("sql")
CRS84 = 4326  # stored lon/lat; served as OGC CRS84 (lon, lat axis order)


@lru_cache
def _sql(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text()


@lru_cache
def north_first(srid: int) -> bool:
    """Whether the CRS's first axis points north (EPSG:4549 and the other CGCS2000
    Gauss–Krüger zones do): OGC API Part 2 serves coordinates in the CRS's axis order."""
    return srid != CRS84 and CRS.from_epsg(srid).axis_info[0].direction.lower() == "north"


def _geom_sql(out_srid: int) -> str:
    geom = "ST_Transform(t.geom, :out_srid)"
    return f"ST_FlipCoordinates({geom})" if north_first(out_srid) else geom


def _props_sql(layer: Layer) -> str:
    return ", ".join(f"'{p.name}', {p.sql}" for p in layer.props)


def _render(name: str, layer: Layer, where: str, **extra) -> str:
    return _sql(name).format(table=layer.table, id=layer.id_column, where=where, **extra)


def feature_page(session: Session, layer: Layer, query: LayerQuery, *, limit: int,
                 offset: int, out_srid: int = CRS84) -> list[str]:
    """GeoJSON features (as JSON text) of one page, ordered by id."""
    where, params = where_sql(layer, query)
    sql = _render("layer_items", layer, where, props=_props_sql(layer),
                  geom=_geom_sql(out_srid))
    digits = 7 if out_srid == CRS84 else 3  # ~1 cm either way
    params.update(out_srid=out_srid, digits=digits, limit=limit, offset=offset)
    return list(session.execute(text(sql), params).scalars())


def count_features(session: Session, layer: Layer, query: LayerQuery) -> int:
    where, params = where_sql(layer, query)
    return int(session.execute(text(_render("layer_count", layer, where)), params).scalar_one())


def one_feature(session: Session, layer: Layer, fid: str, query: LayerQuery, *,
                out_srid: int = CRS84) -> str:
    """One feature by id, within the caller's scope (outside it: not found)."""
    value = fid
    if layer.id_kind == "int":
        if not fid.isdigit():
            raise NotFound(f"no feature {fid!r} in {layer.id}")
        value = int(fid)
    cond = layer_condition(layer, query) & (literal_column(f"t.{layer.id_column}")
                                            == bindparam("fid", value))
    where, params = compile_condition(cond)
    sql = _render("layer_items", layer, where, props=_props_sql(layer),
                  geom=_geom_sql(out_srid))
    params.update(out_srid=out_srid, digits=7 if out_srid == CRS84 else 3, limit=1, offset=0)
    found = session.execute(text(sql), params).scalar()
    if found is None:
        raise NotFound(f"no feature {fid!r} in {layer.id}")
    return found


def layer_extent(session: Session, layer: Layer, query: LayerQuery) -> dict:
    """``{"bbox": [minx, miny, maxx, maxy] | None, "interval": [t0, t1] | None, "count": n}``."""
    where, params = where_sql(layer, query)
    t0, t1 = (f"min(t.{layer.datetime[0]})", f"max(t.{layer.datetime[1]})") \
        if layer.datetime else ("NULL::timestamptz", "NULL::timestamptz")
    row = session.execute(text(_render("layer_extent", layer, where, t0=t0, t1=t1)),
                          params).mappings().one()
    bbox = None if row["minx"] is None else [row["minx"], row["miny"], row["maxx"], row["maxy"]]
    interval = [row["t0"], row["t1"]] if layer.datetime and row["t0"] is not None else None
    return {"bbox": bbox, "interval": interval, "count": int(row["n"])}


def area_metric_srid(session: Session) -> int | None:
    """The metric CRS (EPSG code) of the managed area: CGCS2000 Gauss–Krüger in China,
    UTM elsewhere, chosen from the admin units' extent. None while nothing is loaded."""
    row = session.execute(text(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
        "FROM (SELECT ST_Extent(geom) AS e FROM admin_units) s")).one()
    if row[0] is None:
        row = session.execute(text(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
            "FROM (SELECT ST_Extent(geom) AS e FROM grids) s")).one()
    if row[0] is None:
        return None
    return metric_crs(tuple(row)).to_epsg()


def layer_frame(session: Session, layer: Layer, query: LayerQuery, *,
                limit: int | None = None, out_srid: int = CRS84) -> gpd.GeoDataFrame:
    """The filtered layer as a GeoDataFrame (``id`` + properties + geometry)."""
    where, params = where_sql(layer, query)
    columns = ", ".join(f'{p.sql} AS "{p.name}"' for p in layer.props)
    limit_sql = ""
    if limit is not None:
        limit_sql, params["limit"] = "LIMIT :limit", limit
    sql = _render("layer_rows", layer, where, columns=columns, limit=limit_sql)
    gdf = gpd.read_postgis(text(sql), session.connection(), geom_col="geometry",
                           params=params, crs=CRS84)
    return gdf.to_crs(out_srid) if out_srid != CRS84 else gdf
