"""Live inbox over server-sent events (``GET /notifications/stream``), and the e-mail sender.

Cheap with many open pages: the service holds ONE PostgreSQL connection that LISTENs
(:func:`gis.services.notifications.listen`). A write that notifies an account sends
``NOTIFY gridgis_inbox '<user id>'`` in its own transaction; on commit the listener wakes
only that account's streams, and each woken stream reads what is new for its own account
(one indexed query, only when there is news). Idle streams cost a heartbeat comment every
``stream_heartbeat_s`` and a credential re-check every ``stream_recheck_s``; no stream polls
the database.

At most ``stream_max`` streams are open per process (503 beyond: the pages fall back to
polling). Streams end when the service stops: uvicorn waits for open responses before it
shuts down, so the hub chains itself onto uvicorn's SIGINT/SIGTERM handlers and ends every
stream at once.

The same listener wakes the e-mail sender (``NOTIFY gridgis_mail``, sent on commit with a
queued mail) when ``GRIDGIS_SMTP_HOST`` is set; it also retries what failed once a minute.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable

from anyio import to_thread
from fastapi.encoders import jsonable_encoder
from starlette.responses import StreamingResponse

from gis.errors import GridgisError
from gis.services import mail, notifications
from gis.services.accounts import Principal

log = logging.getLogger("gridgis.live")
MAIL_RETRY_S = 60.0


class TooManyStreams(GridgisError):
    """Every event stream slot is taken, or the service is stopping (503 + Retry-After)."""

    retry_after = 30


class Hub:
    """The open streams of this process by account, woken by the one listener."""

    def __init__(self, engine, settings):
        self.engine, self.settings = engine, settings
        self.smtp = mail.SmtpServer.from_settings(settings)
        self.closing = False
        self._streams: dict[int, set[asyncio.Event]] = {}
        # per account, how many wake-ups so far; and the reads in flight by (account, after,
        # wake-up): the pages of one account woken together share one query
        self._wakes: dict[int, int] = {}
        self._reading: dict[tuple[int, int, int], asyncio.Future] = {}
        self._open = 0
        self._tasks: list[asyncio.Task] = []
        self._mail_due = asyncio.Event()

    def start(self) -> None:
        """Start the listener (and the mail sender) in the running loop, once."""
        if self._tasks or self.closing:
            return
        self._tasks.append(asyncio.create_task(self._listen()))
        if self.smtp is not None:
            self._tasks.append(asyncio.create_task(self._send_mail()))

    def close(self) -> None:
        """End every stream now and stop listening (idempotent)."""
        self.closing = True
        for events in self._streams.values():
            for event in events:
                event.set()
        for task in self._tasks:
            task.cancel()

    async def aclose(self) -> None:
        self.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def reserve(self) -> None:
        if self.closing:
            raise TooManyStreams("the service is stopping; reconnect shortly")
        if self._open >= self.settings.stream_max:
            raise TooManyStreams(f"all {self.settings.stream_max} event streams are open "
                                 "(GRIDGIS_STREAM_MAX); poll GET /notifications meanwhile")
        self._open += 1
        self.start()

    def release(self) -> None:
        self._open -= 1

    def watch(self, user_id: int) -> asyncio.Event:
        event = asyncio.Event()
        self._streams.setdefault(user_id, set()).add(event)
        return event

    def unwatch(self, user_id: int, event: asyncio.Event) -> None:
        events = self._streams.get(user_id, set())
        events.discard(event)
        if not events:
            self._streams.pop(user_id, None)

    async def _listen(self) -> None:
        delay = 1.0
        channels = (notifications.INBOX_CHANNEL, notifications.MAIL_CHANNEL)
        while not self.closing:
            try:
                async for channel, payload in notifications.listen(
                        self.engine, channels, on_listening=self._wake_all):
                    delay = 1.0
                    self._deliver(channel, payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost: streams wait, then catch up
                log.warning("inbox listener: %s; reconnecting in %.0f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    def _wake_all(self) -> None:
        """On (re)connecting: anything may have been missed, every stream catches up."""
        for user_id in list(self._streams):
            self._wake(user_id)
        self._mail_due.set()

    def _deliver(self, channel: str, payload: str) -> None:
        if channel == notifications.MAIL_CHANNEL:
            self._mail_due.set()
        elif payload.isdigit():
            self._wake(int(payload))

    def _wake(self, user_id: int) -> None:
        self._wakes[user_id] = self._wakes.get(user_id, 0) + 1
        for event in self._streams.get(user_id, ()):
            event.set()

    async def news(self, principal: Principal, after: int) -> dict:
        """What is new for ``principal`` after id ``after``. A read started since the
        account's last wake-up is shared (it cannot predate what woke us): one query for
        all the open pages of an account, not one each."""
        key = (principal.user_id, after, self._wakes.get(principal.user_id, 0))
        reading = self._reading.get(key)
        if reading is None:
            reading = self._reading[key] = asyncio.ensure_future(to_thread.run_sync(
                notifications.news, self.engine, principal, after))
            reading.add_done_callback(lambda _: self._reading.pop(key, None))
        return await asyncio.shield(reading)  # one page leaving does not cancel the others

    async def _send_mail(self) -> None:
        while not self.closing:
            try:
                await asyncio.wait_for(self._mail_due.wait(), MAIL_RETRY_S)
            except TimeoutError:
                pass  # retry what failed earlier
            self._mail_due.clear()
            try:
                while (await to_thread.run_sync(mail.send_due, self.engine, self.smtp))["sent"]:
                    pass  # a full batch may leave more behind
            except Exception:
                log.exception("mail sender: could not read or update the outbox")


def hub_of(app) -> Hub:
    hub = getattr(app.state, "live_hub", None)
    if hub is None:
        hub = app.state.live_hub = Hub(app.state.engine, app.state.settings)
    return hub


def close_on_signals(hub: Hub) -> None:
    """Chain ``hub.close`` before the current SIGINT/SIGTERM handlers (uvicorn's), so a
    stopping server ends its streams instead of waiting for them. Main thread only (the
    test client runs the app elsewhere and needs none of this)."""
    if threading.current_thread() is not threading.main_thread():
        return
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue  # default or ignored: nobody serves this loop gracefully anyway

        def handler(signum, frame, previous=previous):
            loop.call_soon_threadsafe(hub.close)
            previous(signum, frame)

        signal.signal(sig, handler)


class EventStream(StreamingResponse):
    """A ``text/event-stream`` response that calls ``on_close`` however it ends."""

    def __init__(self, events: AsyncIterator[str], on_close: Callable[[], None]):
        super().__init__(events, media_type="text/event-stream",
                         headers={"Cache-Control": "no-cache, no-store",
                                  "X-Accel-Buffering": "no"})  # nginx: do not buffer
        self.on_close = on_close

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.on_close()


def event(name: str, data: dict, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(jsonable_encoder(data))}\n\n"


async def inbox_events(hub: Hub, principal: Principal, after: int | None,
                       still_valid: Callable[[], bool]) -> AsyncIterator[str]:
    """The stream of one account: its state at once (unread count, and what is newer than
    ``after`` when the client resumes), then an ``inbox`` event per change, a heartbeat
    comment when idle, and an ``end`` event when its credentials stop being valid."""
    settings, engine = hub.settings, hub.engine
    woken = hub.watch(principal.user_id)
    try:
        yield f"retry: {int(settings.stream_heartbeat_s * 200)}\n\n"
        last = after if after is not None else await to_thread.run_sync(
            notifications.newest_id, engine, principal)
        woken.set()
        unread = None  # what the client was last told: a wake-up that changes nothing is
        recheck_at = time.monotonic() + settings.stream_recheck_s  # not sent
        while not hub.closing:
            if woken.is_set():
                woken.clear()
                news = await hub.news(principal, last)
                if news["notifications"]:
                    last = news["notifications"][0]["id"]
                if news["notifications"] or news["unread"] != unread:
                    unread = news["unread"]
                    yield event("inbox", news, last)
                continue
            try:
                await asyncio.wait_for(woken.wait(), settings.stream_heartbeat_s)
            except TimeoutError:
                if time.monotonic() >= recheck_at:
                    if not await to_thread.run_sync(still_valid):
                        yield event("end", {"reason": "credentials revoked or expired"})
                        return
                    recheck_at = time.monotonic() + settings.stream_recheck_s
                yield ": heartbeat\n\n"
    finally:
        hub.unwatch(principal.user_id, woken)
