"""Warm tiles answered before FastAPI resolves dependencies (issue 7: ≥ 500 req/s).

The tile endpoints are registered with :class:`WarmTileRoute`. Every tile GET is first
checked in ONE query on a dedicated connection (api/tiles/sql/tile_warm_check.sql): the
caller's token, by the same rules as ``principal_for_token`` (not revoked, not expired,
user active), and the current change counters of every watched table. If the response
cached for the caller's path, query string and scope was built
at exactly those counters (and, for a live layer, less than 2 x LIVE_TTL ago), it
is sent as it is: 200, or 304 for a matching If-None-Match.

Anything else (no or bad credentials, a new tile, a stale entry, a database error) falls
through to the normal endpoint, which answers, applies every rule and refills the cache.
So the fast path can only repeat what the endpoint said for the same scope and data:
authentication, scope and invalidation are checked on every request, not cached.

The check runs on the event loop thread, blocking it for one indexed lookup (~0.1 ms):
cheaper than a hop to the thread pool, it takes no locks (a plain MVCC read), and
``statement_timeout`` bounds it; a failure drops the connection and falls through.
"""

from __future__ import annotations

import logging
import threading
import weakref
from functools import lru_cache
from pathlib import Path

from fastapi.routing import APIRoute
from starlette.requests import cookie_parser
from starlette.types import Receive, Scope, Send

from api.tiles import mvt as svc
from api.auth import COOKIE, VERIFIED, request_token
from gis.services.accounts import Principal, token_digest

log = logging.getLogger(__name__)
SQL = Path(__file__).with_name("sql") / "tile_warm_check.sql"
MAX_SEEN = 200_000  # remembered (path, query) pairs before the set starts over
COUNTERS = "gridgis.counters"  # request scope key: the change counters the check read


class WarmTileRoute(APIRoute):
    """An APIRoute that first tries :func:`send_warm` (no dependencies, no session)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "GET" and await send_warm(scope, send):
            return
        await super().handle(scope, receive, send)


class WarmResponses:
    """Tiles as answered, keyed by (path, query string, caller's scope code)."""

    def __init__(self, max_bytes: int = 128 * 2**20):
        self.tiles = svc.TileCache(max_bytes)
        self._seen: set[tuple[str, bytes]] = set()

    def remember(self, scope: Scope, scope_code: str | None, tile: svc.Tile) -> None:
        path, query = scope["path"], scope["query_string"]
        if len(self._seen) >= MAX_SEEN:
            self._seen = set()
        self._seen.add((path, query))
        self.tiles.put((path, query, scope_code), tile, svc.LIVE_TTL if tile.live else None)

    def may_have(self, scope: Scope) -> bool:
        return (scope["path"], scope["query_string"]) in self._seen

    def current(self, scope: Scope, scope_code: str | None, counters: dict) -> svc.Tile | None:
        """The cached tile if built at ``counters`` (and recently enough if live)."""
        key = (scope["path"], scope["query_string"], scope_code)
        tile = self.tiles.get(key)
        if tile is None or tile.versions != tuple(counters.get(t, 0) for t in tile.tables):
            return None
        return tile


def responses_of(app) -> WarmResponses:
    state = app.state
    if getattr(state, "tile_responses", None) is None:
        state.tile_responses = WarmResponses()
    return state.tile_responses


async def send_warm(scope: Scope, send: Send) -> bool:
    """Answer from the warm cache if the caller and the data allow it; False otherwise.

    A caller the check recognised is left in the request scope with the counters, so the
    endpoint, if it runs, neither looks the token up again nor re-reads the counters
    (read before its own snapshot: a tile built from newer rows is only ever filed under
    older counters, which no later request presents)."""
    app = scope.get("app")
    token, if_none_match = _credentials(scope["headers"])
    if app is None or not token:
        return False
    found = checker_for(app.state.engine).check(token_digest(token))
    if found is None:
        return False
    principal, counters = found
    scope[VERIFIED], scope[COUNTERS] = (token, principal), counters
    warm = getattr(app.state, "tile_responses", None)
    tile = warm.current(scope, principal.scope_code, counters) \
        if warm is not None and warm.may_have(scope) else None
    if tile is None:
        return False
    headers = [(k.lower().encode(), v.encode()) for k, v in svc.tile_headers(tile).items()]
    if if_none_match == tile.etag.encode():
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return True
    headers += [(b"content-length", str(len(tile.data)).encode()),
                (b"content-type", svc.MVT.encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": tile.data})
    return True


def _credentials(raw_headers) -> tuple[str | None, bytes | None]:
    authorization, cookie, if_none_match = "", None, None
    for name, value in raw_headers:
        if name == b"authorization":
            authorization = value.decode("latin-1")
        elif name == b"cookie":
            cookie = cookie_parser(value.decode("latin-1")).get(COOKIE)
        elif name == b"if-none-match":
            if_none_match = value
    return request_token(authorization, cookie), if_none_match


class _Checker:
    """One autocommit connection for the warm check, (re)opened on demand."""

    def __init__(self, conninfo: str):
        self.conninfo = conninfo
        self._conn = None
        self._lock = threading.Lock()  # TestClient portals run on other threads

    def check(self, digest: str) -> tuple[Principal, dict] | None:
        """The caller and every change counter, or None (unknown caller or any failure)."""
        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = _connect(self.conninfo)
                row = self._conn.execute(_sql(), {"digest": digest}).fetchone()
            except Exception:  # the normal path will answer (and report) instead
                log.warning("warm tile check failed; using the normal path", exc_info=True)
                self._close()
                return None
        return None if row is None else (Principal(*row[:4]), row[4] or {})

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None

    def close(self, *_) -> None:
        with self._lock:
            self._close()


def _connect(conninfo: str):
    import psycopg

    return psycopg.connect(conninfo, autocommit=True, prepare_threshold=0, connect_timeout=5,
                           options="-c statement_timeout=250",
                           application_name="gridgis-warm-tiles")


@lru_cache
def _sql() -> str:
    return SQL.read_text()


_CHECKERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CHECKERS_LOCK = threading.Lock()


def checker_for(engine) -> _Checker:
    """The engine's warm-check connection (one per engine, closed when it is disposed)."""
    with _CHECKERS_LOCK:
        checker = _CHECKERS.get(engine)
        if checker is None:
            from sqlalchemy import event

            url = engine.url.set(drivername="postgresql")
            checker = _CHECKERS[engine] = _Checker(url.render_as_string(hide_password=False))
            event.listen(engine, "engine_disposed", checker.close)
        return checker
