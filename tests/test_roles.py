"""Who may see and change what: for every role (admin, planner, dispatcher, analyst,
grid_worker, viewer) and every scope (county, township, community), every router is
asked to read and change things inside and outside the scope.

The rule checked: a role that may not act gets 403 whatever the object (so 403 says
nothing about existence); an object outside the caller's scope is 404, exactly like one
that does not exist; lists, downloads and vector tiles carry only what is inside the
scope (a tile over the other township holds none of its features).
"""

from __future__ import annotations

import io

import geopandas as gpd
import mapbox_vector_tile
import pytest

from layers_data import tiles_covering
from roles_fixtures import (COMMUNITY, COUNTY, DISTRICT, GRID_CODE, SCOPES, VISIBLE, X,
                            centre, insert_district)

ROLES = ("admin", "planner", "dispatcher", "analyst", "grid_worker", "viewer")
MAY = {"report": {"dispatcher", "grid_worker"}, "transition": {"dispatcher"},
       "camera": {"analyst"}, "coverage": {"analyst"}, "plan": {"planner"}, "audit": set()}
LETTERS = tuple(X)
MISSING = 987654321


def may(role: str, action: str) -> bool:
    return role == "admin" or role in MAY[action]


@pytest.fixture
def world(db):
    return insert_district(db)


def _ok_or_hidden(visible: bool) -> int:
    return 200 if visible else 404


def _letters_of_codes(codes) -> set[str]:
    codes = set(codes)
    return {k for k, v in GRID_CODE.items() if v in codes}


def _tile_props(client, headers, path: str, layer: str, z: int) -> list[dict]:
    props = []
    for _, x, y in tiles_covering(DISTRICT, z):
        r = client.get(f"{path}/{z}/{x}/{y}", headers=headers)
        assert r.status_code == 200, r.text
        decoded = mapbox_vector_tile.decode(r.content) if r.content else {}
        props += [f["properties"] for f in decoded.get(layer, {}).get("features", [])]
    return props


def _download(client, headers, layer: str) -> gpd.GeoDataFrame:
    r = client.get(f"/collections/{layer}/items?f=gpkg", headers=headers)
    assert r.status_code == 200, r.text
    return gpd.read_file(io.BytesIO(r.content))


def read_checks(client, headers, ids) -> dict:
    """What the caller sees: statuses of single objects and the contents of lists,
    downloads and tiles, as grid letters."""
    got = {}
    for letter in LETTERS:
        got[f"GET incident {letter}"] = client.get(f"/incidents/{ids[letter]['incident']}",
                                                   headers=headers).status_code
        got[f"GET camera {letter}"] = client.get(f"/cameras/{ids[letter]['camera']}",
                                                 headers=headers).status_code
        got[f"GET plan {letter}"] = client.get(f"/plans/{ids[letter]['plan']}",
                                               headers=headers).status_code
        got[f"GET plan grids {letter}"] = client.get(f"/plans/{ids[letter]['plan']}/grids",
                                                     headers=headers).status_code
        got[f"GET feature incident {letter}"] = client.get(
            f"/collections/incidents/items/{ids[letter]['incident']}",
            headers=headers).status_code
        lon, lat = centre(letter)
        got[f"GET locate {letter}"] = client.get(f"/locate?lon={lon}&lat={lat}",
                                                 headers=headers).status_code
    incidents = client.get("/incidents", headers=headers).json()["features"]
    got["incidents list"] = {f["properties"]["external_id"][-1] for f in incidents}
    cameras = client.get("/cameras", headers=headers).json()["features"]
    got["cameras list"] = {f["properties"]["code"][-1] for f in cameras}
    cov = client.get("/coverage/grids", headers=headers).json()["grids"]
    got["coverage grids"] = _letters_of_codes(g["grid_code"] for g in cov)
    places = client.get("/coverage/key-places", headers=headers).json()["features"]
    got["coverage key places"] = {f["properties"]["name"][-1] for f in places}
    items = client.get("/collections/grids/items", headers=headers).json()["features"]
    got["features grids"] = _letters_of_codes(f["properties"]["code"] for f in items)
    for layer, field in (("roads", "name"), ("key_places", "name"), ("cameras", "code")):
        items = client.get(f"/collections/{layer}/items", headers=headers).json()["features"]
        got[f"features {layer}"] = {f["properties"][field][-1] for f in items}
    got["download grids"] = _letters_of_codes(_download(client, headers, "grids")["code"])
    got["download incidents"] = _letters_of_codes(
        _download(client, headers, "incidents")["grid_code"])
    got["download plan_grids"] = _letters_of_codes(
        _download(client, headers, "plan_grids")["code"])
    got["tile grids"] = _letters_of_codes(p["code"] for p in _tile_props(
        client, headers, "/collections/grids/tiles/WebMercatorQuad", "grids", 13))
    got["tile incidents"] = _letters_of_codes(p["grid_code"] for p in _tile_props(
        client, headers, "/collections/incidents/tiles/WebMercatorQuad", "incidents", 14))
    got["tile cameras (multi-layer)"] = {p["code"][-1] for p in _tile_props(
        client, headers, "/tiles/grids,cameras", "cameras", 14)}
    return got


