"""Cameras and coverage through HTTP against the real PostGIS: CRUD with optimistic
locking (409 with the current version), scope (another township's cameras do not exist
for you), roles, coverage runs stored per grid with covered + blind = target, a moved
camera recomputing only the affected grids, offline cameras excluded, blind spots
ranked by incidents, key places, and suggested sites whose gain is real."""

from __future__ import annotations

import pytest

from coverage_fixtures import A, B, C, insert_district

COUNTY, TOWN1, TOWN2 = "430102000000", "430102001000", "430102002000"


@pytest.fixture
def district(db):
    return insert_district(db)


@pytest.fixture
def analyst(make_user):
    return make_user("analyst", COUNTY, username="county-analyst")


@pytest.fixture
def analyst2(make_user):
    return make_user("analyst", TOWN2, username="town2-analyst")


def _grids(client, headers, **params) -> dict[str, dict]:
    r = client.get("/coverage/grids", headers=headers, params=params)
    assert r.status_code == 200, r.text
    return {g["grid_code"]: g for g in r.json()["grids"]}


def _run(client, headers, **body) -> dict:
    r = client.post("/coverage/run", headers=headers, json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_create_read_update_delete_with_versions(client, district, analyst):
    r = client.post("/cameras", headers=analyst, json={
        "lon": 113.015, "lat": 28.005, "type": "xueliang_a", "code": "new-1", "azimuth": 90})
    assert r.status_code == 201, r.text
    cam = r.json()
    cid = cam["id"]
    assert cam["properties"]["version"] == 1 and cam["geometry"]["coordinates"] == [113.015,
                                                                                    28.005]
    assert cam["stale_grids"] == [B]  # its reach (80 m + margin) stays inside B
    listed = client.get("/cameras", headers=analyst).json()
    assert "new-1" in [f["properties"]["code"] for f in listed["features"]]
    moved = client.patch(f"/cameras/{cid}", headers=analyst,
                         json={"version": 1, "lon": 113.0151, "lat": 28.0051, "azimuth": -270})
    assert moved.status_code == 200, moved.text
    props = moved.json()["properties"]
    assert props["version"] == 2 and props["azimuth"] == 90.0
    # a second writer still holding version 1 loses, and learns the current version
    lost = client.patch(f"/cameras/{cid}", headers=analyst, json={"version": 1, "fov": 30})
    assert lost.status_code == 409 and lost.json()["current_version"] == 2
    assert client.get(f"/cameras/{cid}", headers=analyst).json()["properties"]["fov"] is None
    gone = client.delete(f"/cameras/{cid}", headers=analyst, params={"version": 1})
    assert gone.status_code == 409 and gone.json()["current_version"] == 2
    assert client.delete(f"/cameras/{cid}", headers=analyst,
                         params={"version": 2}).status_code == 204
    assert client.get(f"/cameras/{cid}", headers=analyst).status_code == 404


def test_bad_camera_input_is_refused_with_the_field(client, district, analyst):
    for body, field in (({"lon": 113.015, "lat": 28.005, "type": "laser"}, "type"),
                        ({"lon": 113.015, "lat": 28.005, "type": "dome", "fov": 0}, "fov"),
                        ({"lon": 113.015, "lat": 95, "type": "dome"}, "lat"),
                        ({"lon": 113.015, "lat": 28.005, "type": "dome", "colour": 1},
                         "colour")):
        r = client.post("/cameras", headers=analyst, json=body)
        assert r.status_code == 422 and r.json()["field"] == field, (body, r.text)
    dup = client.post("/cameras", headers=analyst,
                      json={"lon": 113.015, "lat": 28.005, "type": "dome", "code": "edge"})
    assert dup.status_code == 409


def test_scope_hides_other_townships_cameras(client, district, analyst2, make_user):
    in_a = district["west-dome"]
    assert client.get(f"/cameras/{in_a}", headers=analyst2).status_code == 404
    assert client.patch(f"/cameras/{in_a}", headers=analyst2,
                        json={"version": 1, "azimuth": 10}).status_code == 404
    assert client.delete(f"/cameras/{in_a}", headers=analyst2,
                         params={"version": 1}).status_code == 404
    codes = [f["properties"]["code"] for f in
             client.get("/cameras", headers=analyst2).json()["features"]]
    assert codes == ["east"]
    # placing or moving a camera out of your area is refused
    r = client.post("/cameras", headers=analyst2,
                    json={"lon": 113.005, "lat": 28.005, "type": "dome"})
    assert r.status_code == 403
    east = district["east"]
    r = client.patch(f"/cameras/{east}", headers=analyst2,
                     json={"version": 1, "lon": 113.005, "lat": 28.005})
    assert r.status_code == 403
    viewer = make_user("viewer", COUNTY)
    assert client.get("/cameras", headers=viewer).status_code == 200
    assert client.patch(f"/cameras/{east}", headers=viewer,
                        json={"version": 1, "azimuth": 10}).status_code == 403


def test_run_stores_grids_with_the_invariant_and_scoped_reads(client, district, analyst,
                                                              analyst2, make_user):
    assert client.post("/coverage/run", headers=make_user("viewer", COUNTY),
                       json={}).status_code == 403
    out = _run(client, analyst, area_code=COUNTY, mode="public")
    assert out["grids"] == 3 and out["cameras_offline"] == 1
    grids = _grids(client, analyst)
    assert set(grids) == {A, B, C}
    for g in grids.values():
        assert g["covered_m2"] + g["blind_m2"] == pytest.approx(g["target_m2"], abs=0.02)
        assert g["ratio"] == pytest.approx(g["covered_m2"] / g["target_m2"], abs=1e-4)
    ratios = [g["ratio"] for g in grids.values()]
    assert ratios == sorted(ratios)  # worst covered first
    assert set(_grids(client, analyst2)) == {C}
    assert set(_grids(client, analyst, area=TOWN1)) == {A, B}
    # another township's area is not there for you
    r = client.post("/coverage/run", headers=analyst2, json={"area_code": TOWN1})
    assert r.status_code == 404
    spots = client.get("/coverage/blind-spots", headers=analyst).json()
    incidents = [f["properties"]["incidents"] for f in spots["features"]]
    assert incidents == sorted(incidents, reverse=True) and incidents[0] == 3
    assert spots["features"][0]["properties"]["grid_code"] == A
    assert spots["features"][0]["properties"]["rank"] == 1
    assert {f["properties"]["grid_code"] for f in client.get(
        "/coverage/blind-spots", headers=analyst2).json()["features"]} == {C}
    big = client.get("/coverage/blind-spots", headers=analyst,
                     params={"min_area": 10_000}).json()["features"]
    assert big and all(f["properties"]["area_m2"] >= 10_000 for f in big)
    (school,) = client.get("/coverage/key-places", headers=analyst).json()["features"]
    assert school["properties"]["grid_code"] == A and school["properties"]["ratio"] == 0.0
    assert client.get("/coverage/key-places", headers=analyst2).json()["features"] == []


def test_moving_a_camera_recomputes_only_the_affected_grids(client, district, analyst):
    _run(client, analyst, area_code=COUNTY)
    before = _grids(client, analyst)
    cid = district["west-gun"]
    r = client.patch(f"/cameras/{cid}", headers=analyst, json={"version": 1, "azimuth": 270})
    assert r.status_code == 200 and r.json()["stale_grids"] == [A]
    assert _grids(client, analyst)[A]["stale"] is True
    out = _run(client, analyst, area_code=COUNTY, only_stale=True)
    assert out["grid_codes"] == [A]
    after = _grids(client, analyst)
    assert not any(g["stale"] for g in after.values())
    for code in (B, C):
        assert after[code]["computed_at"] == before[code]["computed_at"]
        assert after[code]["covered_m2"] == before[code]["covered_m2"]
    assert after[A]["computed_at"] != before[A]["computed_at"]
    assert after[A]["covered_m2"] != pytest.approx(before[A]["covered_m2"], abs=1.0)


def test_offline_cameras_do_not_cover(client, district, analyst):
    _run(client, analyst, area_code=COUNTY, mode="grid")
    base = _grids(client, analyst)[C]["covered_m2"]
    cid = district["east"]
    r = client.patch(f"/cameras/{cid}", headers=analyst, json={"version": 1,
                                                                "status": "offline"})
    assert r.json()["stale_grids"] == [C]
    _run(client, analyst, area_code=COUNTY, mode="grid", only_stale=True)
    assert base > 1000 and _grids(client, analyst)[C]["covered_m2"] == 0
    _run(client, analyst, area_code=C, mode="grid", include_offline=True)
    assert _grids(client, analyst)[C]["covered_m2"] == pytest.approx(base, rel=1e-9)


def test_suggested_sites_raise_coverage_by_their_gain(client, district, analyst):
    _run(client, analyst, area_code=TOWN1, mode="public", min_area=0)
    before = sum(g["covered_m2"] for g in _grids(client, analyst, area=TOWN1).values())
    r = client.post("/coverage/sites", headers=analyst,
                    json={"area_code": TOWN1, "k": 2, "weight": "incidents"})
    assert r.status_code == 200, r.text
    sites = r.json()["features"]
    assert len(sites) == 2 and r.json()["bound"]["upper_bound"] > 0
    gains = [s["properties"]["gain_m2"] for s in sites]
    assert gains[0] > 0 and gains[1] > 0
    # incidents expected in sight: the blind spot's density times the area gained
    assert 0 < sites[1]["properties"]["cumulative_incidents"] <= 3
    for s in sites:  # install them as cameras through the API
        p = s["properties"]
        lon, lat = s["geometry"]["coordinates"]
        assert client.post("/cameras", headers=analyst, json={
            "lon": lon, "lat": lat, "type": p["type"], "fov": p["fov"],
            "range_m": p["range"]}).status_code == 201
    _run(client, analyst, area_code=TOWN1, mode="public", min_area=0, only_stale=True)
    after = sum(g["covered_m2"] for g in _grids(client, analyst, area=TOWN1).values())
    assert after - before == pytest.approx(sum(gains), rel=0.01)
    nothing = client.post("/coverage/sites", headers=analyst, json={"area_code": C, "k": 1})
    assert nothing.status_code == 404  # C was never computed: no stored blind spots
