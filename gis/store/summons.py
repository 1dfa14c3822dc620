"""Departments' parts in incidents: dispatch to a department, whistle (吹哨), report-in
(报到) and feedback, and the joint-handling check before verify. Repositories: they flush,
never commit. The rules are :mod:`gis.supervision`; the time limits :mod:`gis.clocks`.

Every step is an ``incident_events`` row naming the department and an audit entry, and
bumps the incident's version (a client holding an older version must reload). The users of
a department get a notification in the same transaction.

A *dispatch* summons carries the incident's own loop: the department's acknowledge moves
it from ``dispatched`` to ``handling`` and its feedback from ``handling`` to ``feedback``.
A *whistle* summons leaves the status alone; the incident cannot be verified or closed
until every summoned department has fed back.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from gis import supervision
from gis.clocks import Calendar
from gis.errors import Conflict, Forbidden, NotFound
from gis.store import audit
from gis.store.calendars import calendar_for
from gis.store.department_limits import limits_for
from gis.store.incidents import get_incident, locked_incident
from gis.store.models import (Department, Incident, IncidentEvent, Summons, SupervisionNotice,
                              User)
from gis.store.notifications import notify_users, users_of_department
from gis.store.users import Principal

# for a dispatch summons, the department's action and the incident move it makes
CARRIES = {"acknowledge": ("dispatched", "handling"), "feedback": ("handling", "feedback")}


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(timezone.utc)


def _event(session: Session, incident: Incident, action: str, from_status: str,
           to_status: str, actor: str | None, note: str | None,
           department: str | None, at: datetime | None = None) -> None:
    stamp = {"at": at} if at is not None else {}   # else the transaction's time
    session.execute(insert(IncidentEvent).values(
        incident_id=incident.id, action=action, from_status=from_status, to_status=to_status,
        actor=actor, note=note, grid_code=incident.grid_code, department_code=department,
        **stamp))


def notify_department(session: Session, department: str, kind: str, incident_id: int,
                      message: str) -> None:
    """One inbox line for every active account of ``department``."""
    notify_users(session, users_of_department(session, department), kind, incident_id,
                 department, message)


def _notify_user(session: Session, username: str | None, kind: str, incident_id: int,
                 department: str, message: str) -> None:
    user_id = session.scalar(select(User.id).where(User.username == username))
    if user_id is not None:
        notify_users(session, [user_id], kind, incident_id, department, message)


def _summons_row(session: Session, incident: Incident, department: str, kind: str,
                 note: str | None, actor: str | None, now: datetime,
                 calendar: Calendar) -> Summons:
    """A new part with the limits in force now fixed on it (a later edit of the department
    limits does not move its deadlines)."""
    limits = limits_for(session, incident)
    (ack_limit, ack_rule), (handle_limit, handle_rule) = limits["acknowledge"], limits["handle"]
    ack, handle = supervision.due_times(now, ack_limit, handle_limit, calendar)
    return Summons(incident_id=incident.id, department_code=department, kind=kind, note=note,
                   summoned_by=actor, summoned_at=now, ack_due_at=ack, handle_due_at=handle,
                   ack_limit_amount=ack_limit.amount, ack_limit_unit=ack_limit.unit,
                   ack_limit_rule=ack_rule, handle_limit_amount=handle_limit.amount,
                   handle_limit_unit=handle_limit.unit, handle_limit_rule=handle_rule)


def _known(session: Session, principal: Principal | None) -> set[str]:
    from gis.store.departments import visible

    return set(session.scalars(select(Department.code).where(visible(principal),
                                                             Department.active.is_(True))))


def whistle(session: Session, incident_id: int, departments: list[str], *,
            principal: Principal, note: str | None = None, now: datetime | None = None) -> dict:
    """Summon ``departments`` (codes the caller can see) to an open incident."""
    now = _now(now)
    incident = locked_incident(session, incident_id, principal)
    calendar = calendar_for(session, incident.community_code or incident.grid_code)
    if incident.status == "closed":
        raise Conflict(f"incident {incident_id} is closed")
    already = session.scalars(select(Summons.department_code)
                              .where(Summons.incident_id == incident_id)).all()
    codes = supervision.check_departments(departments, _known(session, principal), already)
    for code in codes:
        session.add(_summons_row(session, incident, code, "whistle", note, principal.username,
                                 now, calendar))
        _event(session, incident, "whistle", incident.status, incident.status,
               principal.username, note, code)
        notify_department(session, code, "summoned", incident_id,
                          f"incident {incident_id} summons your department"
                          + (f": {note}" if note else ""))
    incident.version += 1
    session.flush()
    audit.record(session, principal.username, "whistle", "incident", incident_id, None,
                 {"departments": codes, "note": note, "version": incident.version})
    return get_incident(session, incident_id, principal, now=now)


def dispatch_to(session: Session, incident_id: int, department: str, *,
                principal: Principal, note: str | None = None,
                now: datetime | None = None) -> None:
    """After the incident's ``dispatch`` step: hand it to ``department`` (a dispatch
    summons, the incident's department, a notification). Same checks as a whistle."""
    now = _now(now)
    incident = locked_incident(session, incident_id, principal)
    calendar = calendar_for(session, incident.community_code or incident.grid_code)
    already = session.scalars(select(Summons.department_code)
                              .where(Summons.incident_id == incident_id)).all()
    try:
        supervision.check_departments([department], _known(session, principal), already)
    except Conflict:
        raise Conflict(f"department {department} is already summoned for incident "
                       f"{incident_id}") from None
    incident.department_code = department
    session.add(_summons_row(session, incident, department, "dispatch", note,
                             principal.username, now, calendar))
    last = select(func.max(IncidentEvent.id)).where(
        IncidentEvent.incident_id == incident_id, IncidentEvent.action == "dispatch")
    session.execute(update(IncidentEvent).where(
        IncidentEvent.incident_id == incident_id, IncidentEvent.id == last.scalar_subquery())
        .values(department_code=department))
    notify_department(session, department, "dispatched", incident_id,
                      f"incident {incident_id} is dispatched to your department")
    session.flush()


