"""Dispatch to a department, whistle and report-in over HTTP (issue 16): a department's
acknowledge and feedback carry a dispatched incident; a whistled incident cannot be
verified until every summoned department fed back; each step is an event naming the
department; bad input and other departments are refused with nothing written."""

from __future__ import annotations

import grid_fixtures as fx
from helpers import department_headers as dept
import pytest
from sqlalchemy import text


@pytest.fixture
def area(grid_area):
    with grid_area.begin() as conn:
        conn.execute(text("INSERT INTO departments (code, name, area_code) VALUES "
                          "('zhujian', '县住建局', :c), ('chengguan', '县城管局', :c), "
                          "('t2', '二街道', :t2)"), {"c": fx.COUNTY, "t2": fx.TOWN2})
    return grid_area


@pytest.fixture
def dispatcher(make_user, area):
    return make_user("dispatcher", fx.COUNTY, username="centre")


@pytest.fixture
def zj(area):
    return dept(area, "zhujian")


@pytest.fixture
def cg(area):
    return dept(area, "chengguan")


def report(client, headers) -> dict:
    resp = client.post("/incidents", headers=headers, json={
        "lon": 113.005, "lat": fx.MID_LAT, "category": "public_facility",
        "subcategory": "road", "description": "collapsed kerb"})
    assert resp.status_code == 201, resp.text
    return resp.json()


def act(client, headers, inc, action, expect=200, **extra) -> dict:
    props = inc["properties"]
    resp = client.post(f"/incidents/{props['id']}/transitions", headers=headers,
                       json={"action": action, "version": props["version"], **extra})
    assert resp.status_code == expect, resp.text
    return resp.json() if expect == 200 else inc


def fresh(client, headers, inc) -> dict:
    return client.get(f"/incidents/{inc['id']}", headers=headers).json()


def inbox(db, username) -> list[str]:
    with db.connect() as conn:
        return list(conn.execute(text(
            "SELECT n.kind FROM notifications n JOIN users u ON u.id = n.user_id "
            "WHERE u.username = :u ORDER BY n.id"), {"u": username}).scalars())


def test_dispatch_to_a_department_which_reports_in_and_feeds_back(client, dispatcher, zj, db):
    inc = act(client, dispatcher, report(client, dispatcher), "accept")
    inc = act(client, dispatcher, inc, "dispatch", department_code="zhujian")
    assert inc["properties"]["department_code"] == "zhujian"
    assert inbox(db, "zhujian-clerk") == ["dispatched"]
    inc = act(client, zj, fresh(client, zj, inc), "acknowledge", note="on our way")
    assert inc["properties"]["status"] == "handling"
    inc = act(client, zj, inc, "feedback", note="kerb rebuilt")
    assert inc["properties"]["status"] == "feedback"
    assert inbox(db, "centre") == ["acknowledged", "fed_back"]
    inc = act(client, dispatcher, fresh(client, dispatcher, inc), "verify")
    inc = act(client, dispatcher, inc, "close")
    events = fresh(client, dispatcher, inc)["properties"]["events"]
    assert [(e["action"], e["department_code"], e["actor"]) for e in events] == [
        ("report", None, "centre"), ("accept", None, "centre"),
        ("dispatch", "zhujian", "centre"), ("acknowledge", "zhujian", "zhujian-clerk"),
        ("feedback", "zhujian", "zhujian-clerk"), ("verify", None, "centre"),
        ("close", None, "centre")]
    summons = client.get(f"/incidents/{inc['id']}/summons", headers=zj).json()["summons"]
    assert [(s["department_code"], s["kind"], s["state"], s["feedback"]) for s in summons] == [
        ("zhujian", "dispatch", "fed_back", "kerb rebuilt")]
    assert summons[0]["ack_due_at"] < summons[0]["handle_due_at"]


def test_a_whistled_incident_closes_only_when_every_department_fed_back(client, dispatcher,
                                                                        zj, cg, db):
    inc = report(client, dispatcher)
    for action in ("accept", "dispatch", "handle", "feedback"):
        inc = act(client, dispatcher, inc, action)
    resp = client.post(f"/incidents/{inc['id']}/whistle", headers=dispatcher,
                       json={"departments": ["zhujian", "chengguan"], "note": "kerb and pipe"})
    assert resp.status_code == 200, resp.text
    inc = resp.json()
    assert [s["state"] for s in inc["properties"]["summons"]] == ["summoned", "summoned"]
    assert inbox(db, "zhujian-clerk") == ["summoned"] and inbox(db, "chengguan-clerk") == [
        "summoned"]
    refused = client.post(f"/incidents/{inc['id']}/transitions", headers=dispatcher,
                          json={"action": "verify", "version": inc["properties"]["version"]})
    assert refused.status_code == 409
    assert "zhujian, chengguan" in refused.json()["detail"]
    inc = act(client, cg, inc, "acknowledge")
    inc = act(client, cg, inc, "feedback", note="pipe fixed")
    assert inc["properties"]["status"] == "feedback"        # a whistle does not move it
    refused = client.post(f"/incidents/{inc['id']}/transitions", headers=dispatcher,
                          json={"action": "verify", "version": inc["properties"]["version"]})
    assert refused.status_code == 409 and "zhujian" in refused.json()["detail"] \
        and "chengguan" not in refused.json()["detail"]
    inc = act(client, zj, inc, "acknowledge")
    inc = act(client, zj, inc, "feedback", note="kerb rebuilt")
    inc = act(client, dispatcher, fresh(client, dispatcher, inc), "verify")
    assert act(client, dispatcher, inc, "close")["properties"]["status"] == "closed"


