"""E-mail of department notices through a configured SMTP server (issue 16, item 7).

Off unless ``GRIDGIS_SMTP_HOST`` is set (intranets often have no mail). Mails are queued in
the transaction of the notice (:mod:`gis.store.mail`) and sent here, after that commit, with
no transaction open while the SMTP server talks: each batch is leased in one short
transaction, sent, and each result recorded in another. A failed send never reaches the
request that caused it: it is logged, recorded (``attempts``, ``last_error``) and retried
with a growing delay, up to :data:`gis.store.mail.MAX_ATTEMPTS` times."""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage

from sqlalchemy import Engine

from gis.services.uow import unit_of_work
from gis.store import mail as repo

__all__ = ["SmtpServer", "pending", "send_due"]

log = logging.getLogger("gridgis.mail")
LEASE = timedelta(minutes=5)     # a sender that dies mid-batch leaves its mails to retry
FIRST_RETRY = timedelta(minutes=1)


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int = 25
    user: str | None = None
    password: str | None = None
    sender: str = "gridgis@localhost"
    starttls: bool = False
    timeout_s: float = 10.0

    @classmethod
    def from_settings(cls, settings) -> SmtpServer | None:
        """The configured server, or None: e-mail is off."""
        if not settings.smtp_host:
            return None
        return cls(settings.smtp_host, settings.smtp_port, settings.smtp_user,
                   settings.smtp_password, settings.smtp_from, settings.smtp_starttls,
                   settings.smtp_timeout_s)


def send_due(engine: Engine, server: SmtpServer, *, now: datetime | None = None,
             batch: int = 20) -> dict:
    """Send the queued mails that are due; ``{sent, failed}``. Never raises for a mail that
    fails: that is recorded for a later attempt."""
    now = now or datetime.now(timezone.utc)
    with unit_of_work(engine) as session:
        mails = repo.claim(session, now, batch, LEASE)
    sent = failed = 0
    for mail in mails:
        error = _send(server, mail)
        with unit_of_work(engine) as session:
            if error is None:
                repo.mark_sent(session, mail["id"])
            else:
                retry = now + FIRST_RETRY * 2 ** (mail["attempts"] - 1)
                repo.mark_failed(session, mail["id"], error, retry)
                if mail["attempts"] >= repo.MAX_ATTEMPTS:
                    log.error("mail %s to %s given up after %s attempts: %s", mail["id"],
                              mail["to_address"], mail["attempts"], error)
        sent += error is None
        failed += error is not None
    return {"sent": sent, "failed": failed}


def _send(server: SmtpServer, mail: dict) -> str | None:
    """Deliver one mail; None, or why it failed (logged)."""
    message = EmailMessage()
    message["From"], message["To"] = server.sender, mail["to_address"]
    message["Subject"] = mail["subject"]
    message.set_content(mail["body"])
    try:
        with smtplib.SMTP(server.host, server.port, timeout=server.timeout_s) as smtp:
            if server.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if server.user:
                smtp.login(server.user, server.password or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("mail %s to %s failed (attempt %s): %s", mail["id"], mail["to_address"],
                    mail["attempts"], exc)
        return f"{type(exc).__name__}: {exc}"
    return None


def pending(engine: Engine) -> list[dict]:
    """The mails not sent yet, with their attempts and last error."""
    with unit_of_work(engine, read_only=True) as session:
        return repo.pending(session)
