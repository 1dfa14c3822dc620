"""The grid's own staff ask for more time too (issue 16 item 10, 延期申请 / 暂停): a grid
worker requests an extension or a pause on a case dispatched to one of their grids; a
dispatcher who sees it (the level above) approves or refuses. Only an approved request moves
the incident's own due time, so a refused one stays overdue in the list and in
`/incidents/stats` and an approved one does not; a running pause stops the clock; each
request and decision is an event. Other roles and other grids are refused."""

from __future__ import annotations

from datetime import datetime, timedelta

import grid_fixtures as fx
import pytest
from helpers import migration_sandbox
from sqlalchemy import text
from test_unit_of_work import assert_refused, refused_at_commit

from gis.incidents import CLOCK_STOPPED

LON, LAT = 113.005, fx.MID_LAT   # in grid A


@pytest.fixture
def people(grid_area, make_user):
    with grid_area.begin() as conn:
        conn.execute(text("INSERT INTO grid_staff (name, role, grid_code, worker_id) VALUES "
                          "('张三', 'fulltime_worker', :a, 'worker-a'), "
                          "('李四', 'grid_leader', :c, 'leader-c')"), {"a": fx.A, "c": fx.C})
    return {"centre": make_user("dispatcher", fx.COUNTY, username="centre"),
            "town2": make_user("dispatcher", fx.TOWN2, username="town2"),
            "worker": make_user("grid_worker", fx.COMM1, username="worker-a"),
            "leader_c": make_user("grid_worker", fx.COMM2, username="leader-c"),
            "idle": make_user("grid_worker", fx.COMM1, username="no-grid"),
            "analyst": make_user("analyst", fx.COUNTY, username="ana")}


def step(client, h, incident_id, action, **extra) -> dict:
    fresh = client.get(f"/incidents/{incident_id}", headers=h).json()
    resp = client.post(f"/incidents/{incident_id}/transitions", headers=h, json={
        "action": action, "version": fresh["properties"]["version"], **extra})
    assert resp.status_code == 200, resp.text
    return resp.json()["properties"]


def dispatched_to_grid(client, db, people, hours_ago: float = 0.0) -> int:
    """A dispute (closing limit 24 hours) reported ``hours_ago``, dispatched to grid A."""
    c = people["centre"]
    resp = client.post("/incidents", headers=c, json={
        "lon": LON, "lat": LAT, "category": "dispute", "subcategory": "neighbour"})
    assert resp.status_code == 201, resp.text
    inc = resp.json()["id"]
    step(client, c, inc, "accept")
    step(client, c, inc, "dispatch")
    with db.begin() as conn:
        conn.execute(text("UPDATE incidents SET reported_at = reported_at - make_interval("
                          "secs => :s), due_at = due_at - make_interval(secs => :s) "
                          "WHERE id = :i"), {"s": hours_ago * 3600, "i": inc})
    return inc


def ask(client, h, incident_id, **body):
    return client.post(f"/incidents/{incident_id}/extensions", headers=h,
                       json={"amount": 12, "unit": "hours", "reason": "owner away", **body})


def decide(client, h, request_id, approve: bool):
    return client.post(f"/extensions/{request_id}/decision", headers=h,
                       json={"approve": approve})


def overdue_ids(client, h) -> set[int]:
    got = client.get("/incidents", headers=h, params={"overdue": "true"})
    assert got.status_code == 200, got.text
    return {f["id"] for f in got.json()["features"]}


def overdue_in_stats(client, h) -> int:
    got = client.get("/incidents/stats", headers=h)
    assert got.status_code == 200, got.text
    return next(g["overdue"] for g in got.json()["grids"] if g["grid_code"] == fx.A)


def props(client, h, incident_id) -> dict:
    return client.get(f"/incidents/{incident_id}", headers=h).json()["properties"]