def test_bad_whistles_write_nothing(client, dispatcher, make_user, zj):
    inc = report(client, dispatcher)
    url = f"/incidents/{inc['id']}/whistle"
    for body, status, words in (
            ({"departments": ["zhujian", "nobody"]}, 422, "nobody"),
            ({"departments": []}, 422, "departments"),
            ({"departments": ["t2"]}, 200, None),
            ({"departments": ["t2"]}, 409, "already summoned")):
        resp = client.post(url, headers=dispatcher, json=body)
        assert resp.status_code == status, resp.text
        if words:
            assert words in resp.text
    summons = client.get(f"/incidents/{inc['id']}/summons", headers=dispatcher).json()
    assert [s["department_code"] for s in summons["summons"]] == ["t2"]
    assert fresh(client, dispatcher, inc)["properties"]["version"] == 2   # one whistle only
    viewer = make_user("viewer", fx.COUNTY)
    assert client.post(url, headers=viewer, json={"departments": ["zhujian"]}).status_code \
        == 403
    # a township centre cannot summon the other township's office (not visible to it)
    town1 = make_user("dispatcher", fx.TOWN1, username="town1")
    resp = client.post(url, headers=town1, json={"departments": ["chengguan", "t2"]})
    assert resp.status_code == 422 and "t2" in resp.json()["detail"]


def test_departments_act_only_on_their_own_part_in_order(client, dispatcher, zj, cg):
    inc = act(client, dispatcher, report(client, dispatcher), "accept")
    inc = act(client, dispatcher, inc, "dispatch", department_code="zhujian")
    inc = fresh(client, zj, inc)
    act(client, zj, inc, "feedback", expect=409)                   # report in first
    act(client, cg, inc, "acknowledge", expect=404)                # not cg's case
    act(client, dispatcher, inc, "acknowledge", expect=403)        # not a department
    act(client, zj, inc, "handle", expect=403)                     # the dispatcher's step
    stale = {**inc, "properties": {**inc["properties"], "version": 1}}
    act(client, zj, stale, "acknowledge", expect=409)
    assert fresh(client, zj, inc)["properties"]["status"] == "dispatched"


def test_dispatch_to_a_bad_department_leaves_the_incident_as_it_was(client, dispatcher):
    inc = act(client, dispatcher, report(client, dispatcher), "accept")
    resp = client.post(f"/incidents/{inc['id']}/transitions", headers=dispatcher, json={
        "action": "dispatch", "version": inc["properties"]["version"],
        "department_code": "nobody"})
    assert resp.status_code == 422 and resp.json()["field"] == "departments"
    props = fresh(client, dispatcher, inc)["properties"]
    assert props["status"] == "accepted" and props["department_code"] is None
    assert [e["action"] for e in props["events"]] == ["report", "accept"]
    resp = client.post(f"/incidents/{inc['id']}/transitions", headers=dispatcher, json={
        "action": "accept", "version": props["version"], "department_code": "zhujian"})
    assert resp.status_code == 422 and resp.json()["field"] == "department_code"


def test_a_county_holiday_calendar_moves_the_departments_due_times(client, dispatcher, area,
                                                                   tmp_path):
    from datetime import datetime, timedelta

    from gis.clocks import CHINA
    from gis.services import departments

    today = datetime.now(CHINA).date()
    days_off = [today + timedelta(days=i) for i in range(1, 15)]      # two weeks off
    csv = tmp_path / "holidays.csv"
    csv.write_text("date,kind\n" + "".join(f"{d.isoformat()},holiday\n" for d in days_off),
                   encoding="utf-8")
    assert departments.import_calendars(area, csv, county=fx.COUNTY)["days"] == {
        fx.COUNTY[:6]: 14}
    inc = report(client, dispatcher)
    out = client.post(f"/incidents/{inc['id']}/whistle", headers=dispatcher,
                      json={"departments": ["zhujian"]}).json()
    due = datetime.fromisoformat(out["properties"]["summons"][0]["handle_due_at"])
    # five working days cannot end inside the fortnight off
    assert due.astimezone(CHINA).date() > days_off[-1]


