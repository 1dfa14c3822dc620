"""The audit log: who changed what, when, with before/after images."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from gis.store.models import AuditLog


def record(session: Session, actor: str | None, action: str, entity: str,
           entity_id: Any = None, before: dict | None = None, after: dict | None = None) -> None:
    session.add(AuditLog(actor=actor, action=action, entity=entity,
                         entity_id=None if entity_id is None else str(entity_id),
                         before=_jsonable(before), after=_jsonable(after)))


def _jsonable(d: dict | None) -> dict | None:
    if d is None:
        return None
    return {k: (v if isinstance(v, (str, int, float, bool, type(None), list, dict)) else str(v))
            for k, v in d.items()}


def query(session: Session, *, entity: str | None = None, entity_id: str | None = None,
          actor: str | None = None, action: str | None = None, since=None, until=None,
          limit: int = 100, offset: int = 0) -> tuple[int, list[dict]]:
    """``(total matching, one page)`` of audit entries, newest first.

    ``since`` is inclusive, ``until`` exclusive (timezone-aware datetimes)."""
    from sqlalchemy import func, select

    cond = []
    for column, value in ((AuditLog.entity, entity), (AuditLog.entity_id, entity_id),
                          (AuditLog.actor, actor), (AuditLog.action, action)):
        if value is not None:
            cond.append(column == value)
    if since is not None:
        cond.append(AuditLog.at >= since)
    if until is not None:
        cond.append(AuditLog.at < until)
    total = session.scalar(select(func.count()).select_from(AuditLog).where(*cond))
    rows = session.scalars(select(AuditLog).where(*cond)
                           .order_by(AuditLog.at.desc(), AuditLog.id.desc())
                           .limit(limit).offset(offset)).all()
    return int(total or 0), [_entry(r) for r in rows]


def _entry(row: AuditLog) -> dict:
    return {"id": row.id, "at": row.at.isoformat(), "actor": row.actor, "action": row.action,
            "entity": row.entity, "entity_id": row.entity_id, "before": row.before,
            "after": row.after}
