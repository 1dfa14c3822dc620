"""The inbox of each account (issue 16). Repositories: they flush, never commit. Lines are
written by the use case that causes them, in its transaction (:mod:`gis.store.summons`,
:mod:`gis.store.supervision`); here they are read and marked read, by their owner only.

Every change to an inbox also sends ``NOTIFY gridgis_inbox, '<user id>'`` in the same
transaction: PostgreSQL delivers it only when (and if) the transaction commits, and the
service's one listener wakes the open event streams of that account. A notice addressed
to a department is also queued for e-mail (:mod:`gis.store.mail`) in the same
transaction, and sent after commit."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from gis.errors import NotFound
from gis.store import mail
from gis.store.models import Notification, User
from gis.store.users import Principal

FIELDS = ("id", "kind", "incident_id", "department_code", "message", "created_at", "read_at")
CHANNEL = "gridgis_inbox"


def notify_users(session: Session, user_ids, kind: str, incident_id: int | None,
                 department: str | None, message: str) -> int:
    users = list(dict.fromkeys(user_ids))
    for user_id in users:
        session.add(Notification(user_id=user_id, kind=kind, incident_id=incident_id,
                                 department_code=department, message=message))
    announce(session, users)
    if department is not None:
        mail.queue_for_department(session, department, kind, incident_id, message)
    return len(users)


def announce(session: Session, user_ids) -> None:
    """Wake the open pages of these accounts when this transaction commits (one NOTIFY per
    account; PostgreSQL folds repeats within a transaction and drops them on rollback)."""
    ids = [int(u) for u in user_ids]
    if ids:
        session.execute(text("SELECT pg_notify(:channel, u::text) FROM unnest(CAST(:ids AS "
                             "bigint[])) AS u"), {"channel": CHANNEL, "ids": ids})


def users_of_department(session: Session, department: str) -> list[int]:
    return list(session.scalars(select(User.id).where(User.department_code == department,
                                                      User.active.is_(True))))


def users_of_area(session: Session, area_code: str, roles=("dispatcher",)) -> list[int]:
    """Accounts whose scope is exactly ``area_code`` (the centre of that level)."""
    return list(session.scalars(select(User.id).where(User.scope_code == area_code,
                                                      User.role.in_(roles),
                                                      User.active.is_(True))))


def inbox(session: Session, principal: Principal, *, unread_only: bool = False,
          limit: int = 100, after: int | None = None) -> dict:
    """The caller's notifications, newest first (``after``: only those with a greater id,
    what an event stream has not sent yet), and the unread count."""
    cond = [Notification.user_id == principal.user_id]
    unread = session.scalar(select(func.count()).select_from(Notification)
                            .where(*cond, Notification.read_at.is_(None)))
    if unread_only:
        cond.append(Notification.read_at.is_(None))
    if after is not None:
        cond.append(Notification.id > after)
    rows = session.scalars(select(Notification).where(*cond)
                           .order_by(Notification.id.desc()).limit(limit))
    return {"unread": int(unread or 0),
            "notifications": [{f: getattr(r, f) for f in FIELDS} for r in rows]}


def mark_read(session: Session, principal: Principal, notification_id: int | None) -> int:
    """Mark one notification (or, with None, all) of the caller read; how many changed."""
    cond = [Notification.user_id == principal.user_id, Notification.read_at.is_(None)]
    if notification_id is not None:
        mine = session.scalar(select(Notification.id).where(
            Notification.id == notification_id, Notification.user_id == principal.user_id))
        if mine is None:
            raise NotFound(f"no notification {notification_id}")
        cond.append(Notification.id == notification_id)
    result = session.execute(update(Notification).where(*cond)
                             .values(read_at=datetime.now(timezone.utc)))
    if result.rowcount:
        announce(session, [principal.user_id])  # other open pages update their count
    return result.rowcount or 0


def newest_id(session: Session, principal: Principal) -> int:
    """The id of the caller's newest notification (0: none)."""
    return int(session.scalar(select(func.max(Notification.id))
                              .where(Notification.user_id == principal.user_id)) or 0)
