"""A repeat report reopens a closed case (issue 16 item 11, 重办): `GET /incidents/{id}/
duplicates` lists incidents of the same category nearby that were closed within the reopen
window (`GRIDGIS_REOPEN_WINDOW_DAYS`, 30), marked `"reopen": true`; merging the new report
into one reopens it (event `reopen`, reason `repeat_report`), the new report closes as
merged with its reporter and photos moved, and the reopen counts against the department
that closed it in `/incidents/stats?by=department` (equal to a direct SQL count). Outside
the window the merge is a 409 and nothing is written; across scopes a 404."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import grid_fixtures as fx
import pytest
from fastapi.testclient import TestClient
from helpers import department_headers as dept
from photo_fixtures import photo
from sqlalchemy import text

from api.app import create_app
from gis.settings import Settings

LON, LAT = 113.005, fx.MID_LAT

# the direct count: every department's parts, and the reopen events naming it
SQL = """
SELECT s.department_code, count(*) AS received,
       count(*) FILTER (WHERE s.fed_back_at IS NOT NULL) AS closed,
       count(*) FILTER (WHERE s.fed_back_at <= s.handle_due_at) AS closed_on_time,
       sum((SELECT count(*) FROM incident_events e WHERE e.incident_id = s.incident_id
            AND e.department_code = s.department_code AND e.action = 'reopen'))::int
         AS reopened
