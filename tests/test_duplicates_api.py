"""Duplicates over HTTP (issue 16): `GET /incidents/{id}/duplicates` finds open incidents of
the same category within 50 m and 72 h; `POST /incidents/{id}/merge` closes one as merged
into the other, moves its reporter and photos, and the pair counts once in the statistics;
merging across scopes, into itself or with a stale version is refused, nothing written."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import grid_fixtures as fx
import pytest
from photo_fixtures import photo

LON, LAT = 113.005, fx.MID_LAT


@pytest.fixture
def dispatcher(make_user, grid_area):
    return make_user("dispatcher", fx.COUNTY, username="centre")


def report(client, headers, metres_east=0.0, category="environment", hours_ago=0.0,
           reporter="resident"):
    lon, lat = fx.offset(LON, LAT, 90.0, metres_east) if metres_east else (LON, LAT)
    at = datetime.now(timezone.utc) - timedelta(hours=hours_ago)
    sub = {"environment": "garbage", "dispute": "neighbour"}[category]
    resp = client.post("/incidents", headers=headers, json={
        "lon": lon, "lat": lat, "category": category, "subcategory": sub,
        "reporter": reporter, "reported_at": at.isoformat()})
    assert resp.status_code == 201, resp.text
    return resp.json()


def dup_ids(client, headers, inc, **params):
    resp = client.get(f"/incidents/{inc['id']}/duplicates", headers=headers, params=params)
    assert resp.status_code == 200, resp.text
    return [d["id"] for d in resp.json()["duplicates"]]


def test_likely_duplicates_on_report(client, dispatcher):
    first = report(client, dispatcher)
    near = report(client, dispatcher, metres_east=30, reporter="w-12")
    nearer_old = report(client, dispatcher, metres_east=10, hours_ago=71)
    too_far = report(client, dispatcher, metres_east=70)
    report(client, dispatcher, metres_east=5, category="dispute")    # other category
    too_old = report(client, dispatcher, metres_east=5, hours_ago=80)
    assert dup_ids(client, dispatcher, first) == [nearer_old["id"], near["id"]]
    found = client.get(f"/incidents/{first['id']}/duplicates", headers=dispatcher).json()
    assert found["duplicates"][0]["distance_m"] == pytest.approx(10, abs=0.5)
    assert found["duplicates"][0]["hours_apart"] == pytest.approx(71, abs=0.1)
    # wider radius and window: nearest first, the other category never
    assert dup_ids(client, dispatcher, first, distance_m=80, hours=90) == [
        too_old["id"], nearer_old["id"], near["id"], too_far["id"]]
    assert client.get(f"/incidents/{first['id']}/duplicates", headers=dispatcher,
                      params={"distance_m": 0}).status_code == 422


def test_merge_closes_the_duplicate_moves_reporter_and_photos_and_counts_once(client,
                                                                              dispatcher):
    survivor = report(client, dispatcher, reporter="resident")
    dup = report(client, dispatcher, metres_east=20, reporter="w-12")
    photo_id = client.post(f"/incidents/{dup['id']}/attachments", headers=dispatcher,
                           files={"file": ("p.jpg", photo(), "image/jpeg")}).json()["id"]
    before = client.get("/incidents/stats", headers=dispatcher).json()
    assert sum(g["incidents"] for g in before["grids"]) == 2
    resp = client.post(f"/incidents/{dup['id']}/merge", headers=dispatcher,
                       json={"into": survivor["id"], "version": dup["properties"]["version"]})
    assert resp.status_code == 200, resp.text
    kept = resp.json()["properties"]
    assert kept["id"] == survivor["id"] and kept["reporter"] == "resident; w-12"
    assert kept["events"][-1]["action"] == "merge"
    gone = client.get(f"/incidents/{dup['id']}", headers=dispatcher).json()["properties"]
    assert gone["status"] == "closed" and gone["events"][-1]["note"] == (
        f"merged into #{survivor['id']}")
    photos = client.get(f"/incidents/{survivor['id']}/attachments", headers=dispatcher).json()
    assert [a["id"] for a in photos["attachments"]] == [photo_id]
    after = client.get("/incidents/stats", headers=dispatcher).json()
    assert sum(g["incidents"] for g in after["grids"]) == 1
    assert dup_ids(client, dispatcher, survivor) == []     # a merged one is no candidate


def test_bad_merges_write_nothing(client, dispatcher, make_user):
    a = report(client, dispatcher)
    b = report(client, dispatcher, metres_east=10)
    far = report(client, dispatcher, metres_east=2000)       # in the other township
    town1 = make_user("dispatcher", fx.TOWN1, username="town1")
    viewer = make_user("viewer", fx.COUNTY, username="viewer")
    url = f"/incidents/{a['id']}/merge"
    version = a["properties"]["version"]
    for headers, body, status in (
            (town1, {"into": far["id"], "version": version}, 404),     # across scopes
            (dispatcher, {"into": a["id"], "version": version}, 422),  # into itself
            (dispatcher, {"into": b["id"], "version": version + 5}, 409),
            (dispatcher, {"into": 99999, "version": version}, 404),
            (viewer, {"into": b["id"], "version": version}, 403),
            (dispatcher, {"into": b["id"]}, 422)):
        resp = client.post(url, headers=headers, json=body)
        assert resp.status_code == status, (body, resp.text)
    props = client.get(f"/incidents/{a['id']}", headers=dispatcher).json()["properties"]
    assert props["status"] == "reported" and props["version"] == version
    # a closed incident cannot absorb another
    ok = client.post(f"/incidents/{b['id']}/merge", headers=dispatcher,
                     json={"into": a["id"], "version": b["properties"]["version"]})
    assert ok.status_code == 200
    again = client.post(f"/incidents/{far['id']}/merge", headers=dispatcher,
                        json={"into": b["id"], "version": far["properties"]["version"]})
    assert again.status_code == 409 and "already merged" in again.json()["detail"]
