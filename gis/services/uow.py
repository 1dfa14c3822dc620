"""The unit of work: one use case, one transaction, committed before the use case returns.

Every public service function opens exactly one ``unit_of_work(engine)``, calls the
repositories in :mod:`gis.store` (which only flush), and returns plain values. The commit
happens inside the ``with`` block's exit, so by the time a service returns — and long before
the API sends a status line — the change is durable or an error has been raised. A failed
commit becomes a domain error: :class:`~gis.errors.Conflict` (409) for an integrity,
exclusion or serialization conflict, :class:`~gis.errors.NotStored` (5xx) otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from gis.errors import Conflict, NotStored

log = logging.getLogger("gridgis.services")

# SQLSTATEs that mean "someone else changed the same thing": serialization failure,
# deadlock, exclusion violation (integrity violations arrive as IntegrityError).
CONFLICT_STATES = frozenset({"40001", "40P01", "23P01"})


@contextmanager
def unit_of_work(engine: Engine, *, read_only: bool = False) -> Iterator[Session]:
    """A session in one transaction. On normal exit it commits (``read_only``: rolls back,
    nothing a read touched is kept); on any error it rolls back and re-raises."""
    session = Session(engine, expire_on_commit=False, autoflush=True)
    try:
        session.begin()
        yield session
        if read_only:
            session.rollback()
        else:
            commit(session)
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def commit(session: Session) -> None:
    """Commit, turning a refusal at commit time (deferred constraints, serialization) into
    a domain error that says nothing was stored."""
    try:
        session.commit()
    except IntegrityError as exc:
        log.warning("commit refused (integrity): %s", exc.orig)
        raise Conflict("the change conflicts with existing data; nothing was stored") from exc
    except DBAPIError as exc:
        state = getattr(exc.orig, "sqlstate", None)
        if state in CONFLICT_STATES:
            log.warning("commit refused (conflict %s): %s", state, exc.orig)
            raise Conflict("the change conflicts with a concurrent change; nothing was "
                           "stored, try again") from exc
        log.error("commit failed: %s", exc.orig)
        raise NotStored("the database refused to store the change; nothing was "
                        "stored") from exc
