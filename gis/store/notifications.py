"""The inbox of each account (issue 16). Repositories: they flush, never commit. Lines are
written by the use case that causes them, in its transaction (:mod:`gis.store.summons`,
:mod:`gis.store.supervision`); here they are read and marked read, by their owner only."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gis.errors import NotFound
from gis.store.models import Notification, User
from gis.store.users import Principal

FIELDS = ("id", "kind", "incident_id", "department_code", "message", "created_at", "read_at")


def notify_users(session: Session, user_ids, kind: str, incident_id: int | None,
                 department: str | None, message: str) -> int:
    n = 0
    for user_id in dict.fromkeys(user_ids):
        session.add(Notification(user_id=user_id, kind=kind, incident_id=incident_id,
                                 department_code=department, message=message))
        n += 1
    return n


def users_of_department(session: Session, department: str) -> list[int]:
    return list(session.scalars(select(User.id).where(User.department_code == department,
                                                      User.active.is_(True))))


def users_of_area(session: Session, area_code: str, roles=("dispatcher",)) -> list[int]:
    """Accounts whose scope is exactly ``area_code`` (the centre of that level)."""
    return list(session.scalars(select(User.id).where(User.scope_code == area_code,
                                                      User.role.in_(roles),
                                                      User.active.is_(True))))


def inbox(session: Session, principal: Principal, *, unread_only: bool = False,
          limit: int = 100) -> dict:
    cond = [Notification.user_id == principal.user_id]
    unread = session.scalar(select(func.count()).select_from(Notification)
                            .where(*cond, Notification.read_at.is_(None)))
    if unread_only:
        cond.append(Notification.read_at.is_(None))
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
    return result.rowcount or 0
