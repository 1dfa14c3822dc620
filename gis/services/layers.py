"""The served layers (OGC API – Features, downloads, vector tiles, the map page's extent):
reads of the layer catalogue within the caller's scope. The catalogue and the SQL are
:mod:`gis.store.layers_catalog`, :mod:`gis.store.layer_filters`,
:mod:`gis.store.layer_features` and :mod:`gis.store.tiles`; every use case here is
read-only."""

from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import dataclass

import geopandas as gpd
from sqlalchemy import Engine

from gis.services.uow import unit_of_work
from gis.store import layer_features as lf
from gis.store import scoped_versions
from gis.store import tile_pool, tiles, warm_check
from gis.store.layer_features import CRS84, north_first
from gis.store.layer_filters import LayerQuery, parse_bbox, parse_filters, parse_interval
from gis.store.layers_catalog import LAYERS, Layer, get_layer
from gis.store.tiles import MAX_POINTS
from gis.store.users import Principal

log = logging.getLogger(__name__)

__all__ = ["CRS84", "LAYERS", "LIVE_TTL", "MAX_POINTS", "Layer", "LayerQuery", "TileLayers",
           "catalogue", "change_counters", "extent", "feature", "features_page", "get_layer",
           "layer_frame", "map_bounds", "metric_srid", "north_first", "parse_bbox",
           "parse_filters", "parse_interval", "tile", "tile_async", "checked_tile_async"]

CHINA = [73.5, 18.0, 135.0, 53.5]  # the map's start when nothing is loaded yet


def metric_srid(engine: Engine) -> int | None:
    """The metric CRS (EPSG code) of the managed area; None while nothing is loaded."""
    with unit_of_work(engine, read_only=True) as session:
        return lf.area_metric_srid(session)


def catalogue(engine: Engine, layers: list[Layer],
              principal: Principal) -> tuple[int | None, dict[str, dict]]:
    """``(metric srid, {layer id: extent})``: extents (bbox, interval, count) of ``layers``
    within the caller's scope, read in one transaction."""
    with unit_of_work(engine, read_only=True) as session:
        metric = lf.area_metric_srid(session)
        extents = {layer.id: lf.layer_extent(session, layer, LayerQuery(principal=principal))
                   for layer in layers}
    return metric, extents


def extent(engine: Engine, layers: list[Layer], principal: Principal) -> list[list | None]:
    """The bbox of each layer within the caller's scope (None: empty)."""
    with unit_of_work(engine, read_only=True) as session:
        return [lf.layer_extent(session, layer, LayerQuery(principal=principal))["bbox"]
                for layer in layers]


def map_bounds(engine: Engine, principal: Principal) -> list[float]:
    """Where the dispatcher map opens: the admin units (else grids) of the caller's area."""
    for box in extent(engine, [LAYERS["admin_units"], LAYERS["grids"]], principal):
        if box:
            return box
    return CHINA


def features_page(engine: Engine, layer: Layer, query: LayerQuery, *, limit: int,
                  offset: int, out_srid: int) -> tuple[list[str], int]:
    """``(one page of GeoJSON features as text, number matched)``, read in one snapshot."""
    with unit_of_work(engine, read_only=True) as session:
        features = lf.feature_page(session, layer, query, limit=limit, offset=offset,
                                   out_srid=out_srid)
        return features, lf.count_features(session, layer, query)


def feature(engine: Engine, layer: Layer, fid: str, principal: Principal, *,
            out_srid: int) -> str:
    """One feature as GeoJSON text (NotFound outside the caller's scope)."""
    with unit_of_work(engine, read_only=True) as session:
        return lf.one_feature(session, layer, fid, LayerQuery(principal=principal),
                              out_srid=out_srid)


def layer_frame(engine: Engine, layer: Layer, query: LayerQuery, *, limit: int | None = None,
                out_srid: int = CRS84) -> gpd.GeoDataFrame:
    """The filtered layer as a GeoDataFrame (for downloads)."""
    with unit_of_work(engine, read_only=True) as session:
        return lf.layer_frame(session, layer, query, limit=limit, out_srid=out_srid)


# -- vector tiles ------------------------------------------------------------------------------
# Live layers (incidents: "overdue" turns true as due dates pass) are rebuilt at least
# this often even when no row changed (their Cache-Control lets clients keep them 5 s).
LIVE_TTL = 15.0


@dataclass(frozen=True)
class TileLayers:
    """The MVT bytes of a tile, the tables behind it, their counters when it was built,
    and whether it shows a live layer."""

    data: bytes
    tables: tuple[str, ...]
    versions: tuple[int, ...]
    live: bool


def change_counters(engine: Engine, tables) -> tuple[int, ...]:
    """The change counters of ``tables`` (in order): they move with every commit."""
    with unit_of_work(engine, read_only=True) as session:
        return tiles.change_counters(session, tables)


