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

The check is awaited on the event loop (an asynchronous tile connection,
gis/store/tile_pool.py): it never blocks other requests while the database answers.

Cold tiles (issue 19) are built there too when the check passed: the route's endpoint
names how its path and query become layers and a tile (``endpoint.tile_request``, the
same helpers the endpoint uses), and :func:`gis.services.layers.tile_async` builds what
the in-process cache lacks, one statement per layer. Anything it cannot do (a bad
request, a database error) falls through to the endpoint, which answers and reports.
"""

from __future__ import annotations

from fastapi.routing import APIRoute
from starlette.requests import cookie_parser
from starlette.types import Receive, Scope, Send

import logging

from api.tiles import mvt as svc
from api.auth import COOKIE, PROTOCOL_ONLY, VERIFIED, request_token
from gis.services import accounts

log = logging.getLogger("gridgis.tiles")

MAX_SEEN = 200_000  # remembered (path, query) pairs before the set starts over
COUNTERS = "gridgis.counters"  # request scope key: the change counters the check read


class WarmTileRoute(APIRoute):
    """An APIRoute that first tries :func:`send_warm` (no dependencies, no session)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "GET" and await send_warm(
                scope, send, getattr(self.endpoint, "tile_request", None)):
            return
        await super().handle(scope, receive, send)


def viewer(principal) -> tuple:
    """What decides the rows a caller sees: ``Principal.view`` and, for a department
    account, its department (it sees only its department's incidents)."""
    return principal.view, principal.department_code


class WarmResponses:
    """Tiles as answered, keyed by (path, query string, what the caller may see:
    :func:`viewer`)."""

    def __init__(self, max_bytes: int = 128 * 2**20):
        self.tiles = svc.TileCache(max_bytes)
        self._seen: set[tuple[str, bytes]] = set()

    def remember(self, scope: Scope, who: tuple, tile: svc.Tile) -> None:
        path, query = scope["path"], scope["query_string"]
        if len(self._seen) >= MAX_SEEN:
            self._seen = set()
        self._seen.add((path, query))
        self.tiles.put((path, query, who), tile, svc.LIVE_TTL if tile.live else None)

    def may_have(self, scope: Scope) -> bool:
        return (scope["path"], scope["query_string"]) in self._seen

    def current(self, scope: Scope, who: tuple, counters: dict) -> svc.Tile | None:
        """The cached tile if built at ``counters`` (and recently enough if live)."""
        key = (scope["path"], scope["query_string"], who)
        tile = self.tiles.get(key)
        if tile is None or tile.versions != tuple(counters.get(t, 0) for t in tile.tables):
            return None
        return tile


def responses_of(app) -> WarmResponses:
    state = app.state
    if getattr(state, "tile_responses", None) is None:
        state.tile_responses = WarmResponses()
    return state.tile_responses


def tile_cache_of(app) -> svc.TileCache:
    """The app's in-process cache of built tile layers."""
    state = app.state
    if getattr(state, "tile_cache", None) is None:
        state.tile_cache = svc.TileCache()
    return state.tile_cache


async def send_warm(scope: Scope, send: Send, tile_request=None) -> bool:
    """Answer from the warm cache if the caller and the data allow it, else (with
    ``tile_request``) build the cold tile on the event loop; False: let the endpoint
    answer.

    A caller the check recognised is left in the request scope with the counters, so the
    endpoint, if it runs, neither looks the token up again nor re-reads the counters
    (read before its own snapshot: a tile built from newer rows is only ever filed under
    older counters, which no later request presents)."""
    app = scope.get("app")
    token, if_none_match = _credentials(scope["headers"])
    if app is None or not token:
        return False
    responses = responses_of(app)
    if tile_request is not None and not responses.may_have(scope):
        sent = await _send_checked(app, scope, send, token, if_none_match, tile_request)
        if sent:
            return True
    found = await accounts.warm_check_async(app.state.engine, token)
    if found is None:
        return False
    principal, counters = found
    if principal.role in PROTOCOL_ONLY:  # the endpoint refuses it (api.auth)
        return False
    _callers(app).remember(token, principal)
    scope[VERIFIED], scope[COUNTERS] = (token, principal), counters
    who = viewer(principal)
    tile = responses.current(scope, who, counters) if responses.may_have(scope) else None
    if tile is None and tile_request is not None:
        tile = await _cold(app, scope, principal, counters, tile_request)
        if tile is not None:
            responses.remember(scope, who, tile)
    if tile is None:
        return False
    await send_tile(send, tile, if_none_match)
    return True


class Callers:
    """Who each token named at its last check: a guess, never trusted. A tile for a path
    never asked before is built for that guess in the same statement as the check
    (:func:`_send_checked`), and used only if the check finds exactly that caller."""

    def __init__(self, max_items: int = 10_000):
        self.max_items = max_items
        self._by_token: dict[str, object] = {}

    def remember(self, token: str, principal) -> None:
        if len(self._by_token) >= self.max_items:
            self._by_token = {}
        self._by_token[token] = principal

    def get(self, token: str):
        return self._by_token.get(token)


def _callers(app) -> Callers:
    state = app.state
    if getattr(state, "tile_callers", None) is None:
        state.tile_callers = Callers()
    return state.tile_callers


async def _send_checked(app, scope: Scope, send: Send, token: str,
                        if_none_match: bytes | None, tile_request) -> bool:
    """A one-layer tile never asked before, checked and built in ONE round trip; False
    when that cannot be done (first request of a token, a changed caller, an error)."""
    guess = _callers(app).get(token)
    if guess is None:
        return False
    try:
        layers, z, x, y = tile_request(scope, guess)
    except Exception:  # a bad path or query: the endpoint answers with the problem
        return False
    if len(layers) != 1:
        return False
    layer, query = layers[0]
    try:
        found = await svc.checked_tile(app.state.engine, tile_cache_of(app),
                                       accounts.token_digest(token), guess, layer, query,
                                       z, x, y)
    except Exception:
        log.warning("checked cold tile failed; using the normal path", exc_info=True)
        return False
    if found is None or found[2] is None:  # not (or no longer) this caller: re-check
        return False
    principal, counters, tile = found
    scope[VERIFIED], scope[COUNTERS] = (token, principal), counters
    responses_of(app).remember(scope, viewer(principal), tile)
    await send_tile(send, tile, if_none_match)
    return True


async def _cold(app, scope: Scope, principal, counters: dict, tile_request):
    """The tile built now, or None when the endpoint must answer instead."""
    try:
        layers, z, x, y = tile_request(scope, principal)
    except Exception:  # a bad path or query: the endpoint answers with the problem
        return None
    try:
        return await svc.get_tile_async(app.state.engine, tile_cache_of(app), layers,
                                        z, x, y, counters)
    except Exception:
        log.warning("cold tile failed on the event loop; using the normal path",
                    exc_info=True)
        return None


async def send_tile(send: Send, tile: svc.Tile, if_none_match: bytes | None) -> None:
    headers = [(k.lower().encode(), v.encode()) for k, v in svc.tile_headers(tile).items()]
    if if_none_match == tile.etag.encode():
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    headers += [(b"content-length", str(len(tile.data)).encode()),
                (b"content-type", svc.MVT.encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": tile.data})


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
