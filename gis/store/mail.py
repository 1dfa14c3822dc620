"""The e-mail outbox (issue 16, item 7). Repositories: they flush, never commit.

A notice addressed to a department (dispatched, summoned, overdue, supervision...) is queued
here in the transaction that writes the notice, so the mail exists exactly when the notice
does; :mod:`gis.services.mail` sends it after commit, outside any transaction. Nothing is
queued for a department without an ``email``. A ``NOTIFY gridgis_mail`` (delivered on
commit) wakes the sender of a running service."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from gis.store.models import Department, MailOutbox

CHANNEL = "gridgis_mail"
# kinds whose reader is the department itself (acknowledged / fed_back go to the summoner)
MAILED_KINDS = frozenset({"dispatched", "summoned", "overdue", "supervision", "merged",
                          "deadline", "reopened"})
MAX_ATTEMPTS = 5
# a mail not sent within a day is stale (SMTP was off or down): kept as a record, never sent,
# so that turning e-mail on does not flood departments with old notices
MAX_AGE = timedelta(days=1)


def queue_for_department(session: Session, department: str, kind: str,
                         incident_id: int | None, message: str) -> int:
    """Queue one mail to ``department``'s address (if it has one); how many were queued."""
    if kind not in MAILED_KINDS:
        return 0
    row = session.execute(select(Department.email, Department.name).where(
        Department.code == department, Department.active.is_(True),
        Department.email.is_not(None))).first()
    if row is None:
        return 0
    about = f"incident #{incident_id}" if incident_id is not None else "gridgis"
    session.add(MailOutbox(
        to_address=row.email, incident_id=incident_id, department_code=department,
        subject=f"[gridgis] {kind}: {about} ({department})",
        body=f"{row.name} ({department})\n\n{kind}: {about}\n\n{message}\n"))
    session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})
    return 1


def claim(session: Session, now: datetime, limit: int, lease: timedelta) -> list[dict]:
    """Up to ``limit`` mails due at ``now``, each leased for ``lease`` (its next attempt
    moved past the lease and counted), so that another sender skips it meanwhile."""
    due = (select(MailOutbox.id).where(MailOutbox.sent_at.is_(None),
                                       MailOutbox.attempts < MAX_ATTEMPTS,
                                       MailOutbox.next_attempt_at <= now,
                                       MailOutbox.created_at > now - MAX_AGE)
           .order_by(MailOutbox.id).limit(limit).with_for_update(skip_locked=True))
    rows = session.execute(
        update(MailOutbox).where(MailOutbox.id.in_(due.scalar_subquery()))
        .values(attempts=MailOutbox.attempts + 1, next_attempt_at=now + lease)
        .returning(MailOutbox.id, MailOutbox.to_address, MailOutbox.subject,
                   MailOutbox.body, MailOutbox.attempts))
    return [dict(r._mapping) for r in sorted(rows, key=lambda r: r.id)]


def mark_sent(session: Session, mail_id: int) -> None:
    session.execute(update(MailOutbox).where(MailOutbox.id == mail_id)
                    .values(sent_at=datetime.now(timezone.utc), last_error=None))


def mark_failed(session: Session, mail_id: int, error: str, retry_at: datetime) -> None:
    session.execute(update(MailOutbox).where(MailOutbox.id == mail_id)
                    .values(last_error=error[:500], next_attempt_at=retry_at))


def pending(session: Session) -> list[dict]:
    """Every mail not sent (for the record and the tests)."""
    rows = session.scalars(select(MailOutbox).where(MailOutbox.sent_at.is_(None))
                           .order_by(MailOutbox.id))
    return [{"id": r.id, "to": r.to_address, "subject": r.subject, "attempts": r.attempts,
             "last_error": r.last_error} for r in rows]
