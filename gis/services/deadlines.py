"""Extension requests (延期申请, issue 16 item 10): a department asks for more time on its
part, the level above approves or refuses; only approval moves the due time, so only
approved time is not overdue. Queries: :mod:`gis.store.deadlines`."""

from __future__ import annotations

from sqlalchemy import Engine

from gis.services.uow import unit_of_work
from gis.store import deadlines as repo
from gis.store.users import Principal

__all__ = ["decide", "list_for", "request", "resume"]


def request(engine: Engine, principal: Principal, incident_id: int, *,
            amount: float | None, unit: str | None, reason: str,
            kind: str = "extension") -> dict:
    with unit_of_work(engine) as session:
        return repo.request(session, incident_id, principal, amount=amount, unit=unit,
                            reason=reason, kind=kind)


def resume(engine: Engine, principal: Principal, request_id: int) -> dict:
    """End a running pause: the department's clock runs again."""
    with unit_of_work(engine) as session:
        return repo.resume(session, request_id, principal)


def decide(engine: Engine, principal: Principal, request_id: int, *, approve: bool,
           note: str | None = None) -> dict:
    with unit_of_work(engine) as session:
        return repo.decide(session, request_id, principal, approve=approve, note=note)


def list_for(engine: Engine, principal: Principal, incident_id: int) -> list[dict]:
    with unit_of_work(engine, read_only=True) as session:
        return repo.list_for(session, incident_id, principal)
