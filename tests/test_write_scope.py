"""Issue 14 finding 1: every write stays inside the caller's area, over real HTTP
(uvicorn) against the real PostGIS. Patrol fixes outside the caller's area, or for a
worker who is not theirs, are refused with 403 and nothing is kept; plan uploads and
edits cannot reach into another community; and the audit of every other write endpoint
(cameras, incidents, imports, plans, crosswalk, coverage) is pinned by a test each.

District (tests/roles_fixtures.py): township TOWN1 holds communities COMM1 (grid A) and
COMM1B (grid B); township TOWN2 holds COMM2 (grid C); 0.01° squares west to east."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import text

from helpers import roles_district as district, served_api
from roles_fixtures import (COMM1, COMM1B, COMM2, COUNTY, TOWN1, X, Y0, Y1, A, C,
                            centre)
from security_helpers import token_headers

DAY = "2026-10-30"
# A 1x1 PNG (an attachment upload).
_PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                     "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


base = served_api("write-scope")


def _count(engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def _walk(letter: str, n: int = 40) -> list[dict]:
    lon, lat = centre(letter)
    return [{"time": f"{DAY}T09:{i // 2:02d}:{30 * (i % 2):02d}+08:00",
             "lon": lon + i * 1e-5, "lat": lat, "accuracy": 5.0} for i in range(n)]


def _compliance_share(base, headers, area: str) -> float:
    r = httpx.get(f"{base}/patrol/compliance", headers=headers, params={
        "area": area, "from": f"{DAY}T00:00:00+08:00", "to": f"{DAY}T23:59:59+08:00"})
    assert r.status_code == 200, r.text
    return r.json()["patrolled_share"]


def test_patrol_fixes_outside_the_callers_area_are_refused_and_nothing_is_kept(
        base, db, district):
    town = token_headers(db, "dispatcher", TOWN1, "town1")
    county = token_headers(db, "dispatcher", COUNTY, "county")
    token_headers(db, "grid_worker", COMM1, "li")
    # the attack: 40 fixes in another township's community (C, TOWN2)
    r = httpx.post(f"{base}/patrol/points", headers=town,
                   json={"worker": "li", "points": _walk("C")})
    assert r.status_code == 403, r.text
    assert "outside your area" in r.json()["detail"]
    # one fix outside among fixes inside: the whole upload is refused
    mixed = _walk("A", 10) + _walk("C", 1)
    assert httpx.post(f"{base}/patrol/points", headers=town,
                      json={"worker": "li", "points": mixed}).status_code == 403
    assert _count(db, "patrol_points") == 0 and _count(db, "patrol_tracks") == 0
    assert _compliance_share(base, county, COMM2) == 0.0
    # inside the caller's area the same upload is kept
    ok = httpx.post(f"{base}/patrol/points", headers=town,
                    json={"worker": "li", "points": _walk("A")})
    assert ok.status_code == 201 and ok.json() == {"worker": "li", "added": 40}


def test_a_grid_worker_cannot_upload_outside_their_community(base, db, district):
    phone = token_headers(db, "grid_worker", COMM1, "li")
    r = httpx.post(f"{base}/patrol/points", headers=phone, json={"points": _walk("B")})
    assert r.status_code == 403, r.text
    assert _count(db, "patrol_points") == 0
    assert httpx.post(f"{base}/patrol/points", headers=phone,
                      json={"points": _walk("A")}).status_code == 201


def test_the_named_worker_must_be_a_worker_in_the_callers_scope(base, db, district):
    town = token_headers(db, "dispatcher", TOWN1, "town1")
    token_headers(db, "grid_worker", COMM1, "li")
    token_headers(db, "grid_worker", COMM2, "wang")            # another township's worker
    phone = token_headers(db, "grid_worker", COMM1, "zhao")
    with db.begin() as conn:                                    # staff with a phone id
        conn.execute(text("INSERT INTO grid_staff (name, role, grid_code, worker_id) "
                          "VALUES ('Zhou', 'fulltime_worker', :g, 'zhou-phone')"), {"g": A})
    pts = _walk("A", 4)
    for worker in ("invented", "wang"):
        r = httpx.post(f"{base}/patrol/points", headers=town,
                       json={"worker": worker, "points": pts})
        assert r.status_code == 403 and worker in r.json()["detail"], r.text
    # a grid worker uploads their own fixes only, even for a colleague of the community
    assert httpx.post(f"{base}/patrol/points", headers=phone,
                      json={"worker": "li", "points": pts}).status_code == 403
    assert _count(db, "patrol_points") == 0
    for worker in ("li", "zhou-phone"):
        assert httpx.post(f"{base}/patrol/points", headers=town,
                          json={"worker": worker, "points": pts}).status_code == 201


def _square(x0: float, code: str | None = None, community: str | None = None) -> dict:
    props = {k: v for k, v in (("code", code), ("community_code", community)) if v}
    ring = [[x0, Y0], [x0 + 0.01, Y0], [x0 + 0.01, Y1], [x0, Y1], [x0, Y0]]
    return {"type": "Feature", "properties": props,
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


def _upload_plan(base, headers, features, area=COMM1):
    doc = json.dumps({"type": "FeatureCollection", "features": features})
    return httpx.post(f"{base}/plans/upload", headers=headers,
                      data={"name": "drawn", "area_code": area},
                      files={"file": ("plan.geojson", doc, "application/geo+json")})


def test_a_plan_upload_cannot_draw_grids_in_another_community(base, db, district):
    planner = token_headers(db, "planner", COMM1, "planner1")
    plans_before = _count(db, "plans")
    r = _upload_plan(base, planner, [_square(X["A"]), _square(X["C"])])
    assert r.status_code == 403 and "outside the plan's area" in r.json()["detail"], r.text
    r = _upload_plan(base, planner, [_square(X["A"], code=C, community=COMM2)])
    assert r.status_code == 403 and C in r.json()["detail"], r.text
    assert _count(db, "plans") == plans_before
    assert _upload_plan(base, planner, [_square(X["A"])]).status_code == 201


def test_a_plan_edit_cannot_redraw_a_grid_into_another_community(base, db, district):
    planner = token_headers(db, "planner", COMM1, "planner1")
    plan = district["A"]["plan"]
    ring = [[X["A"], Y0], [X["C"] + 0.01, Y0], [X["C"] + 0.01, Y1], [X["A"], Y1], [X["A"], Y0]]
    r = httpx.post(f"{base}/plans/{plan}/edits", headers=planner, json={
        "op": "redraw", "version": 1, "code": A,
        "geometry": {"type": "Polygon", "coordinates": [ring]}})
    assert r.status_code == 403, r.text
    got = httpx.get(f"{base}/plans/{plan}", headers=planner).json()
    assert got["version"] == 1


def _import_csv(base, headers, lon, lat):
    body = f"category,reported_at,lon,lat\ndispute,{DAY}T10:00:00+08:00,{lon},{lat}\n"
    return httpx.post(f"{base}/incidents/import", headers=headers,
                      files={"file": ("in.csv", body, "text/csv")})


def test_audit_every_other_write_endpoint_refuses_the_neighbouring_area(base, db, district):
    """The other writes already held when the issue was filed; these pin it."""
    ids = district
    analyst = token_headers(db, "analyst", COMM1, "analyst1")
    dispatcher = token_headers(db, "dispatcher", COMM1, "dispatch1")
    planner = token_headers(db, "planner", COMM1, "planner1")
    cx, cy = centre("C")
    before = {t: _count(db, t) for t in ("cameras", "incidents", "plans", "grids")}
    checks = {
        "POST /cameras": httpx.post(f"{base}/cameras", headers=analyst, json={
            "lon": cx, "lat": cy, "type": "dome"}),
        "PATCH /cameras (move out)": httpx.patch(
            f"{base}/cameras/{ids['A']['camera']}", headers=analyst,
            json={"version": 1, "lon": cx, "lat": cy}),
        "PATCH /cameras (other's)": httpx.patch(
            f"{base}/cameras/{ids['C']['camera']}", headers=analyst,
            json={"version": 1, "status": "offline"}),
        "DELETE /cameras (other's)": httpx.delete(
            f"{base}/cameras/{ids['C']['camera']}", headers=analyst, params={"version": 1}),
        "POST /incidents": httpx.post(f"{base}/incidents", headers=dispatcher, json={
            "lon": cx, "lat": cy, "category": "dispute"}),
        "POST /incidents/import": _import_csv(base, dispatcher, cx, cy),
        "POST /incidents/{id}/transitions": httpx.post(
            f"{base}/incidents/{ids['C']['incident']}/transitions", headers=dispatcher,
            json={"action": "accept", "version": 1}),
        "POST /plans": httpx.post(f"{base}/plans", headers=planner, json={
            "name": "x", "area_code": COMM2, "source": "current"}),
        "POST /plans/upload": _upload_plan(base, planner, [_square(X["C"])], area=COMM2),
        "POST /plans/rebalance": httpx.post(f"{base}/plans/rebalance", headers=planner,
                                            json={"area_code": COMM2}),
        "POST /plans/{id}/edits": httpx.post(
            f"{base}/plans/{ids['C']['plan']}/edits", headers=planner,
            json={"op": "merge", "version": 1, "code": C, "other": C}),
        "POST /plans/{id}/publish": httpx.post(
            f"{base}/plans/{ids['C']['plan']}/publish", headers=planner, json={"version": 1}),
        "POST /plans/crosswalk": httpx.post(
            f"{base}/plans/crosswalk", headers=analyst, data={"area_code": COMM2},
            files={"file": ("o.geojson", json.dumps({"type": "FeatureCollection",
                                                     "features": [_square(X["C"], "z")]}))}),
        "POST /coverage/run": httpx.post(f"{base}/coverage/run", headers=analyst,
                                         json={"area_code": COMM2}),
        "POST /coverage/sites": httpx.post(f"{base}/coverage/sites", headers=analyst,
                                           json={"area_code": COMM1B, "k": 1}),
        "POST /incidents/{id}/merge (other's into own)": httpx.post(
            f"{base}/incidents/{ids['C']['incident']}/merge", headers=dispatcher,
            json={"into": ids["A"]["incident"], "version": 1}),
        "POST /incidents/{id}/merge (own into other's)": httpx.post(
            f"{base}/incidents/{ids['A']['incident']}/merge", headers=dispatcher,
            json={"into": ids["C"]["incident"], "version": 1}),
        "POST /incidents/{id}/attachments": httpx.post(
            f"{base}/incidents/{ids['C']['incident']}/attachments", headers=dispatcher,
            files={"file": ("p.png", _PNG, "image/png")}),
        "POST /incidents/{id}/whistle": httpx.post(
            f"{base}/incidents/{ids['C']['incident']}/whistle", headers=dispatcher,
            json={"departments": ["housing"]}),
        "POST /departments": httpx.post(f"{base}/departments", headers=dispatcher,
                                        json={"code": "x", "name": "x"}),
        "POST /routing-rules": httpx.post(f"{base}/routing-rules", headers=dispatcher, json={
            "category": "dispute", "area_code": COMM2, "department_code": "x"}),
    }
    refused = {name: r.status_code for name, r in checks.items()}
    assert all(status in (403, 404) for status in refused.values()), refused
    assert {t: _count(db, t) for t in before} == before
