"""Vector tiles over HTTP: the tile object with its ETag and caching headers, and an
in-process cache. The tiles themselves are built in PostGIS by :mod:`gis.store.tiles`
through the use case :func:`gis.services.layers.tile`, which reads the change counters of
the tables behind the layers and builds only what the cache does not hold.

* Cached tiles are keyed by the layer, tile, filter, caller's scope and the change
  counters of the tables behind the layer (bumped by triggers, migration 0002): a commit
  that changes rows changes the key. Tiles of live layers also expire after
  :data:`LIVE_TTL` s (their content depends on the clock).
* Whole responses are cached as well and answered before FastAPI runs: api/tiles/warm.py.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import Engine

from gis.services import layers as service
from gis.services.layers import LIVE_TTL, MAX_POINTS, Layer, LayerQuery

__all__ = ["LIVE_TTL", "MAX_POINTS", "MAX_ZOOM", "MVT", "Tile", "TileCache", "etag_of",
           "checked_tile", "get_tile", "get_tile_async", "tile_headers"]

MAX_ZOOM = 24
MVT = "application/vnd.mapbox-vector-tile"


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


def get_tile(engine: Engine, cache: TileCache | None,
             layers: list[tuple[Layer, LayerQuery]], z: int, x: int, y: int,
             counters: dict | None = None) -> Tile:
    """The tile z/x/y holding ``layers`` (each with its query), from the cache when the
    tables behind them have not changed since it was built (and, for live layers, when
    it is at most :data:`LIVE_TTL` seconds old: their tiles also depend on the clock).
    ``counters`` (all of them, read before the request began) saves reading them."""
    built = service.tile(engine, cache, layers, z, x, y, counters)
    return Tile(built.data, etag_of(built.data), built.tables, built.versions, built.live)


async def get_tile_async(engine: Engine, cache: TileCache | None,
                         layers: list[tuple[Layer, LayerQuery]], z: int, x: int, y: int,
                         counters: dict) -> Tile:
    """:func:`get_tile` on the event loop (the cold path of api/tiles/warm.py)."""
    built = await service.tile_async(engine, cache, layers, z, x, y, counters)
    return Tile(built.data, etag_of(built.data), built.tables, built.versions, built.live)


async def checked_tile(engine: Engine, cache: TileCache | None, digest: str, expected,
                       layer: Layer, query: LayerQuery, z: int, x: int, y: int):
    """:func:`gis.services.layers.checked_tile_async` with the tile as a :class:`Tile`."""
    found = await service.checked_tile_async(engine, cache, digest, expected, layer, query,
                                             z, x, y)
    if found is None or found[2] is None:
        return found
    principal, counters, built = found
    return principal, counters, Tile(built.data, etag_of(built.data), built.tables,
                                     built.versions, built.live)
