"""Supervision (督办, issue 16): raise the notices due now (a summons past its acknowledge
or handle limit; escalated once its grace runs out), and list the open ones. Rules:
:mod:`gis.supervision`; queries: :mod:`gis.store.supervision`."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Engine

from gis.errors import InputError
from gis.services.uow import unit_of_work
from gis.store import supervision as repo
from gis.store.users import Principal

__all__ = ["notices", "run"]


def run(engine: Engine, *, now: datetime | None = None, actor: str | None = None,
        principal: Principal | None = None) -> dict:
    """Raise every notice due at ``now`` (default: the present; a later time previews the
    future, as the scheduled job and the tests do) on the incidents of ``principal``'s area
    (everywhere for the scheduled job). Idempotent."""
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        raise InputError("the time needs a time zone", field="at")
    with unit_of_work(engine) as session:
        raised = repo.run(session, now, actor=actor, principal=principal)
    return {"at": now, "raised": raised}


def notices(engine: Engine, principal: Principal, *, open_only: bool = True) -> list[dict]:
    with unit_of_work(engine, read_only=True) as session:
        return repo.list_notices(session, principal, open_only=open_only)
