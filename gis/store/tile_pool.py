"""Asynchronous database connections for the tile path (issue 19): the caller check and
cold tiles run on the event loop without a thread hop, a SQLAlchemy session, a pre-ping,
BEGIN or ROLLBACK. Each statement is one round trip in autocommit (tile statements are
single statements: gis/store/tiles.py ``tile_statement``).

* At most :data:`SIZE` connections per engine and event loop (the cores + 1); further
  requests wait here for a free one. Tile queries are CPU-bound: with more backends than
  cores they only take turns. Measured in the same quiet runs of ``python -m bench
  --only bench_tiles`` (8 clients, 2 cores), cold tiles at 8 / 3 / 2 connections:
  grids 895-914 / 1,149-1,204 / 1,213-1,337 req/s, incidents 346-360 / 371-409 /
  370-388 req/s, and p95 no worse (incidents 42-49 / 32-37 / 35-37 ms): the quick
  zoom-15 tiles did not wait behind the zoom-12 ones more than 8 time-sliced backends
  made every tile wait.
* Parallel query is off on these connections: launching a worker costs more than a tile
  query takes (measured: zoom-14 incident tiles 3x faster without), and concurrent
  requests already keep every core busy.
* Sorting is off too: the only sort a tile statement may get is the one before a
  cluster tile's GROUP BY, planned for a handful of rows (the tile's bounds are not
  known when a statement is prepared) where there are 30,000; hashing the cells instead
  is 22% faster on such a tile. Clusters then come in another order inside the tile,
  the same clusters (tests/test_tile_content.py compares decoded tiles).
* Statements are prepared on first use, with generic plans: a tile statement's text is
  the same for every tile of a layer and zoom class (only its parameters change), and
  planning it afresh cost ~1 ms, as much as running a zoom-15 incident tile (the
  bench's 300 incident tiles, one connection: 4.02 ms a tile unprepared, 3.51 prepared
  with custom plans, 2.31 with the generic plan). psycopg's default prepared a
  statement only at its sixth use on each connection, with PostgreSQL then re-planning
  the first five uses of the prepared one too.
* All the connections are opened when the server starts (:meth:`TileConnections.open`),
  so that a burst of requests never waits for new backends.
* A connection whose statement failed or was cancelled (client gone) is closed, not
  reused. Connections are closed when the engine is disposed.
* Results come in PostgreSQL's binary format: a tile (bytea) arrives as it is, not as
  hex text twice its size that the server encodes and the client decodes."""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import AsyncIterator

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import psycopg as _psycopg_dialect

SIZE = (os.cpu_count() or 2) + 1
OPTIONS = ("-c max_parallel_workers_per_gather=0 -c enable_sort=off "
           "-c plan_cache_mode=force_generic_plan -c statement_timeout=30000")
_DIALECT = _psycopg_dialect.dialect()


class TileConnections:
    """Up to :data:`SIZE` autocommit ``psycopg.AsyncConnection``\\ s of one event loop."""

    def __init__(self, conninfo: str, size: int = SIZE):
        self.conninfo = conninfo
        self.size = size
        self._idle: list = []
        self._open: weakref.WeakSet = weakref.WeakSet()
        self._free = asyncio.Semaphore(size)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator:
        async with self._free:
            conn = None
            while self._idle and conn is None:
                candidate = self._idle.pop()
                conn = None if candidate.closed else candidate
            if conn is None:
                conn = await _connect(self.conninfo)
                self._open.add(conn)
            try:
                yield conn
            except BaseException:
                await _close(conn)
                raise
            if conn.broken or conn.closed:
                await _close(conn)
            else:
                self._idle.append(conn)

    async def open(self) -> int:
        """Open every connection now (the server's start), not on the first requests: a
        burst of tiles then waits for no new backend. A connection the server refuses
        (e.g. at its connection limit) is left to be opened on demand, as before;
        returns how many were refused."""
        opened = await asyncio.gather(*(_connect(self.conninfo)
                                        for _ in range(self.size - len(self._open))),
                                      return_exceptions=True)
        for conn in opened:
            if not isinstance(conn, BaseException):
                self._open.add(conn)
                self._idle.append(conn)
        return sum(isinstance(conn, BaseException) for conn in opened)

    def close_now(self) -> None:
        """Close every connection at once (from any thread: no awaiting)."""
        for conn in list(self._open):
            try:
                conn.pgconn.finish()
            except Exception:
                pass
        self._idle.clear()


async def _connect(conninfo: str):
    import psycopg

    return await psycopg.AsyncConnection.connect(
        conninfo, autocommit=True, connect_timeout=5, options=OPTIONS,
        prepare_threshold=0, application_name="gridgis-tiles")


async def _close(conn) -> None:
    try:
        await conn.close()
    except Exception:
        pass


_POOLS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine -> {loop: pool}
_LOCK = threading.Lock()


def pool_for(engine) -> TileConnections:
    """The tile connections of ``engine`` on the running event loop."""
    loop = asyncio.get_running_loop()
    with _LOCK:
        pools = _POOLS.get(engine)
        if pools is None:
            from sqlalchemy import event

            pools = _POOLS[engine] = weakref.WeakKeyDictionary()
            event.listen(engine, "engine_disposed", lambda *_: _close_all(pools))
        pool = pools.get(loop)
        if pool is None:
            pool = pools[loop] = TileConnections(conninfo_of(engine), SIZE)
        return pool


def conninfo_of(engine) -> str:
    """The libpq URI of ``engine``'s database (psycopg's own, not SQLAlchemy's)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _close_all(pools) -> None:
    for pool in list(pools.values()):
        pool.close_now()


@lru_cache(maxsize=1024)
def pyformat(sql: str) -> str:
    """A statement written with SQLAlchemy ``:name`` parameters (and ``\\:\\:`` casts) as
    psycopg's ``%(name)s`` form, compiled once per distinct statement."""
    return str(text(sql).compile(dialect=_DIALECT))


async def scalar(engine, sql: str, params: dict):
    """The single value of a ``:name``-style statement, on a tile connection."""
    async with pool_for(engine).connection() as conn:
        cur = await conn.execute(pyformat(sql), params, binary=True)
        row = await cur.fetchone()
        return None if row is None else row[0]


async def row(engine, sql: str, params: dict):
    """The first row of a psycopg-style (``%(name)s``) statement, on a tile connection."""
    async with pool_for(engine).connection() as conn:
        cur = await conn.execute(sql, params, binary=True)
        return await cur.fetchone()