def test_an_unsatisfied_call_back_reopens_and_counts_against_the_departments(
        client, dispatcher, zj, cg, db):
    inc = report(client, dispatcher)
    for action in ("accept", "dispatch", "handle", "feedback"):
        inc = act(client, dispatcher, inc, action)
    client.post(f"/incidents/{inc['id']}/whistle", headers=dispatcher,
                json={"departments": ["zhujian", "chengguan"]})
    for headers in (zj, cg):
        inc = act(client, headers, fresh(client, headers, inc), "acknowledge")
        inc = act(client, headers, inc, "feedback")
    url = f"/incidents/{inc['id']}/callback"
    early = report(client, dispatcher)
    assert client.post(f"/incidents/{early['id']}/callback", headers=dispatcher,
                       json={"solved": True}).status_code == 409     # nothing fed back yet
    assert client.post(url, headers=dispatcher,
                       json={"solved": True, "satisfaction": 9}).status_code == 422
    assert client.post(url, headers=zj, json={"solved": False}).status_code == 403
    resp = client.post(url, headers=dispatcher,
                       json={"solved": True, "satisfaction": 2, "note": "still smells"})
    assert resp.status_code == 200, resp.text
    props = resp.json()["properties"]
    assert props["status"] == "handling"
    assert [s["state"] for s in props["summons"]] == ["acknowledged", "acknowledged"]
    assert inbox(db, "zhujian-clerk")[-1] == "reopened"
    stats = {r["department_code"]: r for r in client.get(
        "/incidents/stats", headers=dispatcher, params={"by": "department"}).json()[
        "departments"]}
    assert stats["zhujian"]["reopened"] == 1 and stats["chengguan"]["reopened"] == 1
    # both feed back again, the grid feeds back, a satisfied call-back lets it close
    for headers in (zj, cg):
        inc = act(client, headers, fresh(client, headers, inc), "feedback", note="again")
    inc = act(client, dispatcher, fresh(client, dispatcher, inc), "feedback")
    ok = client.post(url, headers=dispatcher, json={"solved": True, "satisfaction": 5})
    assert ok.status_code == 200 and ok.json()["properties"]["status"] == "feedback"
    inc = act(client, dispatcher, fresh(client, dispatcher, inc), "verify")
    assert act(client, dispatcher, inc, "close")["properties"]["status"] == "closed"
    actions = [e["action"] for e in fresh(client, dispatcher, inc)["properties"]["events"]]
    assert actions.count("reopen") == 2 and actions.count("callback") == 2


def test_each_part_says_which_limit_it_let_lapse(client, dispatcher, zj):
    inc = report(client, dispatcher)
    client.post(f"/incidents/{inc['id']}/whistle", headers=dispatcher,
                json={"departments": ["zhujian", "chengguan"]})
    with client.app.state.engine.begin() as conn:
        conn.execute(text("UPDATE summons SET ack_due_at = now() - interval '1 minute' "
                          "WHERE department_code = 'zhujian'"))
    parts = client.get(f"/incidents/{inc['id']}/summons", headers=dispatcher).json()["summons"]
    assert [(p["department_code"], p["overdue"]) for p in parts] == [
        ("zhujian", "acknowledge"), ("chengguan", None)]
    act(client, zj, fresh(client, zj, inc), "acknowledge")
    parts = client.get(f"/incidents/{inc['id']}/summons", headers=dispatcher).json()["summons"]
    assert parts[0]["overdue"] is None           # reported in, late but no longer lapsing


def test_the_department_queue_and_the_department_filter(client, dispatcher, zj, cg, make_user):
    first, second, other = (report(client, dispatcher) for _ in range(3))
    for inc in (first, second):
        client.post(f"/incidents/{inc['id']}/whistle", headers=dispatcher,
                    json={"departments": ["zhujian"]})
    client.post(f"/incidents/{other['id']}/whistle", headers=dispatcher,
                json={"departments": ["chengguan"]})
    act(client, zj, fresh(client, zj, second), "acknowledge")
    with client.app.state.engine.begin() as conn:
        conn.execute(text("UPDATE summons SET ack_due_at = now() - interval '1 minute' "
                          "WHERE incident_id = :i"), {"i": first["id"]})
    q = client.get("/queue", headers=zj).json()
    assert (q["department"], q["waiting"], q["handling"], q["overdue"]) == ("zhujian", 1, 1, 1)
    assert [(i["incident_id"], i["overdue"]) for i in q["items"]] == [
        (first["id"], "acknowledge"), (second["id"], None)]
    assert client.get("/queue", headers=dispatcher).status_code == 403
    listed = client.get("/incidents", headers=dispatcher, params={"department": "zhujian"})
    assert sorted(f["id"] for f in listed.json()["features"]) == [first["id"], second["id"]]
    assert client.get("/incidents", headers=dispatcher,
                      params={"department": "bad code!"}).status_code == 422
