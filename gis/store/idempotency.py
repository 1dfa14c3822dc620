"""Idempotency keys in the store: claim a key for a write (or find the answer stored by
the write that claimed it first) and record the answer, in the caller's transaction.

The claim is an ``INSERT ... ON CONFLICT DO NOTHING`` on the unique (scope, key) index,
made first in the write's transaction. A concurrent request with the same key blocks on
that index until the first transaction ends: if it committed, the conflict is reported
and the stored answer read (READ COMMITTED: the next statement sees the committed row);
if it rolled back, the waiting insert succeeds and that request does the write itself.
Two records for one key are therefore impossible, and an answer is never stored for a
write that did not commit (same transaction)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gis.store.models import IdempotencyKey

PENDING = 0  # status of a claimed key whose answer is not written yet (never committed)


@dataclass(frozen=True)
class Stored:
    """The answer a key already has."""

    fingerprint: str
    status: int
    body: str


def claim(session: Session, scope: str, key: str, fingerprint: str) -> Stored | None:
    """Claim ``key`` for this transaction (None), or return what it already holds."""
    new_id = session.scalar(
        insert(IdempotencyKey)
        .values(scope=scope, key=key, fingerprint=fingerprint, status=PENDING, body="")
        .on_conflict_do_nothing(index_elements=["scope", "key"])
        .returning(IdempotencyKey.id))
    if new_id is not None:
        return None
    row = session.execute(select(IdempotencyKey.fingerprint, IdempotencyKey.status,
                                 IdempotencyKey.body)
                          .where(IdempotencyKey.scope == scope,
                                 IdempotencyKey.key == key)).one()
    return Stored(*row)


def record(session: Session, scope: str, key: str, status: int, body: str) -> None:
    """Write the answer of the claimed key (flushes; the caller's unit of work commits)."""
    session.execute(update(IdempotencyKey)
                    .where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
                    .values(status=status, body=body))


def purge(session: Session, days: float) -> int:
    """Forget keys older than ``days`` (a retry after that writes again)."""
    result = session.execute(text("DELETE FROM idempotency_keys WHERE created_at < "
                                  "now() - make_interval(secs => :s)"), {"s": days * 86400})
    return result.rowcount or 0
