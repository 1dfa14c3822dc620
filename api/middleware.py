"""Request hardening that applies to every route: a cap on request body size, and a
cap on requests in flight."""

from __future__ import annotations

import asyncio
import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import problem

log = logging.getLogger("gridgis.api")


class BodyLimit:
    """Refuse bodies above ``max_bytes`` with 413, by Content-Length up front and by
    counting the bytes of bodies sent without one (chunked)."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def counting_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope, receive, send):
        response = problem(413, "Payload too large",
                           f"request bodies are limited to {self.max_bytes // (1024 * 1024)} MB "
                           "(GRIDGIS_MAX_UPLOAD_MB)")
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


class ConcurrencyLimit:
    """At most ``limit`` requests in flight; the others wait their turn in the event loop.

    Why: handlers and their units of work run in the thread pool (40 threads) and
    each holds a pooled database connection (30). Writers of one table serialise on its
    change-counter row until they commit. With more requests than connections in
    flight, threads would queue for the pool behind the lock holders and time out under
    a burst (50 dispatchers reporting at once once stalled for the 30 s pool timeout).
    Below both limits a thread and a connection are always free for the holder to
    finish and commit.

    ``exempt`` paths are long-lived responses that hold neither a thread nor a connection
    while they wait (the event stream, bounded on its own by GRIDGIS_STREAM_MAX): counted
    here, a few open pages would take every slot for good."""

    def __init__(self, app: ASGIApp, limit: int = 24, exempt: tuple[str, ...] = ()):
        self.app = app
        self.limit = limit
        self.exempt = frozenset(exempt)
        self._slots: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.exempt:
            await self.app(scope, receive, send)
            return
        if self._slots is None:  # created in the server's event loop
            self._slots = asyncio.Semaphore(self.limit)
        async with self._slots:
            await self.app(scope, receive, send)


class ContainErrors:
    """No exception reaches the server loop. Starlette answers an unhandled exception with
    our 500 problem and then re-raises it, and uvicorn drops the keep-alive connection of a
    request whose handler raised, failing the client's next request too. Here the
    exception is logged and answered (500 problem details) and stops."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error on %s", scope.get("path"))
            if started:  # headers are out: nothing more can be said on this response
                return
            await problem(500, "Internal server error", "an unexpected error occurred; it "
                          "was logged")(scope, receive, send)