def read_expected(scope: str) -> dict:
    seen = VISIBLE[scope]
    want = {}
    for letter in LETTERS:
        for what in ("incident", "camera", "plan", "plan grids", "feature incident", "locate"):
            want[f"GET {what} {letter}"] = _ok_or_hidden(letter in seen)
    for name in ("incidents list", "cameras list", "coverage grids", "coverage key places",
                 "features grids", "features roads", "features key_places", "features cameras",
                 "download grids", "download incidents", "download plan_grids", "tile grids",
                 "tile incidents", "tile cameras (multi-layer)"):
        want[name] = set(seen)
    return want


def write_checks(client, headers, ids) -> dict:
    got = {}
    for letter in LETTERS:
        lon, lat = centre(letter)
        got[f"report in {letter}"] = client.post("/incidents", headers=headers, json={
            "lon": lon, "lat": lat, "category": "dispute"}).status_code
        got[f"transition {letter}"] = client.post(
            f"/incidents/{ids[letter]['incident']}/transitions", headers=headers,
            json={"action": "accept", "version": 1}).status_code
        got[f"move camera {letter}"] = client.patch(
            f"/cameras/{ids[letter]['camera']}", headers=headers,
            json={"version": 1, "status": "offline"}).status_code
        got[f"new plan in {letter}"] = client.post("/plans", headers=headers, json={
            "name": "p", "area_code": COMMUNITY[letter], "source": "current"}).status_code
    for letter in ("A", "C"):
        got[f"coverage run {letter}"] = client.post("/coverage/run", headers=headers, json={
            "area_code": COMMUNITY[letter]}).status_code
    got["transition missing"] = client.post(f"/incidents/{MISSING}/transitions",
                                            headers=headers,
                                            json={"action": "accept", "version": 1}).status_code
    got["move camera missing"] = client.patch(f"/cameras/{MISSING}", headers=headers,
                                              json={"version": 1}).status_code
    got["audit"] = client.get("/audit", headers=headers).status_code
    for letter in LETTERS:  # last: publishing replaces the grids
        got[f"publish plan {letter}"] = client.post(f"/plans/{ids[letter]['plan']}/publish",
                                                    headers=headers,
                                                    json={"version": 1}).status_code
    return got


def write_expected(role: str, scope: str) -> dict:
    seen, want = VISIBLE[scope], {}
    for letter in LETTERS:
        inside = letter in seen
        # new things outside the area: 403 (creating there is refused); existing things
        # outside the area: 404 (they do not exist for the caller)
        want[f"report in {letter}"] = 201 if may(role, "report") and inside else 403
        want[f"transition {letter}"] = _ok_or_hidden(inside) if may(role, "transition") else 403
        want[f"move camera {letter}"] = _ok_or_hidden(inside) if may(role, "camera") else 403
        want[f"new plan in {letter}"] = 201 if may(role, "plan") and inside else 403
    for letter in ("A", "C"):
        want[f"coverage run {letter}"] = _ok_or_hidden(letter in seen) \
            if may(role, "coverage") else 403
    want["transition missing"] = 404 if may(role, "transition") else 403
    want["move camera missing"] = 404 if may(role, "camera") else 403
    want["audit"] = 200 if role == "admin" else 403
    for letter in LETTERS:
        want[f"publish plan {letter}"] = _ok_or_hidden(letter in seen) \
            if may(role, "plan") else 403
    return want


