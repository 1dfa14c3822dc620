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
