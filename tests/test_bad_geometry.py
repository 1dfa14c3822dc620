"""Issue 14 finding 4: invalid geometry never becomes a 500, over real HTTP (uvicorn)
against the real PostGIS. A bow-tie polygon sent to POST /plans/crosswalk is repaired
with make_valid and the answer says so, and the keep-alive connection it came on serves
the next request (http.client on one connection); a polygon that cannot be repaired is
refused with 422 naming the field and the feature; NaN and Infinity coordinates are
refused everywhere (drawn split lines, drawn polygons, uploads, points); the CLI's
crosswalk repairs the same bow-tie instead of crashing."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import text

from helpers import roles_district as district, served_api
from roles_fixtures import COMM1, X, Y0, Y1, A, centre
from security_helpers import token_headers

ROOT = Path(__file__).parents[1]
XA, XM = X["A"], X["A"] + 0.005
BOWTIE = [[XA, Y0], [XA + 0.01, Y1], [XA + 0.01, Y0], [XA, Y1], [XA, Y0]]  # crosses itself


def _collection(ring, code="old-1") -> str:
    return json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"code": code},
        "geometry": {"type": "Polygon", "coordinates": [ring]}}]})


base = served_api("bad-geometry")


def _multipart(fields: dict[str, str], filename: str, content: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                 f'filename="{filename}"\r\nContent-Type: application/geo+json\r\n\r\n'
                 f"{content}\r\n--{boundary}--\r\n")
    return "".join(parts).encode(), f"multipart/form-data; boundary={boundary}"


def test_a_bowtie_crosswalk_is_repaired_and_the_connection_survives(base, db, district):
    headers = token_headers(db, "analyst", COMM1, "analyst1")
    body, ctype = _multipart({"area_code": COMM1}, "other.geojson", _collection(BOWTIE))
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.request("POST", "/plans/crosswalk", body=body,
                 headers={**headers, "Content-Type": ctype})
    first = conn.getresponse()
    answer = json.loads(first.read())
    assert first.status == 200, answer
    assert answer["repaired"][0]["row"] == 1 and "old-1" in answer["repaired"][0]["feature"]
    assert "Self-intersection" in answer["repaired"][0]["reason"]
    # both triangles of the bow-tie fall in grid A: all of it maps there
    assert {r["new_code"] for r in answer["rows"]} == {A}
    conn.request("GET", "/auth/me", headers=headers)  # the same keep-alive connection
    second = conn.getresponse()
    assert second.status == 200 and json.loads(second.read())["username"] == "analyst1"
    conn.close()


def test_a_bowtie_plan_upload_is_repaired_and_said_so(base, db, district):
    planner = token_headers(db, "planner", COMM1, "planner1")
    r = httpx.post(f"{base}/plans/upload", headers=planner,
                   data={"name": "drawn", "area_code": COMM1},
                   files={"file": ("p.geojson", _collection(BOWTIE, A))})
    assert r.status_code == 201, r.text
    assert r.json()["repaired"][0]["action"] == "repaired with make_valid"
    with db.connect() as conn:
        valid = conn.execute(text("SELECT bool_and(ST_IsValid(geom)) FROM plan_grids "
                                  "WHERE plan_id = :p"), {"p": r.json()["id"]}).scalar()
    assert valid is True


def test_a_polygon_that_cannot_be_repaired_is_refused_naming_the_feature(base, db, district):
    analyst = token_headers(db, "analyst", COMM1, "analyst1")
    flat = [[XA, Y0], [XM, Y0], [XA + 0.01, Y0], [XM, Y0], [XA, Y0]]  # no area at all
    doc = json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "fine"}, "geometry": {
            "type": "Polygon", "coordinates": [[[XA, Y0], [XM, Y0], [XM, Y1], [XA, Y0]]]}},
        {"type": "Feature", "properties": {"code": "flat-2"},
         "geometry": {"type": "Polygon", "coordinates": [flat]}}]})
    r = httpx.post(f"{base}/plans/crosswalk", headers=analyst, data={"area_code": COMM1},
                   files={"file": ("o.geojson", doc)})
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["field"] == "geometry" and problem["row"] == 2
    assert "flat-2" in problem["detail"]


def _raw_json(base, path, headers, doc: str) -> httpx.Response:
    return httpx.post(f"{base}{path}", headers={**headers, "Content-Type": "application/json"},
                      content=doc)


def test_non_finite_coordinates_are_refused_everywhere(base, db, district):
    planner = token_headers(db, "planner", COMM1, "planner1")
    dispatcher = token_headers(db, "dispatcher", COMM1, "dispatch1")
    analyst = token_headers(db, "analyst", COMM1, "analyst1")
    plan = district["A"]["plan"]
    cx, cy = centre("A")
    line = f'[[{XM}, {Y0 - 0.001}], [NaN, 28.005], [{XM}, {Y1 + 0.001}]]'
    cases = {
        "split line": _raw_json(base, f"/plans/{plan}/edits", planner,
                                '{"op": "split", "version": 1, "code": "%s", "geometry": '
                                '{"type": "LineString", "coordinates": %s}}' % (A, line)),
        "drawn polygon": _raw_json(base, f"/plans/{plan}/edits", planner,
                                   '{"op": "redraw", "version": 1, "code": "%s", "geometry": '
                                   '{"type": "Polygon", "coordinates": [[[%s, %s], '
                                   '[Infinity, %s], [%s, %s], [%s, %s]]]}}'
                                   % (A, XA, Y0, Y0, XM, Y1, XA, Y0)),
        "patrol fix": _raw_json(base, "/patrol/points", dispatcher,
                                '{"points": [{"time": "2026-10-30T09:00:00+08:00", '
                                '"lon": NaN, "lat": %s}]}' % cy),
        "camera": _raw_json(base, "/cameras", analyst,
                            '{"lon": %s, "lat": Infinity, "type": "dome"}' % cx),
        "incident": _raw_json(base, "/incidents", dispatcher,
                              '{"lon": -Infinity, "lat": %s, "category": "dispute"}' % cy),
        "locate": httpx.get(f"{base}/locate", headers=dispatcher,
                            params={"lon": "nan", "lat": cy}),
        "plan upload": httpx.post(
            f"{base}/plans/upload", headers=planner, data={"name": "n", "area_code": COMM1},
            files={"file": ("p.geojson", _collection([[XA, Y0], [XM, Y0], [XM, "NaN"],
                                                      [XA, Y0]]).replace('"NaN"', "NaN"))}),
        "incident import": httpx.post(
            f"{base}/incidents/import", headers=dispatcher,
            files={"file": ("i.csv", "category,reported_at,lon,lat\n"
                                     f"dispute,2026-10-30T10:00:00+08:00,inf,{cy}\n")}),
    }
    statuses = {name: r.status_code for name, r in cases.items()}
    assert all(s == 422 for s in statuses.values()), {n: cases[n].text for n in cases
                                                       if statuses[n] != 422}
    for name in ("split line", "drawn polygon"):
        assert cases[name].json()["field"] == "geometry"
        assert "finite" in cases[name].json()["detail"]
    with db.connect() as conn:
        counts = conn.execute(text("SELECT (SELECT count(*) FROM patrol_points), "
                                   "(SELECT count(*) FROM cameras), "
                                   "(SELECT count(*) FROM incidents), "
                                   "(SELECT version FROM plans WHERE id = :p)"),
                              {"p": plan}).one()
    assert tuple(counts) == (0, 3, 3, 1)


def test_a_drawn_bowtie_is_refused_with_422(base, db, district):
    planner = token_headers(db, "planner", COMM1, "planner1")
    r = httpx.post(f"{base}/plans/{district['A']['plan']}/edits", headers=planner, json={
        "op": "redraw", "version": 1, "code": A,
        "geometry": {"type": "Polygon", "coordinates": [BOWTIE]}})
    assert r.status_code == 422 and r.json()["field"] == "geometry", r.text
    assert "Self-intersection" in r.json()["detail"]


def test_the_cli_crosswalk_repairs_a_bowtie_instead_of_crashing(tmp_path):
    old, new, out = tmp_path / "old.geojson", tmp_path / "new.geojson", tmp_path / "cw.csv"
    old.write_text(_collection(BOWTIE))
    new.write_text(_collection([[XA, Y0], [XA + 0.01, Y0], [XA + 0.01, Y1], [XA, Y1],
                                [XA, Y0]], A))
    run = subprocess.run([sys.executable, "-m", "gis.cli", "crosswalk", "--old", str(old),
                          "--new", str(new), "--out", str(out), "--json"],
                         capture_output=True, text=True, cwd=ROOT, env=os.environ, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "Self-intersection" in run.stderr and "repaired with make_valid" in run.stderr
    assert json.loads(run.stdout)["rows"] == 1 and A in out.read_text()