@pytest.mark.parametrize("scope", list(SCOPES))
@pytest.mark.parametrize("role", ROLES)
def test_role_and_scope_matrix(client, world, make_user, role, scope):
    headers = make_user(role, SCOPES[scope], username=f"{role}-{scope}")
    got = read_checks(client, headers, world)
    assert got == read_expected(scope)
    got = write_checks(client, headers, world)
    assert got == write_expected(role, scope)


def test_refused_changes_leave_nothing_behind(client, world, make_user, db):
    """A refused write (403/404) writes nothing: counts and versions are unchanged."""
    from sqlalchemy import text

    def snapshot():
        with db.connect() as conn:
            return conn.execute(text(
                "SELECT (SELECT count(*) FROM incidents), (SELECT sum(version) FROM incidents),"
                " (SELECT sum(version) FROM cameras), (SELECT count(*) FROM plans),"
                " (SELECT count(*) FROM grids), (SELECT count(*) FROM audit_log)")).one()

    before = snapshot()
    viewer = make_user("viewer", COUNTY, username="v")
    outsider = make_user("dispatcher", SCOPES["community"], username="d")
    write_checks(client, viewer, world)
    lon, lat = centre("C")
    assert client.post("/incidents", headers=outsider, json={
        "lon": lon, "lat": lat, "category": "dispute"}).status_code == 403
    assert snapshot() == before


def test_audit_log_records_changes_and_filters_them(client, world, make_user):
    admin = make_user("admin", None, username="root")
    dispatcher = make_user("dispatcher", COUNTY, username="disp")
    analyst = make_user("analyst", COUNTY, username="ana")
    lon, lat = centre("B")
    new = client.post("/incidents", headers=dispatcher,
                      json={"lon": lon, "lat": lat, "category": "dispute"}).json()
    assert client.post(f"/incidents/{new['id']}/transitions", headers=dispatcher,
                       json={"action": "accept", "version": 1}).status_code == 200
    assert client.patch(f"/cameras/{world['A']['camera']}", headers=analyst,
                        json={"version": 1, "azimuth": 45}).status_code == 200
    steps = client.get("/audit", headers=admin, params={
        "entity": "incident", "entity_id": str(new["id"])}).json()
    assert [(e["action"], e["actor"]) for e in steps["entries"]] == [("accept", "disp"),
                                                                     ("report", "disp")]
    accept = steps["entries"][0]
    assert accept["before"]["status"] == "reported" and accept["after"]["status"] == "accepted"
    assert accept["after"]["version"] == accept["before"]["version"] + 1
    cam = client.get("/audit", headers=admin, params={"actor": "ana"}).json()["entries"]
    assert [(e["entity"], e["action"]) for e in cam] == [("camera", "update")]
    assert cam[0]["before"]["azimuth"] is None and cam[0]["after"]["azimuth"] == 45.0
    page = client.get("/audit", headers=admin, params={"limit": 1}).json()
    assert page["numberReturned"] == 1 and page["next_offset"] == 1
    assert page["numberMatched"] >= 6  # 3 plans (fixture) + report + accept + camera
    future = client.get("/audit", headers=admin, params={"since": "2999-01-01T00:00:00Z"})
    assert future.json()["numberMatched"] == 0
    bad = client.get("/audit", headers=admin, params={"since": "2024-02-01T00:00:00Z",
                                                      "until": "2024-01-01T00:00:00Z"})
    assert bad.status_code == 422 and bad.json()["field"] == "since"
