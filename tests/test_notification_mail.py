"""E-mail of department notices (issue 16, item 7) through a real SMTP server on loopback
(tests/smtp_receiver.py) from a real uvicorn server over the real PostGIS: a whistle with
SMTP configured delivers one mail to each summoned department's address naming the
incident; a department without an address, and notices meant for the summoner, send none;
with SMTP unset nothing is attempted; a server that refuses leaves the mail recorded for a
retry and never fails the request."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import grid_fixtures as fx
import httpx
import pytest
from sqlalchemy import text

from helpers import department_headers as dept
from security_helpers import free_port, serve
from smtp_receiver import smtp_receiver
from test_notification_stream import report_and_whistle


@pytest.fixture(scope="module")
def mailbox():
    with smtp_receiver() as box:
        yield box


@pytest.fixture
def mailing(pg_url, engine, tmp_path, mailbox):
    """A service with SMTP configured, for one test only: any running service with SMTP
    sends what is queued in the shared database, so none may outlive its test."""
    with serve(pg_url, tmp_path, smtp_host="127.0.0.1", smtp_port=mailbox.port,
               smtp_from="centre@county.example") as url:
        yield url


@pytest.fixture
def area(grid_area):
    return grid_area


def add_departments(base: str, admin: dict) -> None:
    """Three departments over HTTP, as an admin registers them: two with an address."""
    with httpx.Client(base_url=base, headers=admin, timeout=30) as c:
        for code, email in (("zhujian", "zhujian@county.example"),
                            ("chengguan", "cg.duty@county.example"), ("minzheng", None)):
            resp = c.post("/departments", json={"code": code, "name": code,
                                                "area_code": fx.COUNTY, "email": email})
            assert resp.status_code == 201, resp.text
            assert resp.json()["email"] == email


def wait_for_mail(box, count: int, timeout: float = 10.0) -> list:
    deadline = time.monotonic() + timeout
    while len(box.messages) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return list(box.messages)


def test_a_whistle_mails_each_summoned_department_once(mailing, mailbox, area, make_user):
    admin = make_user("admin", None, username="boss")
    add_departments(mailing, admin)
    centre = make_user("dispatcher", fx.COUNTY, username="centre")
    mailbox.messages.clear()
    incident_id = report_and_whistle(mailing, centre, ["zhujian", "chengguan", "minzheng"])
    got = wait_for_mail(mailbox, 2)
    time.sleep(0.5)                           # ... and no third one comes
    assert len(mailbox.messages) == 2
    by_to = {m.recipients[0]: m for m in got}
    assert set(by_to) == {"zhujian@county.example", "cg.duty@county.example"}
    for m in got:
        assert m.sender == "centre@county.example"
        assert f"#{incident_id}" in m.message["Subject"]
        assert f"#{incident_id}" in m.message.get_payload(decode=True).decode()
    with area.connect() as conn:
        rows = conn.execute(text("SELECT to_address, attempts, sent_at IS NOT NULL, last_error "
                                 "FROM mail_outbox ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [("zhujian@county.example", 1, True, None),
                                        ("cg.duty@county.example", 1, True, None)]

    # the department reports in: that notice is for the summoner, not mailed
    zj = dept(area, "zhujian")
    with httpx.Client(base_url=mailing, headers=zj, timeout=30) as c:
        inc = c.get(f"/incidents/{incident_id}").json()["properties"]
        resp = c.post(f"/incidents/{incident_id}/transitions",
                      json={"action": "acknowledge", "version": inc["version"]})
        assert resp.status_code == 200, resp.text
    time.sleep(1.0)
    assert len(mailbox.messages) == 2


def test_without_smtp_nothing_is_attempted(pg_url, engine, tmp_path, mailbox, area, make_user):
    with serve(pg_url, tmp_path) as base:     # GRIDGIS_SMTP_HOST unset: the default
        add_departments(base, make_user("admin", None, username="boss"))
        before = mailbox.connections
        report_and_whistle(base, make_user("dispatcher", fx.COUNTY, username="centre"),
                           ["zhujian"])
        time.sleep(1.5)
    assert mailbox.connections == before
    with area.connect() as conn:             # queued (the record), never sent
        assert conn.execute(text("SELECT count(*) FILTER (WHERE sent_at IS NULL), "
                                 "max(attempts) FROM mail_outbox")).one() == (1, 0)


def test_a_refusing_server_is_recorded_and_retried_not_fatal(client, area, make_user,
                                                            mailbox):
    """The sender itself (what the service runs after commit): the SMTP port is closed,
    the mail stays queued with its error and a later attempt time, and is delivered by a
    later run once the server answers."""
    from gis.services import mail

    add_departments_direct(area)
    centre = make_user("dispatcher", fx.COUNTY, username="centre")
    report_and_whistle_client(client, centre)   # SMTP unset here: queued only
    dead = mail.SmtpServer("127.0.0.1", free_port(), timeout_s=2)
    now = datetime.now(timezone.utc)
    assert mail.send_due(area, dead, now=now) == {"sent": 0, "failed": 1}
    [queued] = mail.pending(area)
    assert queued["attempts"] == 1 and "Connection" in queued["last_error"]
    live = mail.SmtpServer("127.0.0.1", mailbox.port)
    assert mail.send_due(area, live, now=now) == {"sent": 0, "failed": 0}  # not due yet
    mailbox.messages.clear()
    later = now + timedelta(minutes=2)
    assert mail.send_due(area, live, now=later) == {"sent": 1, "failed": 0}
    assert mail.pending(area) == []
    assert [m.recipients for m in mailbox.messages] == [["zhujian@county.example"]]

    # a mail queued more than a day ago (SMTP was off) is stale: recorded, never sent
    report_and_whistle_client(client, centre)
    with area.begin() as conn:
        conn.execute(text("UPDATE mail_outbox SET created_at = now() - interval '25 hours' "
                          "WHERE sent_at IS NULL"))
    assert mail.send_due(area, live) == {"sent": 0, "failed": 0}
    assert [m["attempts"] for m in mail.pending(area)] == [0]


def add_departments_direct(engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO departments (code, name, area_code, email) VALUES "
                          "('zhujian', 'zj', :c, 'zhujian@county.example')"), {"c": fx.COUNTY})


def report_and_whistle_client(c, headers) -> None:
    inc = c.post("/incidents", headers=headers, json={
        "lon": 113.005, "lat": fx.MID_LAT, "category": "public_facility",
        "subcategory": "road", "description": "collapsed kerb"})
    assert inc.status_code == 201, inc.text
    resp = c.post(f"/incidents/{inc.json()['id']}/whistle", headers=headers,
                  json={"departments": ["zhujian"]})
    assert resp.status_code == 200, resp.text


def test_a_bad_department_address_is_refused(client, grid_area, admin_headers):
    for bad in ("not-an-address", "a@", "@b.example", "a b@c.example", "x" * 251 + "@c.d"):
        resp = client.post("/departments", headers=admin_headers, json={
            "code": "zhujian", "name": "zj", "area_code": fx.COUNTY, "email": bad})
        assert resp.status_code == 422, bad
        assert resp.json()["field"] == "email"
    assert client.get("/departments", headers=admin_headers).json()["departments"] == []
