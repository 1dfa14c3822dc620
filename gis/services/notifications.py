"""The inbox (issue 16): read your notifications with the unread count, mark them read.
Queries: :mod:`gis.store.notifications`."""

from __future__ import annotations

from sqlalchemy import Engine

from gis.services.uow import unit_of_work
from gis.store import notifications as repo
from gis.store.users import Principal

__all__ = ["inbox", "mark_read"]


def inbox(engine: Engine, principal: Principal, *, unread_only: bool = False,
          limit: int = 100) -> dict:
    with unit_of_work(engine, read_only=True) as session:
        return repo.inbox(session, principal, unread_only=unread_only, limit=limit)


def mark_read(engine: Engine, principal: Principal, notification_id: int | None = None) -> dict:
    """Mark one of your notifications read (None: all of them)."""
    with unit_of_work(engine) as session:
        changed = repo.mark_read(session, principal, notification_id)
        unread = repo.inbox(session, principal, unread_only=True, limit=0)["unread"]
    return {"marked": changed, "unread": unread}
