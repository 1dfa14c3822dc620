"""Vector tiles built in PostGIS (ST_AsMVT) with an in-process cache.

* Polygons and lines are simplified to about two tile units at the tile's zoom and carry
  the properties the catalogue selects for that zoom.
* Point layers with ``cluster_below`` are aggregated into clusters (count + per-cluster
  counts) under that zoom, and also above it when a tile holds more than
  :data:`MAX_POINTS` points: a tile is never cut at a feature cap.
* Cached tiles are keyed by the layer, tile, filter, caller's scope and the change
  counters of the tables behind the layer (bumped by triggers, migration 0002), read in
  the request's transaction: a commit that changes rows changes the key. Tiles of live
  layers also expire after :data:`LIVE_TTL` s (their content depends on the clock).
* Whole responses are cached as well and answered before FastAPI runs: api/tiles/warm.py.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from gis.store.layer_filters import LayerQuery, where_sql
from gis.store.layers_catalog import Layer

SQL_DIR = Path(__file__).with_name("sql")
WORLD_M = 2 * 20037508.342789244  # width of the WebMercatorQuad tile at zoom 0
MAX_ZOOM = 24
MAX_POINTS = 3000      # more points than this in a tile: aggregate instead of drawing each
CLUSTER_CELLS = 32     # cells per tile side for clusters at low zoom (16 px at 512 px)
DENSE_CELLS = 64       # finer cells when a zoomed-in tile is too dense
SIMPLIFY_UNITS = 2.0   # simplification tolerance in tile units (4096 per tile side)
MVT = "application/vnd.mapbox-vector-tile"
# Live layers (incidents: "overdue" turns true as due dates pass) are rebuilt at least
# this often even when no row changed (their Cache-Control lets clients keep them 5 s).
LIVE_TTL = 15.0


@lru_cache
def _sql(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text()


def tile_size_m(z: int) -> float:
    return WORLD_M / (2 ** z)


def _geom_sql(layer: Layer) -> str:
    if layer.geometry_type == "Point":
        return "ST_Transform(t.geom, 3857)"
    return "ST_Simplify(ST_Transform(t.geom, 3857), :simplify_m, true)"


def _features(session: Session, layer: Layer, z: int, where: str, params: dict) -> bytes:
    props = "".join(f', {p.sql} AS "{p.name}"' for p in layer.tile_props(z))
    int_id = layer.id_kind == "int"
    sql = _sql("tile_features").format(
        table=layer.table, where=where, props=props, geom=_geom_sql(layer),
        id_select=f"t.{layer.id_column} AS id," if int_id else "",
        fid_name="'id'" if int_id else "NULL")
    params["simplify_m"] = tile_size_m(z) / 4096 * SIMPLIFY_UNITS
    return bytes(session.execute(text(sql), params).scalar_one())


def _clusters(session: Session, layer: Layer, cells: int, where: str, params: dict) -> bytes:
    names = [name for name, _ in layer.cluster_counts]
    sql = _sql("tile_clusters").format(
        table=layer.table, where=where,
        counted_src="".join(f", ({cond}) AS c_{n}" for n, cond in layer.cluster_counts),
        counted_sum="".join(f', count(*) FILTER (WHERE c_{n}) AS "{n}"' for n in names),
        counted_out="".join(f', c."{n}"' for n in names))
    params["cell_m"] = tile_size_m(params["tile_z"]) / cells
    return bytes(session.execute(text(sql), params).scalar_one())


def _point_count(session: Session, layer: Layer, where: str, params: dict) -> int:
    sql = _sql("tile_count").format(table=layer.table, where=where)
    return int(session.execute(text(sql), params).scalar_one())


def build_layer_tile(session: Session, layer: Layer, z: int, x: int, y: int,
                     query: LayerQuery) -> bytes:
    """One MVT layer named ``layer.id`` for tile z/x/y (empty below the layer's minzoom)."""
    if z < layer.minzoom:
        return b""
    where, params = where_sql(layer, query)
    params.update(tile_z=z, tile_x=x, tile_y=y, layer_name=layer.id)
    if layer.cluster_below is not None:
        if z < layer.cluster_below:
            return _clusters(session, layer, CLUSTER_CELLS, where, params)
        if _point_count(session, layer, where, params) > MAX_POINTS:
            return _clusters(session, layer, DENSE_CELLS, where, params)
    return _features(session, layer, z, where, params)


def change_counters(session: Session, tables) -> tuple[int, ...]:
    """The change counters of ``tables`` (in order), as seen by this transaction."""
    rows = dict(session.execute(
        text("SELECT table_name, counter FROM layer_changes WHERE table_name IN :names")
        .bindparams(bindparam("names", expanding=True)), {"names": list(tables)}).all())
    return tuple(int(rows.get(t, 0)) for t in tables)


def tables_behind(layer: Layer, query: LayerQuery) -> tuple[str, ...]:
    """Tables whose changes can change this layer's tile for this query: the layer's own,
    plus admin_units when a scoped caller is filtered by the scope's polygon."""
    scoped = query.principal is not None and query.principal.scope_code
    if layer.scope_geom and scoped and "admin_units" not in layer.watched_tables:
        return (*layer.watched_tables, "admin_units")
    return layer.watched_tables


@dataclass(frozen=True)
class Tile:
    """A built tile, the tables behind it and their counters when it was built, and
    whether it shows a live layer (whose content also depends on the clock)."""

    data: bytes
    etag: str
    tables: tuple[str, ...] = ()
    versions: tuple[int, ...] = ()
    live: bool = False


LIVE_CACHE = "private, max-age=5"
STATIC_CACHE = "private, max-age=3600, stale-while-revalidate=86400"


def tile_headers(tile: Tile) -> dict[str, str]:
    """ETag and caching headers of a tile response (long-lived unless a layer is live;
    private and varying by credentials: what a tile shows depends on the caller's scope)."""
    return {"ETag": tile.etag, "Cache-Control": LIVE_CACHE if tile.live else STATIC_CACHE,
            "Vary": "Authorization, Cookie"}


def etag_of(data: bytes) -> str:
    return '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'


class TileCache:
    """A thread-safe LRU bounded in bytes; values are bytes or objects with ``data``.
    An entry put with ``ttl`` is ignored (and dropped) once older than ``ttl`` seconds."""

    def __init__(self, max_bytes: int = 128 * 2**20):
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, tuple[object, float, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: tuple):
        with self._lock:
            item = self._items.get(key)
            if item is not None and item[1] < time.monotonic():
                self._drop(key)
                item = None
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item[0]

    def put(self, key: tuple, value, ttl: float | None = None) -> None:
        """Store ``value`` under ``key``, replacing an older value."""
        size = len(value) if isinstance(value, bytes) else len(value.data)
        expires = time.monotonic() + ttl if ttl is not None else float("inf")
        with self._lock:
            self._drop(key)
            self._items[key] = (value, expires, size)
            self._bytes += size
            while self._bytes > self.max_bytes and self._items:
                self._drop(next(iter(self._items)))

    def _drop(self, key: tuple) -> None:
        item = self._items.pop(key, None)
        if item is not None:
            self._bytes -= item[2]

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


def get_tile(session: Session, cache: TileCache | None, layers: list[tuple[Layer, LayerQuery]],
             z: int, x: int, y: int, counters: dict | None = None) -> Tile:
    """The tile z/x/y holding ``layers`` (each with its query), from the cache when the
    tables behind them have not changed since it was built (and, for live layers, when
    it is at most :data:`LIVE_TTL` seconds old: their tiles also depend on the clock).
    ``counters`` (all of them, read before this transaction began) saves reading them."""
    behind = [tables_behind(layer, query) for layer, query in layers]
    tables = tuple(sorted({t for ts in behind for t in ts}))
    versions = {t: int(counters.get(t, 0)) for t in tables} if counters is not None \
        else dict(zip(tables, change_counters(session, tables)))
    parts = []
    for (layer, query), ts in zip(layers, behind):
        key = (layer.id, z, x, y, query.key(), tuple(versions[t] for t in ts))
        data = cache.get(key) if cache is not None else None
        if data is None:
            data = build_layer_tile(session, layer, z, x, y, query)
            if cache is not None:
                cache.put(key, data, LIVE_TTL if layer.live else None)
        parts.append(data)
    data = b"".join(parts)  # MVT layers are concatenable protobuf messages
    return Tile(data, etag_of(data), tables, tuple(versions[t] for t in tables),
                any(layer.live for layer, _ in layers))
