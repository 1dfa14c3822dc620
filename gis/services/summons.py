"""Whistle and report-in (网格吹哨、部门报到): summon departments to an incident, and a
department's acknowledge and feedback. Rules: :mod:`gis.supervision`; queries:
:mod:`gis.store.summons`. Each use case is one unit of work: the summons, the events, the
notifications and the audit entry are committed together or not at all."""

from __future__ import annotations

from sqlalchemy import Engine

from gis.services.uow import unit_of_work
from gis.store import summons as repo
from gis.store.incidents import feature
from gis.store.users import Principal

__all__ = ["DEPARTMENT_ACTIONS", "act", "callback", "list_for", "queue", "whistle"]

DEPARTMENT_ACTIONS = ("acknowledge", "feedback")


def whistle(engine: Engine, principal: Principal, incident_id: int, departments: list[str], *,
            note: str | None = None) -> dict:
    """Summon one or more departments (each must acknowledge, then feed back)."""
    with unit_of_work(engine) as session:
        row = repo.whistle(session, incident_id, departments, principal=principal, note=note)
        row["summons"] = repo.list_for(session, incident_id)
    return feature(row)


def act(engine: Engine, principal: Principal, incident_id: int, action: str, *, version: int,
        note: str | None = None) -> dict:
    """A department account acknowledges (报到) or feeds back on its own summons."""
    with unit_of_work(engine) as session:
        row = repo.act(session, incident_id, action, version=version, principal=principal,
                       note=note)
        row["summons"] = repo.list_for(session, incident_id)
    return feature(row)


def list_for(engine: Engine, principal: Principal, incident_id: int) -> list[dict]:
    from gis.store.incidents import get_incident

    with unit_of_work(engine, read_only=True) as session:
        get_incident(session, incident_id, principal)   # the scope check
        return repo.list_for(session, incident_id)


def callback(engine: Engine, principal: Principal, incident_id: int, *, solved: bool,
             satisfaction: int | None = None, note: str | None = None) -> dict:
    """Record the reporter's answer before closing (回访); unsatisfied reopens (重办)."""
    with unit_of_work(engine) as session:
        row = repo.callback(session, incident_id, principal=principal, solved=solved,
                            satisfaction=satisfaction, note=note)
        row["summons"] = repo.list_for(session, incident_id)
    return feature(row)


def queue(engine: Engine, principal: Principal, *, include_done: bool = False) -> dict:
    """A department account's queue: waiting to report in, handling, overdue."""
    from gis.store.queue import queue as read_queue

    with unit_of_work(engine, read_only=True) as session:
        return read_queue(session, principal, include_done=include_done)
