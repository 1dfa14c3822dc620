"""Extension requests (延期申请) on a department's part. Repositories: they flush, never
commit. A department asks for more time with a reason; a dispatcher who sees the incident
(the level above) approves or refuses. The handle due time is recomputed from the summons'
start with every approved extension (:func:`gis.clocks.due_at`), so a refused or pending
request never moves it. Each request and decision is an incident event and an audit entry.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.clocks import DEFAULT_LIMITS, Calendar, Extension, Limit, Pause, due_at, limit_for
from gis.errors import Conflict, Forbidden, InputError, NotFound
from gis.store import audit
from gis.store.calendars import calendar_for
from gis.store.incidents import in_scope
from gis.store.models import DeadlineRequest, Incident, IncidentEvent, Summons
from gis.store.notifications import notify_users, users_of_department
from gis.store.users import Principal

FIELDS = ("id", "incident_id", "summons_id", "kind", "amount", "unit", "reason",
          "requested_by", "requested_at", "status", "decided_by", "decided_at",
          "decision_note", "resumed_at")


def as_dict(row: DeadlineRequest) -> dict:
    return {f: getattr(row, f) for f in FIELDS}


def _event(session: Session, incident: Incident, action: str, actor: str | None,
           note: str, department: str, at: datetime) -> None:
    session.add(IncidentEvent(incident_id=incident.id, action=action,
                              from_status=incident.status, to_status=incident.status,
                              actor=actor, note=note, grid_code=incident.grid_code,
                              department_code=department, at=at))


def request(session: Session, incident_id: int, principal: Principal, *,
            amount: float | None, unit: str | None, reason: str, kind: str = "extension",
            now: datetime | None = None) -> dict:
    """A department account asks for ``amount`` ``unit`` more on its open part, or (kind
    ``pause``) for its clock to stop from the approval until it resumes."""
    now = now or datetime.now(timezone.utc)
    if not principal.department_code:
        raise Forbidden("only a department account asks for more time on its part")
    if kind not in ("extension", "pause"):
        raise InputError(f"kind must be extension or pause, not {kind!r}", field="kind")
    if kind == "extension":
        if amount is None:
            raise InputError("an extension needs an amount", field="amount")
        extra = Limit(amount, unit or "working_days")   # validates amount and unit
        amount, unit = extra.amount, extra.unit
    else:
        amount = unit = None
    if not (reason or "").strip():
        raise InputError("say why more time is needed", field="reason")
    incident = session.scalar(select(Incident).where(Incident.id == incident_id,
                                                     in_scope(principal)))
    summons = session.scalar(select(Summons).where(
        Summons.incident_id == incident_id,
        Summons.department_code == principal.department_code)) if incident else None
    if summons is None:
        raise NotFound(f"no incident {incident_id} for your department")
    if summons.state == "fed_back":
        raise Conflict("your part is done: nothing to extend")
    row = DeadlineRequest(incident_id=incident_id, summons_id=summons.id, kind=kind,
                          amount=amount, unit=unit, reason=reason.strip(),
                          requested_by=principal.username, requested_at=now)
    session.add(row)
    session.flush()
    asks = f"asks {amount:g} {unit} more" if kind == "extension" else "asks to pause"
    _event(session, incident, kind, principal.username, f"{asks}: {reason.strip()}",
           summons.department_code, now)
    audit.record(session, principal.username, "request", "deadline", row.id, None, as_dict(row))
    return as_dict(row)


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
    summons = session.get(Summons, row.summons_id, with_for_update=True)
    incident = session.get(Incident, row.incident_id)
    row.status = "approved" if approve else "refused"
    row.decided_by, row.decided_at, row.decision_note = principal.username, now, note
    session.flush()
    before = summons.handle_due_at
    if approve:
        calendar = calendar_for(session, incident.community_code or incident.grid_code)
        summons.handle_due_at = _handle_due(session, summons, incident, calendar)
    _event(session, incident, "deadline", principal.username,
           f"{row.kind} {row.status}"
           + (f": {_moved(before, summons.handle_due_at)}" if approve else "")
           + (f" ({note})" if note else ""), summons.department_code, now)
    notify_users(session, users_of_department(session, summons.department_code), "deadline",
                 incident.id, summons.department_code,
                 f"{row.kind} on incident {incident.id} {row.status}")
    audit.record(session, principal.username, row.status, "deadline", row.id,
                 {"handle_due_at": before}, {"handle_due_at": summons.handle_due_at})
    return {**as_dict(row), "handle_due_at": summons.handle_due_at}


def _moved(before: datetime | None, after: datetime | None) -> str:
    def show(t):
        return f"{t:%Y-%m-%d %H:%M}" if t else "stopped (paused)"
    return f"handle due {show(before)} -> {show(after)}"


def _handle_due(session: Session, summons: Summons, incident: Incident,
                calendar: Calendar) -> datetime | None:
    """The handle due time from the summons' start, with every approved extension and
    every approved pause (from its approval to its resumption; None while one runs)."""
    granted = session.scalars(select(DeadlineRequest).where(
        DeadlineRequest.summons_id == summons.id, DeadlineRequest.status == "approved")).all()
    base = part_limit(summons, incident, "handle")
    return due_at(summons.summoned_at, base, calendar,
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
    """End an approved pause (the department or a dispatcher who sees the incident): the
    clock runs again and the handle due time is set anew."""
    now = now or datetime.now(timezone.utc)
    row = _locked_request(session, request_id, principal, "pause")
    if row.kind != "pause" or row.status != "approved" or row.resumed_at is not None:
        raise Conflict(f"request {request_id} is not a running pause")
    summons = session.get(Summons, row.summons_id, with_for_update=True)
    incident = session.get(Incident, row.incident_id)
    row.resumed_at = now
    session.flush()
    before = summons.handle_due_at
    calendar = calendar_for(session, incident.community_code or incident.grid_code)
    summons.handle_due_at = _handle_due(session, summons, incident, calendar)
    _event(session, incident, "deadline", principal.username,
           f"pause ended: {_moved(before, summons.handle_due_at)}", summons.department_code,
           now)
    audit.record(session, principal.username, "resume", "deadline", row.id,
                 {"handle_due_at": before}, {"handle_due_at": summons.handle_due_at})
    return {**as_dict(row), "handle_due_at": summons.handle_due_at}


def list_for(session: Session, incident_id: int, principal: Principal) -> list[dict]:
    """The incident's requests, oldest first, each with the department that asked."""
    rows = session.execute(select(DeadlineRequest, Summons.department_code)
                           .join(Incident, Incident.id == DeadlineRequest.incident_id)
                           .join(Summons, Summons.id == DeadlineRequest.summons_id)
                           .where(DeadlineRequest.incident_id == incident_id,
                                  in_scope(principal)).order_by(DeadlineRequest.id))
    return [{**as_dict(r), "department_code": code} for r, code in rows]
