"""Extension requests over HTTP (issue 16 item 10): a department asks for more time, the
level above approves or refuses; an approved extension moves the handle due time so the
department is not supervised for it, a refused one leaves it due; every request and
decision is an event; bad requests and outsiders are refused."""

from __future__ import annotations

from datetime import datetime, timedelta

import grid_fixtures as fx
import pytest
from helpers import add_department, department_headers


@pytest.fixture
def people(make_user, db):
    fx.insert_units_and_grids(db)
    add_department(db, "zhujian", "县住建局", fx.COUNTY)
    zj = department_headers(db, "zhujian", username="zj-clerk")
    return {"centre": make_user("dispatcher", fx.COUNTY, username="centre"),
            "town2": make_user("dispatcher", fx.TOWN2, username="town2"),
            "admin": make_user("admin", username="root"),
            "zj": zj}


def summoned(client, people) -> tuple[int, datetime]:
    inc = client.post("/incidents", headers=people["centre"], json={
        "lon": 113.005, "lat": fx.MID_LAT, "category": "environment",
        "subcategory": "sewage"}).json()
    out = client.post(f"/incidents/{inc['id']}/whistle", headers=people["centre"],
                      json={"departments": ["zhujian"]}).json()
    version = out["properties"]["version"]
    acked = client.post(f"/incidents/{inc['id']}/transitions", headers=people["zj"],
                        json={"action": "acknowledge", "version": version})
    assert acked.status_code == 200, acked.text
    return inc["id"], datetime.fromisoformat(out["properties"]["summons"][0]["handle_due_at"])


def ask(client, people, incident_id, **body):
    return client.post(f"/incidents/{incident_id}/extensions", headers=people["zj"],
                       json={"amount": 2, "unit": "working_days", "reason": "parts on order",
                             **body})


def handle_notices(client, people, at: datetime) -> list[tuple[int, int]]:
    resp = client.post("/supervision/run", headers=people["admin"], json={"at": at.isoformat()})
    assert resp.status_code == 200, resp.text
    return [(n["incident_id"], n["level"]) for n in resp.json()["raised"]
            if n["kind"] == "handle"]


def test_approved_moves_the_due_time_refused_does_not(client, people):
    refused_id, due = summoned(client, people)
    approved_id, due2 = summoned(client, people)
    for incident_id, approve in ((refused_id, False), (approved_id, True)):
        req = ask(client, people, incident_id)
        assert req.status_code == 201 and req.json()["status"] == "requested", req.text
        decided = client.post(f"/extensions/{req.json()['id']}/decision",
                              headers=people["centre"], json={"approve": approve})
        assert decided.status_code == 200, decided.text
    got = client.get(f"/incidents/{approved_id}/summons", headers=people["zj"]).json()
    moved = datetime.fromisoformat(got["summons"][0]["handle_due_at"])
    assert moved - due2 in (timedelta(days=2), timedelta(days=4))  # 2 working days (a weekend)
    kept = client.get(f"/incidents/{refused_id}/summons", headers=people["zj"]).json()
    assert datetime.fromisoformat(kept["summons"][0]["handle_due_at"]) == due
    # past the original due time: the refused one is supervised, the approved one is not
    assert handle_notices(client, people, due2 + timedelta(minutes=1)) == [(refused_id, 1)]
    # at the moved due time the approved one lapses for the first time (the refused one,
    # still undone after its grace, is escalated)
    assert handle_notices(client, people, moved + timedelta(minutes=1)) == [
        (refused_id, 2), (approved_id, 1)]
    events = client.get(f"/incidents/{approved_id}", headers=people["centre"]).json()[
        "properties"]["events"]
    assert [(e["action"], e["department_code"]) for e in events][-2:] == [
        ("extension", "zhujian"), ("deadline", "zhujian")]
    assert "extension approved: handle due" in events[-1]["note"]


def test_bad_requests_and_outsiders(client, people):
    incident_id, _ = summoned(client, people)
    assert ask(client, people, incident_id, unit="weeks").status_code == 422
    assert ask(client, people, incident_id, reason="").status_code == 422
    assert ask(client, people, incident_id, amount=0).status_code == 422
    assert client.post(f"/incidents/{incident_id}/extensions", headers=people["centre"], json={
        "amount": 1, "reason": "x"}).status_code == 403
    req = ask(client, people, incident_id).json()
    url = f"/extensions/{req['id']}/decision"
    assert client.post(url, headers=people["zj"], json={"approve": True}).status_code == 403
    assert client.post(url, headers=people["town2"], json={"approve": True}).status_code == 404
    assert client.post(url, headers=people["centre"], json={"approve": True}).status_code == 200
    again = client.post(url, headers=people["centre"], json={"approve": False})
    assert again.status_code == 409 and "already approved" in again.json()["detail"]
    listed = client.get(f"/incidents/{incident_id}/extensions", headers=people["zj"]).json()
    assert [(e["status"], e["department_code"]) for e in listed["extensions"]] == [
        ("approved", "zhujian")]


def test_an_approved_pause_stops_the_clock_until_resumed(client, people):
    incident_id, due = summoned(client, people)
    req = client.post(f"/incidents/{incident_id}/extensions", headers=people["zj"],
                      json={"kind": "pause", "reason": "waiting for the owner to return"})
    assert req.status_code == 201 and req.json()["kind"] == "pause", req.text
    assert client.post(f"/extensions/{req.json()['id']}/resume",
                       headers=people["zj"]).status_code == 409      # not approved yet
    decided = client.post(f"/extensions/{req.json()['id']}/decision", headers=people["centre"],
                          json={"approve": True})
    assert decided.status_code == 200 and decided.json()["handle_due_at"] is None
    assert handle_notices(client, people, due + timedelta(days=30)) == []   # clock stopped
    resumed = client.post(f"/extensions/{req.json()['id']}/resume", headers=people["zj"])
    assert resumed.status_code == 200, resumed.text
    after = datetime.fromisoformat(resumed.json()["handle_due_at"])
    assert due <= after < due + timedelta(minutes=5)    # paused for the seconds it lasted
    assert client.post(f"/extensions/{req.json()['id']}/resume",
                       headers=people["zj"]).status_code == 409      # already running
    notes = [e["note"] for e in client.get(f"/incidents/{incident_id}", headers=people[
        "centre"]).json()["properties"]["events"] if e["action"] == "deadline"]
    assert notes[0].startswith("pause approved: handle due") and "stopped" in notes[0]
    assert notes[1].startswith("pause ended")
    bad = client.post(f"/incidents/{incident_id}/extensions", headers=people["zj"],
                      json={"kind": "extension", "reason": "x"})
    assert bad.status_code == 422 and bad.json()["field"] == "amount"