def act(session: Session, incident_id: int, action: str, *, version: int,
        principal: Principal, note: str | None = None, now: datetime | None = None) -> dict:
    """A department account's ``acknowledge`` or ``feedback`` on its own summons."""
    now = _now(now)
    department = principal.department_code
    if not department:
        raise Forbidden(f"only a department account may {action}")
    incident = locked_incident(session, incident_id, principal)
    if version != incident.version:
        raise Conflict(f"incident {incident_id} changed since version {version} (now "
                       f"{incident.version}); reload it", current_version=incident.version)
    summons = session.scalar(select(Summons).where(Summons.incident_id == incident_id,
                                                   Summons.department_code == department)
                             .with_for_update())
    if summons is None:
        raise NotFound(f"incident {incident_id} has not summoned {department}")
    summons.state = supervision.next_state(summons.state, action)
    stamp = ("acknowledged" if action == "acknowledge" else "fed_back")
    setattr(summons, f"{stamp}_at", now)
    setattr(summons, f"{stamp}_by", principal.username)
    if action == "feedback":
        summons.feedback = note
    _resolve_notices(session, summons.id, now,
                     ("acknowledge",) if action == "acknowledge" else rules_kinds())
    before = incident.status
    if summons.kind == "dispatch" and incident.status == CARRIES[action][0]:
        incident.status = CARRIES[action][1]
    incident.version += 1
    _event(session, incident, action, before, incident.status, principal.username, note,
           department)
    _notify_user(session, summons.summoned_by, stamp, incident_id, department,
                 f"{department} {'acknowledged' if stamp == 'acknowledged' else 'fed back on'}"
                 f" incident {incident_id}")
    session.flush()
    audit.record(session, principal.username, action, "incident", incident_id,
                 {"status": before, "summons": summons.id},
                 {"status": incident.status, "version": incident.version,
                  "department": department, "note": note})
    return get_incident(session, incident_id, principal, now=now)


def rules_kinds() -> tuple[str, ...]:
    return supervision.KINDS


def _resolve_notices(session: Session, summons_id: int, now: datetime, kinds) -> None:
    """The step a notice was about is done: the notice is resolved."""
    session.execute(update(SupervisionNotice).where(
        SupervisionNotice.summons_id == summons_id, SupervisionNotice.kind.in_(kinds),
        SupervisionNotice.resolved_at.is_(None)).values(resolved_at=now))


