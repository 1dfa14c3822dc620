"""PostgreSQL LISTEN on a connection of its own (issue 16, live inbox).

One listener per service process replaces a poll per open page: writers send ``NOTIFY`` in
the transaction of their change (:mod:`gis.store.notifications`, :mod:`gis.store.mail`),
PostgreSQL delivers it to every listener when that transaction commits, and the service fans
it out to its open streams. The connection is not from the pool (it stays open for the life
of the service and must not take a pooled slot) and runs in autocommit, as LISTEN requires.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import psycopg
from psycopg import sql
from sqlalchemy import Engine

from gis.store.backup import libpq_url


async def notifications(engine: Engine, channels: tuple[str, ...],
                        on_listening=None) -> AsyncIterator[tuple[str, str]]:
    """``(channel, payload)`` of every NOTIFY on ``channels``, from when LISTEN took effect
    (``on_listening()`` is called then: what was sent before is the caller's to catch up).
    Ends with an exception when the connection is lost; the caller reconnects."""
    url = libpq_url(engine.url.render_as_string(hide_password=False))
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        for channel in channels:
            # channel names are our constants, not input: quoted as identifiers anyway
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        if on_listening is not None:
            on_listening()
        async for note in conn.notifies():
            yield note.channel, note.payload