def test_approved_is_not_overdue_refused_still_is(client, grid_area, people):
    c, w = people["centre"], people["worker"]
    refused = dispatched_to_grid(client, grid_area, people, hours_ago=30)
    approved = dispatched_to_grid(client, grid_area, people, hours_ago=30)
    assert overdue_ids(client, c) == {refused, approved}
    assert overdue_in_stats(client, c) == 2
    due = datetime.fromisoformat(props(client, c, approved)["due_at"])
    kept_due = props(client, c, refused)["due_at"]
    for incident_id, approve in ((refused, False), (approved, True)):
        req = ask(client, w, incident_id)
        assert req.status_code == 201, req.text
        assert (req.json()["target"], req.json()["summons_id"]) == ("incident", None)
        got = decide(client, c, req.json()["id"], approve)
        assert got.status_code == 200, got.text
    # 24 h + 12 h from a report 30 h ago: due in 6 hours, no longer overdue
    moved = datetime.fromisoformat(props(client, c, approved)["due_at"])
    assert moved - due == timedelta(hours=12)
    assert props(client, c, refused)["due_at"] == kept_due
    assert props(client, c, approved)["overdue"] is None
    assert props(client, c, refused)["overdue"] == "not closed in time"
    assert overdue_ids(client, c) == {refused}
    assert overdue_in_stats(client, c) == 1
    # the field app's own list agrees, overdue first
    work = client.get("/field/work", headers=w)
    assert work.status_code == 200, work.text
    assert [(f["id"], f["properties"]["overdue"]) for f in work.json()["features"]] == [
        (refused, "not closed in time"), (approved, None)]
    events = props(client, c, approved)["events"]
    assert [(e["action"], e["actor"], e["department_code"]) for e in events[-2:]] == [
        ("extension", "worker-a", None), ("deadline", "centre", None)]
    assert events[-2]["note"] == "asks 12 hours more: owner away"
    assert "extension approved: due" in events[-1]["note"]
    refused_events = props(client, c, refused)["events"]
    assert refused_events[-1]["note"] == "extension refused"
    inbox = client.get("/notifications", headers=w).json()["notifications"]
    assert {(n["kind"], n["incident_id"]) for n in inbox} >= {
        ("deadline", approved), ("deadline", refused)}
    listed = client.get(f"/incidents/{approved}/extensions", headers=c).json()["extensions"]
    assert [(x["status"], x["department_code"], x["target"]) for x in listed] == [
        ("approved", None, "incident")]


def test_a_pause_stops_the_clock_until_resumed(client, grid_area, people):
    c, w = people["centre"], people["worker"]
    inc = dispatched_to_grid(client, grid_area, people, hours_ago=20)
    req = ask(client, w, inc, kind="pause", amount=None, reason="waiting for the court")
    assert req.status_code == 201, req.text
    assert decide(client, c, req.json()["id"], True).status_code == 200
    assert datetime.fromisoformat(props(client, c, inc)["due_at"]) == CLOCK_STOPPED
    with grid_area.begin() as conn:   # the pause began ten hours ago: 20 h counted before it
        conn.execute(text("UPDATE deadline_requests SET decided_at = decided_at - "
                          "interval '10 hours' WHERE id = :r"), {"r": req.json()["id"]})
        conn.execute(text("UPDATE incidents SET reported_at = reported_at - interval "
                          "'10 hours' WHERE id = :i"), {"i": inc})
    assert inc not in overdue_ids(client, c)           # 30 h since the report, but paused
    resumed = client.post(f"/extensions/{req.json()['id']}/resume", headers=w)
    assert resumed.status_code == 200, resumed.text
    due = datetime.fromisoformat(resumed.json()["due_at"])
    reported = datetime.fromisoformat(props(client, c, inc)["reported_at"])
    # 24 h of clock, 10 h of it paused: due 34 h after the report, about 4 h from now
    assert due - reported == pytest.approx(timedelta(hours=34), abs=timedelta(seconds=5))
    assert inc not in overdue_ids(client, c)
    assert props(client, c, inc)["events"][-1]["note"].startswith("pause ended: due stopped")


