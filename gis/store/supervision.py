"""Supervision (督办) in the store: find the summonses that let a limit lapse, raise the
notices that :func:`gis.supervision.notices_due` asks for, and tell the department and the
centre of the level above. Repositories: they flush, never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gis import supervision as rules
from gis.store import audit
from gis.store.calendars import calendar_for
from gis.store.incidents import in_scope
from gis.store.models import Incident, Summons, SupervisionNotice
from gis.store.notifications import notify_users, users_of_area, users_of_department
from gis.store.users import Principal

FIELDS = ("id", "incident_id", "summons_id", "department_code", "kind", "level",
          "recipients", "raised_at", "resolved_at")


def _summons(row: Summons) -> rules.Summons:
    return rules.Summons(row.department_code, row.state, row.ack_due_at, row.handle_due_at,
                         id=row.id)


def _notice(row: SupervisionNotice) -> rules.Notice:
    return rules.Notice(row.summons_id, row.department_code, row.kind, row.level,
                        row.raised_at, tuple(row.recipients or ()))


def run(session: Session, now: datetime, *, actor: str | None = None,
        principal: Principal | None = None) -> list[dict]:
    """Raise every notice due at ``now`` on the incidents ``principal`` may see (all of them
    for the scheduled job); returns them. Running twice raises nothing new."""
    open_rows = session.execute(
        select(Summons, Incident.community_code, Incident.id)
        .join(Incident, Incident.id == Summons.incident_id)
        .where(Summons.state != "fed_back", Incident.status != "closed",
               Summons.ack_due_at < now, in_scope(principal))
        .order_by(Summons.id).with_for_update(of=Summons)).all()
    raised = []
    for summons, place, incident_id in open_rows:
        existing = session.scalars(select(SupervisionNotice)
                                   .where(SupervisionNotice.summons_id == summons.id)).all()
        calendar = calendar_for(session, place)
        for notice in rules.notices_due([_summons(summons)], [_notice(n) for n in existing],
                                        now=now, place_code=place or "", calendar=calendar):
            raised.append(_raise(session, incident_id, notice, actor))
    return raised


def _raise(session: Session, incident_id: int, notice: rules.Notice,
           actor: str | None) -> dict:
    row = SupervisionNotice(incident_id=incident_id, summons_id=notice.summons_id,
                            department_code=notice.department_code, kind=notice.kind,
                            level=notice.level, recipients=list(notice.recipients),
                            raised_at=notice.raised_at)
    session.add(row)
    session.flush()
    what = "report in" if notice.kind == "acknowledge" else "handle"
    message = (f"督办 level {notice.level}: {notice.department_code} did not {what} "
               f"incident {incident_id} in time")
    users = users_of_department(session, notice.department_code)
    for area in notice.recipients:
        users += users_of_area(session, area)
    notify_users(session, users, "supervision", incident_id, notice.department_code, message)
    audit.record(session, actor, "supervise", "incident", incident_id, None,
                 {"department": notice.department_code, "kind": notice.kind,
                  "level": notice.level, "recipients": list(notice.recipients)})
    return {f: getattr(row, f) for f in FIELDS}


def list_notices(session: Session, principal: Principal | None, *,
                 open_only: bool = True) -> list[dict]:
    """Notices on incidents the caller may see (a department: its own cases)."""
    cond = [in_scope(principal)]
    if open_only:
        cond.append(SupervisionNotice.resolved_at.is_(None))
    rows = session.scalars(select(SupervisionNotice)
                           .join(Incident, Incident.id == SupervisionNotice.incident_id)
                           .where(*cond).order_by(SupervisionNotice.id))
    return [{f: getattr(r, f) for f in FIELDS} for r in rows]
