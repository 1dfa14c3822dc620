"""Idempotent writes (DESIGN.md: writes a client may retry accept an ``Idempotency-Key``).

One helper for every use case that a client may retry: :func:`write_once` opens the use
case's unit of work, claims the key in it, runs the write, stores the answer (status and
JSON body) and commits — all one transaction, so the key and the write are kept or lost
together. A replay (same key, same request) gets the stored answer and writes nothing; the
same key with a different request is an :class:`~gis.errors.InputError` (422). Keys are
scoped per account, or per client address (a keyed hash) for anonymous callers.

A failed write (an error status) rolls back with its claim: nothing is stored for it,
and a retry with the same key runs again. Concurrent duplicates: the first claims the key,
the others wait on it and then answer from the store (:mod:`gis.store.idempotency`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gis.errors import InputError
from gis.services.uow import unit_of_work
from gis.store import idempotency as repo
from gis.store.users import Principal

__all__ = ["Once", "purge", "write_once"]


@dataclass
class Once:
    """An ``Idempotency-Key`` sent with a write.

    ``fingerprint``: a hash of the method, the path and the body (the API computes it);
    ``status``: the status a first success answers with; ``anonymous_scope``: the scope
    used when the caller has no account (a keyed hash of its address); ``on_replay``:
    told the stored status when the answer comes from the store."""

    key: str
    fingerprint: str
    status: int = 200
    anonymous_scope: str = "anonymous"
    on_replay: Callable[[int], None] | None = None


def _default(value: Any):
    if isinstance(value, (datetime, date)):
        return value.isoformat()  # as FastAPI encodes them
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _scope(once: Once, principal: Principal | None) -> str:
    return f"user:{principal.user_id}" if principal is not None else once.anonymous_scope


def write_once(engine: Engine, once: Once | None, principal: Principal | None,
               work: Callable[[Session], Any]) -> Any:
    """Run ``work(session)`` in one unit of work, at most once per key; returns its result
    as JSON values (what the client receives, identical on every replay)."""
    with unit_of_work(engine) as session:
        if once is not None:
            scope = _scope(once, principal)
            stored = repo.claim(session, scope, once.key, once.fingerprint)
            if stored is not None:
                if stored.fingerprint != once.fingerprint:
                    raise InputError("this Idempotency-Key was used with a different request; "
                                     "use a new key for a new request", field="Idempotency-Key")
                if once.on_replay is not None:
                    once.on_replay(stored.status)
                return json.loads(stored.body)
        body = json.dumps(work(session), default=_default, ensure_ascii=False)
        if once is not None:
            repo.record(session, scope, once.key, once.status, body)
    return json.loads(body)


def purge(engine: Engine, days: float = 7.0) -> int:
    """Forget keys older than ``days``; returns how many."""
    with unit_of_work(engine) as session:
        return repo.purge(session, days)