def test_role_and_scope(client, grid_area, people):
    c = people["centre"]
    inc = dispatched_to_grid(client, grid_area, people)
    # a worker of another grid, a worker of no grid: not their case
    assert ask(client, people["leader_c"], inc).status_code == 404
    assert ask(client, people["idle"], inc).status_code == 404
    # the level above decides; it does not ask, nor does an analyst
    assert ask(client, c, inc).status_code == 403
    assert ask(client, people["analyst"], inc).status_code == 403
    assert ask(client, people["worker"], 987654).status_code == 404
    req = ask(client, people["worker"], inc)
    assert req.status_code == 201, req.text
    rid = req.json()["id"]
    # the worker cannot approve their own; a dispatcher of another township does not see it
    assert decide(client, people["worker"], rid, True).status_code == 403
    assert decide(client, people["town2"], rid, True).status_code == 404
    assert client.post(f"/extensions/{rid}/resume", headers=people["leader_c"]).status_code \
        == 404
    assert decide(client, c, rid, False).status_code == 200
    assert decide(client, c, rid, True).status_code == 409      # decided once
    with grid_area.connect() as conn:
        decisions = conn.execute(text("SELECT count(*) FROM incident_events WHERE "
                                      "incident_id = :i AND action = 'deadline'"),
                                 {"i": inc}).scalar_one()
    assert decisions == 1


def test_bad_input_writes_nothing(client, grid_area, people):
    w = people["worker"]
    inc = dispatched_to_grid(client, grid_area, people)
    for body, status in (({"amount": None}, 422), ({"amount": -1}, 422),
                         ({"unit": "weeks"}, 422), ({"reason": ""}, 422),
                         ({"reason": "   "}, 422), ({"kind": "forever"}, 422)):
        got = ask(client, w, inc, **body)
        assert got.status_code == status, (body, got.text)
    # a case no longer handled by the grid (closed) or held by a department: 409
    c = people["centre"]
    for action in ("handle", "feedback", "verify", "close"):
        step(client, c, inc, action)
    got = ask(client, w, inc)
    assert got.status_code == 409 and "not being handled by your grid" in got.json()["detail"]
    with grid_area.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM deadline_requests")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM incident_events WHERE action IN "
                                 "('extension', 'pause')")).scalar_one() == 0


def test_the_check_keeps_target_and_part_in_step(grid_area, client, people):
    inc = dispatched_to_grid(client, grid_area, people)
    from sqlalchemy.exc import IntegrityError
    with pytest.raises(IntegrityError), grid_area.begin() as conn:
        conn.execute(text("INSERT INTO deadline_requests (incident_id, target, kind, amount, "
                          "unit, reason) VALUES (:i, 'part', 'extension', 1, 'hours', 'x')"),
                     {"i": inc})


def test_migration_0012_goes_down_and_up_again(client, grid_area, people):
    """Downgrade to 0011 (the grid's own requests go: 0011 cannot hold them) and upgrade to
    the head in one transaction, rolled back after."""
    inc = dispatched_to_grid(client, grid_area, people)
    assert ask(client, people["worker"], inc).status_code == 201

    def nullable(conn) -> str:
        return conn.execute(text("SELECT is_nullable FROM information_schema.columns WHERE "
                                 "table_name = 'deadline_requests' AND column_name = "
                                 "'summons_id'")).scalar_one()

    with migration_sandbox(grid_area) as m:
        m.down("0011")
        assert nullable(m.conn) == "NO"
        assert m.conn.execute(text("SELECT count(*) FROM deadline_requests")).scalar_one() == 0
        m.up()
        assert nullable(m.conn) == "YES"


def test_a_request_or_decision_refused_at_commit_is_never_a_success(client, grid_area, people):
    w, c = people["worker"], people["centre"]
    inc = dispatched_to_grid(client, grid_area, people)
    due = props(client, c, inc)["due_at"]
    with refused_at_commit(grid_area, "deadline_requests"):
        assert_refused(ask(client, w, inc))
    asked = ask(client, w, inc)
    assert asked.status_code == 201, asked.text
    with refused_at_commit(grid_area, "incidents"):
        assert_refused(decide(client, c, asked.json()["id"], approve=True))
    assert props(client, c, inc)["due_at"] == due
    with grid_area.connect() as conn:
        assert conn.execute(text("SELECT status FROM deadline_requests")).scalars().all() == [
            "requested"]
