"""Issue 14 finding 7: smaller leaks, over real HTTP (uvicorn) against the real PostGIS.
A grid worker gets only their own patrol tracks (not a colleague's walk that runs mostly
outside their community); /tiles/versions of a scoped caller changes with their own area
only; tile metadata needs a token; import errors never show server temp paths."""

from __future__ import annotations

import time

import httpx
import mapbox_vector_tile
import pytest

from layers_data import tile_of
from helpers import roles_district as district, served_api
from roles_fixtures import COMM1, COMM2, COUNTY, X, Y0, Y1, centre
from security_helpers import token_headers

DAY = "2026-10-30"
PERIOD = {"from": f"{DAY}T00:00:00+08:00", "to": f"{DAY}T23:59:59+08:00"}


base = served_api("leaks")


def _walk(x0: float, x1: float, n: int = 40) -> list[dict]:
    y = (Y0 + Y1) / 2
    return [{"time": f"{DAY}T09:{i // 2:02d}:{30 * (i % 2):02d}+08:00",
             "lon": x0 + (x1 - x0) * i / (n - 1), "lat": y, "accuracy": 5.0} for i in range(n)]


def _upload(base, headers, worker, points):
    r = httpx.post(f"{base}/patrol/points", headers=headers,
                   json={"worker": worker, "points": points})
    assert r.status_code == 201, r.text


def test_a_grid_worker_gets_only_their_own_patrol_tracks(base, db, district):
    county = token_headers(db, "dispatcher", COUNTY, "county")
    li = token_headers(db, "grid_worker", COMM1, "li")
    token_headers(db, "grid_worker", COMM2, "wang")
    _upload(base, county, "li", _walk(X["A"] + 0.001, X["A"] + 0.008))
    # wang's walk starts in li's community and runs on, mostly through the others
    _upload(base, county, "wang", _walk(X["A"] + 0.008, X["C"] + 0.009))
    items = httpx.get(f"{base}/collections/patrol_tracks/items", headers=li).json()
    assert {f["properties"]["worker"] for f in items["features"]} == {"li"}
    tracks = httpx.get(f"{base}/patrol/tracks", headers=li, params=PERIOD).json()
    assert {f["properties"]["worker"] for f in tracks["features"]} == {"li"}
    z, x, y = tile_of(*centre("A"), 14)
    tile = httpx.get(f"{base}/collections/patrol_tracks/tiles/WebMercatorQuad/{z}/{x}/{y}",
                     headers=li)
    assert tile.status_code == 200
    layer = mapbox_vector_tile.decode(tile.content).get("patrol_tracks", {"features": []})
    assert {f["properties"]["worker"] for f in layer["features"]} == {"li"}
    # a dispatcher of the same community still sees every track crossing it
    local = token_headers(db, "dispatcher", COMM1, "local")
    items = httpx.get(f"{base}/collections/patrol_tracks/items", headers=local).json()
    assert {f["properties"]["worker"] for f in items["features"]} == {"li", "wang"}


def _versions(base, headers) -> dict:
    r = httpx.get(f"{base}/tiles/versions", headers=headers,
                  params={"layers": "incidents,cameras"})
    assert r.status_code == 200, r.text
    return r.json()


def test_tile_versions_of_a_scoped_caller_change_with_their_area_only(base, db, district):
    county = token_headers(db, "dispatcher", COUNTY, "county")
    local = token_headers(db, "dispatcher", COMM1, "local")
    admin = token_headers(db, "admin", None, "root")
    before, admin_before = _versions(base, local), _versions(base, admin)
    cx, cy = centre("C")                      # an incident in another township
    assert httpx.post(f"{base}/incidents", headers=county,
                      json={"lon": cx, "lat": cy, "category": "dispute"}).status_code == 201
    time.sleep(0.3)
    assert _versions(base, local) == before, "county-wide activity leaked"
    assert _versions(base, admin)["incidents"] != admin_before["incidents"]
    ax, ay = centre("A")                      # one in the caller's own community
    assert httpx.post(f"{base}/incidents", headers=county,
                      json={"lon": ax, "lat": ay, "category": "dispute"}).status_code == 201
    time.sleep(0.3)
    after = _versions(base, local)
    assert after["incidents"] != before["incidents"] and after["cameras"] == before["cameras"]


def test_tile_metadata_needs_a_token(base, db, district):
    headers = token_headers(db, "viewer", COMM1, "viewer1")
    for path in ("/collections/grids/tiles", "/collections/grids/tiles/WebMercatorQuad/"
                 "tilejson.json", "/tiles/grids,incidents/tilejson.json"):
        assert httpx.get(f"{base}{path}").status_code == 401, path
        assert httpx.get(f"{base}{path}", headers=headers).status_code == 200, path


def test_import_errors_never_show_server_temp_paths(base, db, district):
    dispatcher = token_headers(db, "dispatcher", COMM1, "dispatch1")
    planner = token_headers(db, "planner", COMM1, "planner1")
    answers = [
        httpx.post(f"{base}/incidents/import", headers=dispatcher,
                   files={"file": ("broken.gpkg", b"not a geopackage at all")}),
        httpx.post(f"{base}/incidents/import", headers=dispatcher,
                   files={"file": ("rows.csv", "category,lon,lat\ndispute,abc,28\n")}),
        httpx.post(f"{base}/plans/upload", headers=planner,
                   data={"name": "x", "area_code": COMM1},
                   files={"file": ("broken.gpkg", b"not a geopackage at all")}),
        httpx.post(f"{base}/plans/crosswalk", headers=planner,
                   data={"area_code": COMM1}, files={"file": ("bad.geojson", b"{nope")}),
    ]
    for r in answers:
        assert 400 <= r.status_code < 500, r.text
        assert "/tmp" not in r.text and "gg-import" not in r.text, r.text
    assert "broken.gpkg" in answers[0].json()["detail"]  # the user's own file name stays