FROM summons s JOIN incidents i ON i.id = s.incident_id
WHERE i.merged_into IS NULL GROUP BY s.department_code ORDER BY s.department_code"""


@pytest.fixture
def people(grid_area, make_user):
    with grid_area.begin() as conn:
        conn.execute(text("INSERT INTO departments (code, name, area_code) VALUES "
                          "('zhujian', '县住建局', :c)"), {"c": fx.COUNTY})
        conn.execute(text("INSERT INTO grid_staff (name, role, grid_code, worker_id) VALUES "
                          "('张三', 'fulltime_worker', :g, 'worker-a')"), {"g": fx.A})
    return {"centre": make_user("dispatcher", fx.COUNTY, username="centre"),
            "town2": make_user("dispatcher", fx.TOWN2, username="town2"),
            "worker": make_user("grid_worker", fx.COMM1, username="worker-a"),
            "zj": dept(grid_area, "zhujian")}


def report(client, h, metres_east=0.0, category="environment", reporter=None) -> dict:
    lon, lat = fx.offset(LON, LAT, 90.0, metres_east) if metres_east else (LON, LAT)
    resp = client.post("/incidents", headers=h, json={
        "lon": lon, "lat": lat, "category": category,
        "subcategory": {"environment": "garbage", "dispute": "neighbour"}[category],
        **({"reporter": reporter} if reporter else {})})
    assert resp.status_code == 201, resp.text
    return resp.json()


def step(client, h, incident_id, action, field=False, **extra) -> dict:
    """One step of the loop (``field``: by a grid worker, through the field app's route)."""
    fresh = client.get(f"/incidents/{incident_id}", headers=h).json()
    route = "/field/incidents" if field else "/incidents"
    resp = client.post(f"{route}/{incident_id}/transitions", headers=h, json={
        "action": action, "version": fresh["properties"]["version"], **extra})
    assert resp.status_code == 200, resp.text
    return resp.json()["properties"]


def fed_back_by_department(client, people) -> int:
    """A case dispatched to 住建, acknowledged and fed back (waiting for verification)."""
    c, zj = people["centre"], people["zj"]
    inc = report(client, c, reporter="resident:138")["id"]
    step(client, c, inc, "accept")
    step(client, c, inc, "dispatch", department_code="zhujian")
    step(client, zj, inc, "acknowledge")
    step(client, zj, inc, "feedback", note="bins emptied")
    return inc


def closed_by_department(client, people) -> int:
    """A case dispatched to 住建, acknowledged, fed back, verified and closed."""
    c = people["centre"]
    inc = fed_back_by_department(client, people)
    step(client, c, inc, "verify")
    assert step(client, c, inc, "close")["status"] == "closed"
    return inc


def closed_by_grid_staff(client, people, metres_east=0.0) -> int:
    c, w = people["centre"], people["worker"]
    inc = report(client, c, metres_east=metres_east)["id"]
    for h, action in ((c, "accept"), (c, "dispatch"), (w, "handle"), (w, "feedback"),
                      (c, "verify"), (c, "close")):
        step(client, h, inc, action, field=h is w)
    return inc


def close_days_ago(db, incident_id: int, days: float) -> None:
    with db.begin() as conn:
        conn.execute(text("UPDATE incidents SET closed_at = now() - make_interval(secs => :s) "
                          "WHERE id = :i"), {"s": days * 86400, "i": incident_id})


def duplicates(client, h, incident_id) -> list[dict]:
    resp = client.get(f"/incidents/{incident_id}/duplicates", headers=h)
    assert resp.status_code == 200, resp.text
    assert resp.json()["reopen_window_days"] == 30
    return resp.json()["duplicates"]


def department_rows(client, h) -> dict:
    got = client.get("/incidents/stats", headers=h, params={"by": "department"})
    assert got.status_code == 200, got.text
    return {r["department_code"]: r for r in got.json()["departments"]}


def test_a_repeat_report_within_the_window_reopens_against_the_department(client, people,
                                                                          grid_area):
    c = people["centre"]
    closed = closed_by_department(client, people)
    close_days_ago(grid_area, closed, 29)
    assert department_rows(client, c)["zhujian"]["reopened"] == 0
    new = report(client, c, metres_east=20, reporter="w-12")
    open_dup = report(client, c, metres_east=35)
    photo_id = client.post(f"/incidents/{new['id']}/attachments", headers=c,
                           files={"file": ("p.jpg", photo(), "image/jpeg")}).json()["id"]

    listed = duplicates(client, c, new["id"])
    assert [(d["id"], d["status"], d["reopen"]) for d in listed] == [
        (open_dup["id"], "reported", False), (closed, "closed", True)]
    assert listed[1]["distance_m"] == pytest.approx(20, abs=0.5)

    resp = client.post(f"/incidents/{new['id']}/merge", headers=c,
                       json={"into": closed, "version": new["properties"]["version"]})
    assert resp.status_code == 200, resp.text
    kept = resp.json()["properties"]
    assert kept["status"] == "handling" and kept["closed_at"] is None
    assert kept["reporter"] == "resident:138; w-12"
    last = kept["events"][-2]   # then the part's fresh deadline (test_reopen_deadlines.py)
    assert (last["action"], last["from_status"], last["to_status"], last["actor"],
            last["department_code"]) == ("reopen", "closed", "handling", "centre", "zhujian")
    assert last["note"].startswith(f"repeat_report: #{new['id']} reported the same problem")
    assert [e["action"] for e in kept["events"][-3:]] == ["merge", "reopen", "deadline"]
    gone = client.get(f"/incidents/{new['id']}", headers=c).json()["properties"]
    assert gone["status"] == "closed" and gone["events"][-1]["note"] == f"merged into #{closed}"
    photos = client.get(f"/incidents/{closed}/attachments", headers=c).json()["attachments"]
    assert [a["id"] for a in photos] == [photo_id]
    with grid_area.connect() as conn:
        audited = conn.execute(text(
            "SELECT actor, after FROM audit_log WHERE action = 'reopen' AND entity_id = :i"),
            {"i": str(closed)}).one()
    assert audited.actor == "centre" and audited.after == {
        "status": "handling", "reason": "repeat_report", "merged": new["id"],
        "departments": ["zhujian"]}

    # back in the department's queue, to feed back again; its reopen count rose
    queue = client.get("/queue", headers=people["zj"]).json()
    assert [(i["incident_id"], i["state"], i["reopened"]) for i in queue["items"]] == [
        (closed, "acknowledged", 1)]
    inbox = client.get("/notifications", headers=people["zj"]).json()["notifications"]
    assert inbox[0]["kind"] == "reopened" and inbox[0]["incident_id"] == closed
    rows = department_rows(client, c)
    assert (rows["zhujian"]["reopened"], rows["zhujian"]["closed"]) == (1, 0)
    with grid_area.connect() as conn:
        direct = conn.execute(text(SQL)).mappings().all()
    assert [dict(d) for d in direct] == [{k: rows["zhujian"][k] for k in (
        "department_code", "received", "closed", "closed_on_time", "reopened")}]
    # the merged report does not count as a case of its own, the reopened one once
    assert sum(g["incidents"] for g in client.get("/incidents/stats", headers=c).json()[
        "grids"]) == 2
    step(client, people["zj"], closed, "feedback", note="bins emptied, area swept")
    after = department_rows(client, c)["zhujian"]
    with grid_area.connect() as conn:
        direct = conn.execute(text(SQL)).mappings().one()
    assert (after["reopened"], after["closed"]) == (1, 1)
    assert {k: after[k] for k in direct} == dict(direct)


def test_outside_the_window_the_merge_is_refused_and_nothing_is_written(client, people,
                                                                        grid_area):
    c = people["centre"]
    closed = closed_by_department(client, people)
    close_days_ago(grid_area, closed, 31)
    new = report(client, c, metres_east=10)
    client.post(f"/incidents/{new['id']}/attachments", headers=c,
                files={"file": ("p.jpg", photo(), "image/jpeg")})
    assert duplicates(client, c, new["id"]) == []          # too old to be listed
    before = {i: client.get(f"/incidents/{i}", headers=c).json()["properties"]
              for i in (closed, new["id"])}
    with grid_area.connect() as conn:
        audit_rows = conn.execute(text("SELECT count(*) FROM audit_log")).scalar()
    resp = client.post(f"/incidents/{new['id']}/merge", headers=c,
                       json={"into": closed, "version": new["properties"]["version"]})
    assert resp.status_code == 409, resp.text
    assert "more than 30 days ago" in resp.json()["detail"]
    for i, props in before.items():
        now = client.get(f"/incidents/{i}", headers=c).json()["properties"]
        assert (now["status"], now["version"], now["events"]) == (
            props["status"], props["version"], props["events"])
        assert len(client.get(f"/incidents/{i}/attachments", headers=c).json()[
            "attachments"]) == (1 if i == new["id"] else 0)
    with grid_area.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar() == audit_rows
        assert conn.execute(text("SELECT state FROM summons")).scalar() == "fed_back"
    assert department_rows(client, c)["zhujian"]["reopened"] == 0


def test_the_window_is_a_setting(people, grid_area, settings):
    with TestClient(create_app(settings.model_copy(update={"reopen_window_days": 5}),
                               engine=grid_area)) as client:
        c = people["centre"]
        closed = closed_by_grid_staff(client, people)
        close_days_ago(grid_area, closed, 6)
        new = report(client, c, metres_east=10)
        got = client.get(f"/incidents/{new['id']}/duplicates", headers=c).json()
        assert got["reopen_window_days"] == 5 and got["duplicates"] == []
        resp = client.post(f"/incidents/{new['id']}/merge", headers=c,
                           json={"into": closed, "version": new["properties"]["version"]})
        assert resp.status_code == 409 and "more than 5 days ago" in resp.json()["detail"]


def test_a_case_closed_by_grid_staff_reopens_naming_who_fed_back(client, people, grid_area):
    c = people["centre"]
    closed = closed_by_grid_staff(client, people)
    new = report(client, c, metres_east=10)
    other_kind = report(client, c, metres_east=5, category="dispute")
    assert [d["id"] for d in duplicates(client, c, other_kind["id"])] == []
    resp = client.post(f"/incidents/{new['id']}/merge", headers=c,
                       json={"into": closed, "version": new["properties"]["version"]})
    assert resp.status_code == 200, resp.text
    kept = resp.json()["properties"]
    last = kept["events"][-1]
    assert (kept["status"], last["action"], last["department_code"]) == (
        "handling", "reopen", None)
    assert "fed back by worker-a" in last["note"] and last["grid_code"] == kept["grid_code"]
    # the grid worker handles it again
    assert step(client, people["worker"], closed, "feedback", field=True)["status"] == "feedback"


def test_merging_into_a_closed_case_follows_scope(client, people, grid_area):
    c = people["centre"]
    closed = closed_by_grid_staff(client, people)              # township 1
    far = report(client, c, metres_east=2000)                  # township 2
    resp = client.post(f"/incidents/{far['id']}/merge", headers=people["town2"],
                       json={"into": closed, "version": far["properties"]["version"]})
    assert resp.status_code == 404, resp.text
    assert client.get(f"/incidents/{closed}", headers=c).json()["properties"]["status"] == (
        "closed")
    # a merged (closed) report never absorbs another, nor is reopened
    new = report(client, c, metres_east=10)
    assert client.post(f"/incidents/{new['id']}/merge", headers=c, json={
        "into": closed, "version": new["properties"]["version"]}).status_code == 200
    third = report(client, c, metres_east=12)
    listed = duplicates(client, c, third["id"])
    assert [(d["id"], d["status"]) for d in listed] == [(closed, "handling")]
    again = client.post(f"/incidents/{third['id']}/merge", headers=c,
                        json={"into": new["id"], "version": third["properties"]["version"]})
    assert again.status_code == 409 and "already merged" in again.json()["detail"]
