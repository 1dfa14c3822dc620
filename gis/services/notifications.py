"""The inbox (issue 16): read your notifications with the unread count, mark them read,
and the news an open page is woken for. Queries: :mod:`gis.store.notifications`; the
LISTEN connection that wakes open pages: :mod:`gis.store.listen`."""

from __future__ import annotations

from sqlalchemy import Engine

from gis.services.uow import unit_of_work
from gis.store import notifications as repo
from gis.store.listen import notifications as listen
from gis.store.mail import CHANNEL as MAIL_CHANNEL
from gis.store.notifications import CHANNEL as INBOX_CHANNEL
from gis.store.users import Principal

__all__ = ["INBOX_CHANNEL", "MAIL_CHANNEL", "inbox", "listen", "mark_read", "newest_id", "news"]


def inbox(engine: Engine, principal: Principal, *, unread_only: bool = False,
          limit: int = 100) -> dict:
    with unit_of_work(engine, read_only=True) as session:
        return repo.inbox(session, principal, unread_only=unread_only, limit=limit)


def news(engine: Engine, principal: Principal, after: int, limit: int = 50) -> dict:
    """The caller's notifications with an id above ``after`` (newest first, at most
    ``limit``) and the unread count: what an event stream sends when woken."""
    with unit_of_work(engine, read_only=True) as session:
        return repo.inbox(session, principal, after=after, limit=limit)


def newest_id(engine: Engine, principal: Principal) -> int:
    with unit_of_work(engine, read_only=True) as session:
        return repo.newest_id(session, principal)


def mark_read(engine: Engine, principal: Principal, notification_id: int | None = None) -> dict:
    """Mark one of your notifications read (None: all of them)."""
    with unit_of_work(engine) as session:
        changed = repo.mark_read(session, principal, notification_id)
        unread = repo.inbox(session, principal, unread_only=True, limit=0)["unread"]
    return {"marked": changed, "unread": unread}