def scoped_version(engine: Engine, layer: Layer, principal: Principal) -> str:
    """The layer's version as a scoped caller may see it (rows of their area only)."""
    with unit_of_work(engine, read_only=True) as session:
        return scoped_versions.scoped_version(session, layer, principal)


def tile(engine: Engine, cache, layers: list[tuple[Layer, LayerQuery]], z: int, x: int,
         y: int, counters: dict | None = None) -> TileLayers:
    """Tile z/x/y of ``layers`` (each with its query). Each layer's part comes from
    ``cache`` (anything with ``get(key)`` and ``put(key, data, ttl)``; None: no cache) when
    the tables behind it have not changed; the rest is built in one read-only unit of work,
    opened only when something must be read."""
    behind = [tiles.tables_behind(layer, query) for layer, query in layers]
    tables = tuple(sorted({t for ts in behind for t in ts}))
    with ExitStack() as stack:
        session = None

        def db():
            nonlocal session
            if session is None:
                session = stack.enter_context(unit_of_work(engine, read_only=True))
            return session

        versions = {t: int(counters.get(t, 0)) for t in tables} if counters is not None \
            else dict(zip(tables, tiles.change_counters(db(), tables)))
        parts = []
        for (layer, query), ts in zip(layers, behind):
            key = (layer.id, z, x, y, query.key(), tuple(versions[t] for t in ts))
            data = cache.get(key) if cache is not None else None
            if data is None:
                data = tiles.build_layer_tile(db(), layer, z, x, y, query)
                if cache is not None:
                    cache.put(key, data, LIVE_TTL if layer.live else None)
            parts.append(data)
    data = b"".join(parts)  # MVT layers are concatenable protobuf messages
    return TileLayers(data, tables, tuple(versions[t] for t in tables),
                      any(layer.live for layer, _ in layers))


async def open_tile_connections(engine: Engine) -> None:
    """Open the tile connections of ``engine`` on the running event loop (server start);
    those the database refuses now are opened on demand later."""
    refused = await tile_pool.pool_for(engine).open()
    if refused:
        log.warning("%d tile connection(s) refused at start; opened on demand", refused)


async def checked_tile_async(engine: Engine, cache, digest: str, expected: Principal,
                             layer: Layer, query: LayerQuery, z: int, x: int, y: int):
    """A cold tile of one layer in ONE round trip (issue 19): the caller check and the
    tile built for ``expected`` (the caller this token named before) in one statement
    (gis/store/sql/tile_checked.sql). Returns None when the token names no valid caller
    (or the layer is not drawn at this zoom); else ``(principal, counters, tile)`` with
    ``tile`` None when the caller is not ``expected`` (nothing was built for them)."""
    statement = tiles.tile_statement(layer, z, x, y, query)
    if statement is None:
        return None
    sql, params = warm_check.checked_statement(digest, expected, *statement)
    row = await tile_pool.row(engine, tile_pool.pyformat(sql), params)
    found = warm_check.found_of(row)
    if found is None:
        return None
    principal, counters = found
    if row[6] is None:
        return principal, counters, None
    data, behind = bytes(row[6]), tiles.tables_behind(layer, query)
    versions = tuple(int(counters.get(t, 0)) for t in behind)
    if cache is not None:
        cache.put((layer.id, z, x, y, query.key(), versions), data,
                  LIVE_TTL if layer.live else None)
    tables = tuple(sorted(set(behind)))
    return principal, counters, TileLayers(
        data, tables, tuple(int(counters.get(t, 0)) for t in tables), layer.live)


async def tile_async(engine: Engine, cache, layers: list[tuple[Layer, LayerQuery]], z: int,
                     x: int, y: int, counters: dict) -> TileLayers:
    """:func:`tile` on the event loop (the cold tile path, issue 19), with the change
    counters the caller check read. Each missing layer is ONE read-only statement in
    autocommit on a tile connection (gis/store/tile_pool.py): no unit of work to open,
    no thread to hop to; the layers of a multi-layer tile are read as separate tile
    requests would read them."""
    behind = [tiles.tables_behind(layer, query) for layer, query in layers]
    tables = tuple(sorted({t for ts in behind for t in ts}))
    versions = {t: int(counters.get(t, 0)) for t in tables}
    parts = []
    for (layer, query), ts in zip(layers, behind):
        key = (layer.id, z, x, y, query.key(), tuple(versions[t] for t in ts))
        data = cache.get(key) if cache is not None else None
        if data is None:
            statement = tiles.tile_statement(layer, z, x, y, query)
            data = b"" if statement is None else \
                bytes(await tile_pool.scalar(engine, *statement))
            if cache is not None:
                cache.put(key, data, LIVE_TTL if layer.live else None)
        parts.append(data)
    return TileLayers(b"".join(parts), tables, tuple(versions[t] for t in tables),
                      any(layer.live for layer, _ in layers))
