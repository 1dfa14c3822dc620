"""Extension requests (延期申请) and pauses (暂停). Repositories: they flush, never commit.

Two targets, one path: a department asks on its part (``summons.handle_due_at``); the
grid's own staff (a grid worker, on a case in their grids that no department holds) ask on
the incident's own due time (``incidents.due_at``, which the overdue rule of
:mod:`gis.incidents` reads). A dispatcher who sees the incident (the level above) approves
or refuses. The due time is recomputed from its start with every approved extension and
pause (:func:`gis.clocks.due_at`), so a refused or pending request never moves it. Each
request and decision is an incident event and an audit entry.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from gis import incidents as loop
from gis.clocks import DEFAULT_LIMITS, Calendar, Extension, Limit, Pause, due_at, limit_for
from gis.errors import Conflict, Forbidden, InputError, NotFound
from gis.store import audit
from gis.store.calendars import calendar_for
from gis.store.field import WORK_STATUSES, check_my_incident
from gis.store.incidents import in_scope
from gis.store.models import DeadlineRequest, Incident, IncidentEvent, Summons, User
from gis.store.notifications import notify_users, users_of_department
from gis.store.users import Principal

FIELDS = ("id", "incident_id", "summons_id", "target", "kind", "amount", "unit", "reason",
          "requested_by", "requested_at", "status", "decided_by", "decided_at",
          "decision_note", "resumed_at")


def as_dict(row: DeadlineRequest) -> dict:
    return {f: getattr(row, f) for f in FIELDS}


def _event(session: Session, incident: Incident, action: str, actor: str | None,
           note: str, department: str | None, at: datetime) -> None:
    session.add(IncidentEvent(incident_id=incident.id, action=action,
                              from_status=incident.status, to_status=incident.status,
                              actor=actor, note=note, grid_code=incident.grid_code,
                              department_code=department, at=at))


def request(session: Session, incident_id: int, principal: Principal, *,
            amount: float | None, unit: str | None, reason: str, kind: str = "extension",
            now: datetime | None = None) -> dict:
    """A department account asks for ``amount`` ``unit`` more on its open part, a grid
    worker on the incident's own due time (a case of their grids that no department
    holds); or (kind ``pause``) for the clock to stop from the approval until it resumes."""
    now = now or datetime.now(timezone.utc)
    amount, unit = _checked(kind, amount, unit, reason)
    incident, summons = _target(session, incident_id, principal)
    row = DeadlineRequest(incident_id=incident_id, summons_id=summons.id if summons else None,
                          target="part" if summons else "incident", kind=kind,
                          amount=amount, unit=unit, reason=reason.strip(),
                          requested_by=principal.username, requested_at=now)
    session.add(row)
    session.flush()
    asks = f"asks {amount:g} {unit} more" if kind == "extension" else "asks to pause"
    _event(session, incident, kind, principal.username, f"{asks}: {reason.strip()}",
           summons.department_code if summons else None, now)
    audit.record(session, principal.username, "request", "deadline", row.id, None, as_dict(row))
    return as_dict(row)


def _checked(kind: str, amount: float | None, unit: str | None,
             reason: str) -> tuple[float | None, str | None]:
    if kind not in ("extension", "pause"):
        raise InputError(f"kind must be extension or pause, not {kind!r}", field="kind")
    if not (reason or "").strip():
        raise InputError("say why more time is needed", field="reason")
    if kind == "pause":
        return None, None
    if amount is None:
        raise InputError("an extension needs an amount", field="amount")
    extra = Limit(amount, unit or "working_days")   # validates amount and unit
    return extra.amount, extra.unit


def _target(session: Session, incident_id: int, principal: Principal
            ) -> tuple[Incident, Summons | None]:
    """The incident and the part whose clock the caller may ask about (None: the
    incident's own, for the grid's staff)."""
    if principal.department_code:
        incident = session.scalar(select(Incident).where(Incident.id == incident_id,
                                                         in_scope(principal)))
        summons = session.scalar(select(Summons).where(
            Summons.incident_id == incident_id,
            Summons.department_code == principal.department_code)) if incident else None
        if summons is None:
            raise NotFound(f"no incident {incident_id} for your department")
        if summons.state == "fed_back":
            raise Conflict("your part is done: nothing to extend")
        return incident, summons
    if principal.role != "grid_worker":
        raise Forbidden("a department or the grid's own staff ask for more time; "
                        "the level above decides")
    check_my_incident(session, principal, incident_id)
    incident = session.get(Incident, incident_id)
    if incident.department_code or incident.status not in WORK_STATUSES:
        raise Conflict(f"incident {incident_id} is not being handled by your grid "
                       f"(status {incident.status}"
                       + (f", held by {incident.department_code}" if incident.department_code
                          else "") + ")")
    return incident, None


def _locked_request(session: Session, request_id: int, principal: Principal,
                    what: str) -> DeadlineRequest:
    """The request, locked for update, if its incident is in the caller's scope; NotFound
    naming ``what`` was asked for otherwise."""
    row = session.scalar(select(DeadlineRequest)
                         .join(Incident, Incident.id == DeadlineRequest.incident_id)
                         .where(DeadlineRequest.id == request_id, in_scope(principal))
                         .with_for_update(of=DeadlineRequest))
    if row is None:
        raise NotFound(f"no {what} {request_id}")
    return row


def decide(session: Session, request_id: int, principal: Principal, *, approve: bool,
           note: str | None = None, now: datetime | None = None) -> dict:
    """Approve or refuse a pending request on an incident the caller sees (not one's own)."""
    now = now or datetime.now(timezone.utc)
    row = _locked_request(session, request_id, principal, "extension request")
    if row.status != "requested":
        raise Conflict(f"request {request_id} was already {row.status}")
    row.status = "approved" if approve else "refused"
    row.decided_by, row.decided_at, row.decision_note = principal.username, now, note
    session.flush()
    clock = _Clock(session, row)
    if approve:
        clock.recompute()
    _event(session, clock.incident, "deadline", principal.username,
           f"{row.kind} {row.status}" + (f": {clock.moved()}" if approve else "")
           + (f" ({note})" if note else ""), clock.department, now)
    clock.notify(f"{row.kind} on incident {clock.incident.id} {row.status}", row.requested_by)
    audit.record(session, principal.username, row.status, "deadline", row.id,
                 {clock.field: clock.before}, {clock.field: clock.due})
    return {**as_dict(row), clock.field: clock.due}


class _Clock:
    """The due time a request is about: a department's handle due time or the incident's
    own; ``recompute`` sets it anew from its start and every approved request."""

    def __init__(self, session: Session, row: DeadlineRequest):
        self.session = session
        self.incident = session.get(Incident, row.incident_id, with_for_update=True)
        self.summons = (session.get(Summons, row.summons_id, with_for_update=True)
                        if row.summons_id is not None else None)
        self.department = self.summons.department_code if self.summons else None
        self.field = "handle_due_at" if self.summons else "due_at"
        self.before = self.due

    @property
    def due(self) -> datetime | None:
        return getattr(self.summons or self.incident, self.field)

    def recompute(self) -> None:
        incident = self.incident
        calendar = calendar_for(self.session, incident.community_code or incident.grid_code)
        if self.summons is not None:
            self.summons.handle_due_at = handle_due(self.session, self.summons, incident,
                                                    calendar)
        else:
            incident.due_at = _incident_due(self.session, incident, calendar)
        self.session.flush()

    def moved(self) -> str:
        what = "handle due" if self.summons else "due"
        return f"{what} {_show(self.before)} -> {_show(self.due)}"

    def notify(self, message: str, requester: str | None) -> None:
        if self.summons is not None:
            users = users_of_department(self.session, self.department)
        else:
            users = self.session.scalars(select(User.id).where(User.username == requester))
        notify_users(self.session, users, "deadline", self.incident.id, self.department,
                     message)


def _show(t: datetime | None) -> str:
    if t is None or t == loop.CLOCK_STOPPED:
        return "stopped (paused)"
    return f"{t:%Y-%m-%d %H:%M}"


def _granted(session: Session, *where) -> list[DeadlineRequest]:
    return list(session.scalars(select(DeadlineRequest).where(
        DeadlineRequest.status == "approved", *where).order_by(DeadlineRequest.decided_at,
                                                              DeadlineRequest.id)))


def _incident_due(session: Session, incident: Incident, calendar: Calendar) -> datetime:
    """The incident's own due time: the category's limit from the report (as
    :func:`gis.incidents.due_at`), then each approved extension of the grid's staff in its
    own unit, with every approved pause not counted; :data:`gis.incidents.CLOCK_STOPPED`
    while one runs."""
    granted = _granted(session, DeadlineRequest.incident_id == incident.id,
                       DeadlineRequest.summons_id.is_(None))
    pauses = [Pause(g.decided_at, g.resumed_at, "approved") for g in granted
              if g.kind == "pause"]
    due = due_at(incident.reported_at, Limit(loop.TIME_LIMITS_H[incident.category][1]),
                 calendar, pauses=pauses)
    for g in granted:
        if g.kind == "extension" and due is not None:
            due = due_at(due, Limit(g.amount, g.unit), calendar, pauses=pauses)
    return loop.CLOCK_STOPPED if due is None else due


def handle_due(session: Session, summons: Summons, incident: Incident,
               calendar: Calendar) -> datetime | None:
    """The handle due time from the start of the part's handle clock (the summons, or its
    last reopen), with every extension and pause approved since (a pause from its approval
    to its resumption; None while one runs)."""
    start = summons.handle_clock_from or summons.summoned_at
    granted = _granted(session, DeadlineRequest.summons_id == summons.id,
                       DeadlineRequest.decided_at >= start)
    base = part_limit(summons, incident, "handle")
    return due_at(start, base, calendar,
                  extensions=[Extension(Limit(g.amount, g.unit), "approved")
                              for g in granted if g.kind == "extension"],
                  pauses=[Pause(g.decided_at, g.resumed_at, "approved")
                          for g in granted if g.kind == "pause"])


def part_limit(summons: Summons, incident: Incident, step: str) -> Limit:
    """The limit fixed on the part when it began (``ack``/``handle``), or the built-in
    default for a part made before limits were recorded (migration 0010)."""
    prefix = "ack" if step == "acknowledge" else "handle"
    amount, unit = (getattr(summons, f"{prefix}_limit_amount"),
                    getattr(summons, f"{prefix}_limit_unit"))
    if amount is not None and unit is not None:
        return Limit(amount, unit)
    return limit_for(step, incident.category, incident.level, DEFAULT_LIMITS)


def resume(session: Session, request_id: int, principal: Principal, *,
           now: datetime | None = None) -> dict:
    """End an approved pause (who asked for it, or a dispatcher who sees the incident): the
    clock runs again and its due time is set anew."""
    now = now or datetime.now(timezone.utc)
    row = _locked_request(session, request_id, principal, "pause")
    if (principal.department_code and row.summons_id is None) or (
            principal.role == "grid_worker" and row.summons_id is not None):
        raise NotFound(f"no pause {request_id} of yours")
    if principal.role == "grid_worker":
        check_my_incident(session, principal, row.incident_id)
    if row.kind != "pause" or row.status != "approved" or row.resumed_at is not None:
        raise Conflict(f"request {request_id} is not a running pause")
    row.resumed_at = now
    session.flush()
    clock = _Clock(session, row)
    clock.recompute()
    _event(session, clock.incident, "deadline", principal.username,
           f"pause ended: {clock.moved()}", clock.department, now)
    audit.record(session, principal.username, "resume", "deadline", row.id,
                 {clock.field: clock.before}, {clock.field: clock.due})
    return {**as_dict(row), clock.field: clock.due}


def list_for(session: Session, incident_id: int, principal: Principal) -> list[dict]:
    """The incident's requests, oldest first, each with the department that asked (None:
    the grid's own staff, on the incident's own due time)."""
    rows = session.execute(select(DeadlineRequest, Summons.department_code)
                           .join(Incident, Incident.id == DeadlineRequest.incident_id)
                           .outerjoin(Summons, Summons.id == DeadlineRequest.summons_id)
                           .where(DeadlineRequest.incident_id == incident_id,
                                  in_scope(principal)).order_by(DeadlineRequest.id))
    return [{**as_dict(r), "department_code": code} for r, code in rows]
