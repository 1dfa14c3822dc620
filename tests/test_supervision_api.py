"""Supervision and the inbox over HTTP (issue 16): a clock override makes a summoned
department overdue; a notice reaches the department's inbox and the centre of the level
above, a second lapse escalates to the county, nothing is raised twice, acknowledging
resolves it; only the owner reads an inbox; clock overrides are for admins."""

from __future__ import annotations

from datetime import datetime, timedelta

import grid_fixtures as fx
import pytest
from sqlalchemy import text

from gis.services import accounts


@pytest.fixture
def area(db):
    fx.insert_units_and_grids(db)
    with db.begin() as conn:
        conn.execute(text("INSERT INTO departments (code, name, area_code) VALUES "
                          "('zhujian', '县住建局', :c)"), {"c": fx.COUNTY})
    return db


@pytest.fixture
def people(make_user, area):
    token = accounts.add_user(area, "zj-clerk", "department", department_code="zhujian")["token"]
    return {"county": make_user("dispatcher", fx.COUNTY, username="county-centre"),
            "town": make_user("dispatcher", fx.TOWN1, username="town1-centre"),
            "other": make_user("dispatcher", fx.TOWN2, username="town2-centre"),
            "admin": make_user("admin", username="root"),
            "zj": {"Authorization": f"Bearer {token}"}}


def whistled(client, people) -> dict:
    inc = client.post("/incidents", headers=people["town"], json={
        "lon": 113.005, "lat": fx.MID_LAT, "category": "environment",
        "subcategory": "sewage"}).json()
    resp = client.post(f"/incidents/{inc['id']}/whistle", headers=people["town"],
                       json={"departments": ["zhujian"]})
    assert resp.status_code == 200, resp.text
    return resp.json()


def run(client, people, at: datetime) -> list:
    resp = client.post("/supervision/run", headers=people["admin"], json={"at": at.isoformat()})
    assert resp.status_code == 200, resp.text
    return resp.json()["raised"]


def kinds(client, headers) -> list[str]:
    return [n["kind"] for n in client.get("/notifications", headers=headers).json()[
        "notifications"]]


def test_a_lapse_notifies_the_department_and_the_level_above_then_escalates(client, people):
    inc = whistled(client, people)
    summons = inc["properties"]["summons"][0]
    due = datetime.fromisoformat(summons["ack_due_at"])
    assert client.post("/supervision/run", headers=people["county"]).json()["raised"] == []
    assert summons["overdue"] is None
    first = run(client, people, due + timedelta(minutes=1))
    assert [(n["kind"], n["level"], n["recipients"]) for n in first] == [
        ("acknowledge", 1, [fx.TOWN1])]
    assert kinds(client, people["zj"]) == ["supervision", "summoned"]
    assert kinds(client, people["town"]) == ["supervision"]
    assert kinds(client, people["county"]) == [] and kinds(client, people["other"]) == []
    assert run(client, people, due + timedelta(minutes=2)) == []          # not twice
    later = run(client, people, due + timedelta(days=5))                 # grace is over
    assert [(n["level"], n["recipients"]) for n in later] == [(2, [fx.TOWN1, fx.COUNTY])]
    assert kinds(client, people["county"]) == ["supervision"]
    open_ = client.get("/supervision", headers=people["zj"]).json()["notices"]
    assert [n["level"] for n in open_] == [1, 2]
    assert client.get("/supervision", headers=people["other"]).json()["notices"] == []
    # reporting in resolves the acknowledge notices
    inc = client.get(f"/incidents/{inc['id']}", headers=people["zj"]).json()
    resp = client.post(f"/incidents/{inc['id']}/transitions", headers=people["zj"], json={
        "action": "acknowledge", "version": inc["properties"]["version"]})
    assert resp.status_code == 200, resp.text
    assert client.get("/supervision", headers=people["zj"]).json()["notices"] == []


def test_inbox_unread_counts_and_marking_read(client, people):
    whistled(client, people)
    whistled(client, people)
    box = client.get("/notifications", headers=people["zj"]).json()
    assert box["unread"] == 2 and len(box["notifications"]) == 2
    first = box["notifications"][0]["id"]
    assert client.post(f"/notifications/{first}/read", headers=people["county"]).status_code \
        == 404                                                   # not the owner's
    assert client.post(f"/notifications/{first}/read", headers=people["zj"]).json() == {
        "marked": 1, "unread": 1}
    assert len(client.get("/notifications", headers=people["zj"],
                          params={"unread": True}).json()["notifications"]) == 1
    assert client.post("/notifications/read", headers=people["zj"]).json() == {
        "marked": 1, "unread": 0}


def test_clock_overrides_are_for_admins(client, people):
    at = {"at": "2030-01-01T00:00:00+08:00"}
    assert client.post("/supervision/run", headers=people["county"], json=at).status_code == 403
    assert client.post("/supervision/run", headers=people["zj"]).status_code == 403
    assert client.post("/supervision/run", headers=people["admin"],
                       json={"at": "2030-01-01T00:00:00"}).status_code == 422


def test_a_dispatcher_raises_notices_only_in_their_own_area(client, people, area):
    """POST /supervision/run answers with the notices it raised: a township's dispatcher
    must neither raise nor see notices on another township's incidents."""
    inc = whistled(client, people)
    with area.begin() as conn:  # its department missed the limit an hour ago
        conn.execute(text("UPDATE summons SET ack_due_at = now() - interval '1 hour' "
                          "WHERE incident_id = :i"), {"i": inc["id"]})
    resp = client.post("/supervision/run", headers=people["other"])
    assert resp.status_code == 200 and resp.json()["raised"] == []
    assert client.get("/supervision", headers=people["zj"]).json()["notices"] == []
    raised = client.post("/supervision/run", headers=people["town"]).json()["raised"]
    assert [(n["incident_id"], n["kind"]) for n in raised] == [(inc["id"], "acknowledge")]