def check_joint(session: Session, incident_id: int) -> None:
    """Refuse verify/close while a summoned department has not fed back (联合处置)."""
    rows = session.execute(select(Summons.department_code, Summons.state)
                           .where(Summons.incident_id == incident_id)
                           .order_by(Summons.id)).all()
    supervision.check_can_verify([supervision.Summons(code, state) for code, state in rows])


def list_for(session: Session, incident_id: int, now: datetime | None = None) -> list[dict]:
    """The departments' parts, each with ``overdue``: the limit it has let lapse now
    (``acknowledge`` or ``handle``, :func:`gis.supervision.lapsed`), or None."""
    now = _now(now)
    rows = session.scalars(select(Summons).where(Summons.incident_id == incident_id)
                           .order_by(Summons.id))
    return [{"department_code": s.department_code, "kind": s.kind, "state": s.state,
             "note": s.note, "summoned_by": s.summoned_by, "summoned_at": s.summoned_at,
             "ack_due_at": s.ack_due_at, "handle_due_at": s.handle_due_at,
             "acknowledged_at": s.acknowledged_at, "fed_back_at": s.fed_back_at,
             "feedback": s.feedback, "limits": _limits(s),
             "overdue": supervision.lapsed(supervision.Summons(
                 s.department_code, s.state, s.ack_due_at, s.handle_due_at), now)}
            for s in rows]


def _limits(s: Summons) -> dict:
    """The limits fixed on the part when it began (None: made before they were recorded,
    the built-in ones); ``rule``: the department limit's id, None for the built-in one."""
    return {step: ({"amount": amount, "unit": unit, "rule": rule} if amount is not None
                   else None)
            for step, amount, unit, rule in (
                ("acknowledge", s.ack_limit_amount, s.ack_limit_unit, s.ack_limit_rule),
                ("handle", s.handle_limit_amount, s.handle_limit_unit, s.handle_limit_rule))}


UNSATISFIED_AT_OR_BELOW = 2   # satisfaction 1-5: 1 and 2 reopen the case


def callback(session: Session, incident_id: int, *, principal: Principal, solved: bool,
             satisfaction: int | None, note: str | None = None,
             now: datetime | None = None) -> dict:
    """回访 before closing: record the reporter's answer; an unsolved or unsatisfied answer
    reopens the case (重办): back to handling, every department that had fed back must feed
    back again, and a ``reopen`` event counts against each of them."""
    now = _now(now)
    incident = locked_incident(session, incident_id, principal)
    if incident.status not in ("feedback", "verified"):
        raise Conflict(f"a call-back comes after the feedback and before closing; incident "
                       f"{incident_id} is {incident.status}")
    unhappy = not solved or (satisfaction is not None and satisfaction <= UNSATISFIED_AT_OR_BELOW)
    answer = (f"solved: {'yes' if solved else 'no'}, satisfaction: {satisfaction or '-'}"
              + (f"; {note}" if note else ""))
    before = incident.status
    _event(session, incident, "callback", before, before, principal.username, answer, None)
    reopened = []
    if unhappy:
        reopened = reopen(session, incident, actor=principal.username, before=before,
                          note=answer)
    incident.version += 1
    session.flush()
    audit.record(session, principal.username, "callback", "incident", incident_id,
                 {"status": before}, {"status": incident.status, "answer": answer,
                                      "reopened": reopened})
    return get_incident(session, incident_id, principal, now=now)


def reopen(session: Session, incident: Incident, *, actor: str | None, before: str,
           note: str, at: datetime | None = None) -> list[str]:
    """重办: the incident goes back to handling; every department that had fed back must
    feed back again and a ``reopen`` event names each (it counts against them). When no
    department had fed back (the grid's own staff handled it), one ``reopen`` event names
    none. Returns the departments reopened."""
    incident.status, incident.closed_at = "handling", None
    reopened = []
    for summons in session.scalars(select(Summons).where(
            Summons.incident_id == incident.id, Summons.state == "fed_back")
            .order_by(Summons.id)):
        summons.state, summons.fed_back_at, summons.fed_back_by = "acknowledged", None, None
        reopened.append(summons.department_code)
        _event(session, incident, "reopen", before, "handling", actor, note,
               summons.department_code, at)
        notify_department(session, summons.department_code, "reopened", incident.id,
                          f"incident {incident.id} is reopened (重办): {note}")
    if not reopened:
        _event(session, incident, "reopen", before, "handling", actor, note, None, at)
    return reopened
