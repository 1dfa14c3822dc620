"""A reopened case gets a fresh deadline (issue 16 item 11, 重办): whether reopened by an
unsatisfied call-back or by a repeat report, each reopened department part's handle clock
restarts at the reopen with the limit fixed on the part, so a case reopened after its limit
is not overdue at once; a ``deadline`` event records the new due time, a later extension
counts from the reopen, and the reopen still counts against the department."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import text
from test_reopen import (close_days_ago, closed_by_department, department_rows,
                         fed_back_by_department, people, report, step)

from gis.clocks import Calendar, Extension, Limit, due_at

__all__ = ["people"]   # the fixture, shared with test_reopen


def age_parts(db, incident_id: int, days: int) -> None:
    """The department's part (and every step so far) began ``days`` ago: its handle due
    time is long past."""
    with db.begin() as conn:
        conn.execute(text("UPDATE incident_events SET at = at - make_interval(days => :d) "
                          "WHERE incident_id = :i"), {"d": days, "i": incident_id})
        conn.execute(text("UPDATE summons SET summoned_at = summoned_at - make_interval("
                          "days => :d), ack_due_at = ack_due_at - make_interval(days => :d), "
                          "handle_due_at = handle_due_at - make_interval(days => :d) "
                          "WHERE incident_id = :i"), {"d": days, "i": incident_id})


def part(client, h, incident_id) -> dict:
    got = client.get(f"/incidents/{incident_id}/summons", headers=h)
    assert got.status_code == 200, got.text
    return got.json()["summons"][0]


def fresh_due(part_row: dict, start: datetime, *extra: Limit) -> datetime:
    limit = part_row["limits"]["handle"]
    return due_at(start, Limit(limit["amount"], limit["unit"]), Calendar(),
                  extensions=[Extension(e, "approved") for e in extra])


def check_fresh(client, people, incident_id: int, old_due: str) -> dict:
    c = people["centre"]
    kept = client.get(f"/incidents/{incident_id}", headers=c).json()["properties"]
    reopen = [e for e in kept["events"] if e["action"] == "reopen"][-1]
    deadline = kept["events"][-1]
    assert (deadline["action"], deadline["department_code"]) == ("deadline", "zhujian")
    assert deadline["note"].startswith("reopened: handle due ")
    row = part(client, c, incident_id)
    new_due = datetime.fromisoformat(row["handle_due_at"])
    start = datetime.fromisoformat(reopen["at"])
    assert new_due == pytest.approx(fresh_due(row, start), abs=timedelta(seconds=2))
    assert new_due > datetime.fromisoformat(old_due) + timedelta(days=20)
    assert f"{new_due.astimezone(start.tzinfo):%Y-%m-%d %H:%M}" in deadline["note"] \
        or f"{new_due:%Y-%m-%d}" in deadline["note"]
    assert kept["overdue"] is None and kept["status"] == "handling"
    assert incident_id not in {f["id"] for f in client.get(
        "/incidents", headers=c, params={"overdue": "true"}).json()["features"]}
    queue = client.get("/queue", headers=people["zj"]).json()
    assert [(i["incident_id"], i["state"], i["reopened"]) for i in queue["items"]] == [
        (incident_id, "acknowledged", 1)]
    assert department_rows(client, c)["zhujian"]["reopened"] == 1
    return row


def test_an_unsatisfied_call_back_restarts_the_handle_clock(client, people, grid_area):
    c, zj = people["centre"], people["zj"]
    inc = fed_back_by_department(client, people)
    age_parts(grid_area, inc, 30)
    old_due = part(client, c, inc)["handle_due_at"]
    resp = client.post(f"/incidents/{inc}/callback", headers=c,
                       json={"solved": False, "satisfaction": 1, "note": "still smells"})
    assert resp.status_code == 200, resp.text
    row = check_fresh(client, people, inc, old_due)
    # a later extension counts from the reopen, not from the first summons
    req = client.post(f"/incidents/{inc}/extensions", headers=zj, json={
        "amount": 1, "unit": "working_days", "reason": "parts on order"})
    assert req.status_code == 201, req.text
    got = client.post(f"/extensions/{req.json()['id']}/decision", headers=c,
                      json={"approve": True})
    assert got.status_code == 200, got.text
    events = client.get(f"/incidents/{inc}", headers=c).json()["properties"]["events"]
    start = datetime.fromisoformat([e for e in events if e["action"] == "reopen"][-1]["at"])
    assert datetime.fromisoformat(got.json()["handle_due_at"]) == pytest.approx(
        fresh_due(row, start, Limit(1, "working_days")), abs=timedelta(seconds=2))


def test_a_repeat_report_restarts_the_handle_clock(client, people, grid_area):
    c = people["centre"]
    closed = closed_by_department(client, people)
    age_parts(grid_area, closed, 29)
    close_days_ago(grid_area, closed, 28)
    old_due = part(client, c, closed)["handle_due_at"]
    new = report(client, c, metres_east=20, reporter="w-12")
    resp = client.post(f"/incidents/{new['id']}/merge", headers=c,
                       json={"into": closed, "version": new["properties"]["version"]})
    assert resp.status_code == 200, resp.text
    check_fresh(client, people, closed, old_due)
    # the department's figures still judge the first round by its own limit: the reopen
    # counts against it, and feeding back now is no on-time close of the original case
    step(client, people["zj"], closed, "feedback", note="swept again")
    row = department_rows(client, c)["zhujian"]
    assert (row["reopened"], row["closed"], row["closed_on_time"]) == (1, 1, 0)
