"""The audit log: who changed what and when, with before/after images (read by
administrators). Entries are written by the use cases themselves, in their own unit of
work, so an entry exists exactly when its change was committed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from gis.errors import InputError
from gis.services.uow import unit_of_work
from gis.store import audit as repo

__all__ = ["entries"]


def entries(engine: Engine, *, entity: str | None = None, entity_id: str | None = None,
            actor: str | None = None, action: str | None = None,
            since: datetime | None = None, until: datetime | None = None, limit: int = 100,
            offset: int = 0) -> tuple[int, list[dict]]:
    """``(total matching, one page of entries)``, newest first."""
    if since is not None and until is not None and since > until:
        raise InputError("since must not be after until", field="since")
    with unit_of_work(engine, read_only=True) as session:
        return repo.query(session, entity=entity, entity_id=entity_id, actor=actor,
                          action=action, since=since, until=until, limit=limit, offset=offset)
