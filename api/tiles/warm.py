"""Warm tiles answered before FastAPI resolves dependencies (issue 7: ≥ 500 req/s).

The tile endpoints are registered with :class:`WarmTileRoute`. Every tile GET is first
checked in ONE query on a dedicated connection (gis/store/sql/tile_warm_check.sql, through
:func:`gis.services.accounts.warm_check`): the
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

from fastapi.routing import APIRoute
from starlette.requests import cookie_parser
from starlette.types import Receive, Scope, Send

from api.tiles import mvt as svc
from api.auth import COOKIE, PROTOCOL_ONLY, VERIFIED, request_token
from gis.services import accounts

MAX_SEEN = 200_000  # remembered (path, query) pairs before the set starts over
COUNTERS = "gridgis.counters"  # request scope key: the change counters the check read


class WarmTileRoute(APIRoute):
    """An APIRoute that first tries :func:`send_warm` (no dependencies, no session)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "GET" and await send_warm(scope, send):
            return
        await super().handle(scope, receive, send)


class WarmResponses:
    """Tiles as answered, keyed by (path, query string, what the caller may see:
    ``Principal.view``)."""

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
    found = accounts.warm_check(app.state.engine, token)
    if found is None:
        return False
    principal, counters = found
    if principal.role in PROTOCOL_ONLY:  # the endpoint refuses it (api.auth)
        return False
    scope[VERIFIED], scope[COUNTERS] = (token, principal), counters
    warm = getattr(app.state, "tile_responses", None)
    tile = warm.current(scope, principal.view, counters) \
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
