"""The key-household register over real HTTP and the real command line, on PostGIS:
add, list, read, edit (optimistic version), delete and import a file, each inside the
caller's scope (another community's staff get 404 and never see them in a list), every
read audited, and the least personal data: no names, ID numbers or phones stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point
from sqlalchemy import text

from grid_fixtures import COMM1, COMM2, COUNTY, A, B, insert_units_and_grids, square

ROOT = Path(__file__).resolve().parents[1]
B1, B2, B9 = 1, 2, 9  # B1, B2 in community 1 (grids A and B), B9 in community 2 (grid C)


@pytest.fixture
def area(db):
    insert_units_and_grids(db)
    with db.begin() as conn:
        conn.execute(text("INSERT INTO buildings (id, community_code, geom) VALUES "
                          "(:i, :c, ST_GeomFromEWKT(:g))"),
                     [{"i": B1, "c": COMM1, "g": square(113.004, 28.004, 113.005, 28.005)},
                      {"i": B2, "c": COMM1, "g": square(113.014, 28.004, 113.015, 28.005)},
                      {"i": B9, "c": COMM2, "g": square(113.024, 28.004, 113.025, 28.005)}])
    return db


def _add(client, headers, **body):
    return client.post("/key-households", json=body, headers=headers)


def _reads(db) -> list[tuple]:
    with db.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT actor, entity_id FROM audit_log WHERE entity = 'key_households' "
            "AND action = 'read' ORDER BY id"))]


def test_add_list_read_edit_delete(client, area, make_user):
    staff = make_user("dispatcher", COMM1, username="comm1")
    res = _add(client, staff, household="HH-001", kind="elderly_alone", building=B1,
               responsible_worker="w1")
    assert res.status_code == 201, res.text
    kh = res.json()
    assert (kh["household"], kh["community_code"], kh["building"], kh["version"]) == \
        ("HH-001", COMM1, B1, 1)
    rural = _add(client, staff, household="HH-002", kind="disability", lon=113.016, lat=28.002)
    assert rural.status_code == 201 and rural.json()["community_code"] == COMM1
    listed = client.get("/key-households", headers=staff).json()
    assert [h["household"] for h in listed["households"]] == ["HH-001", "HH-002"]
    in_a = client.get("/key-households", params={"area": A}, headers=staff).json()
    assert [h["household"] for h in in_a["households"]] == ["HH-001"]  # HH-002 lies in B
    one = client.get(f"/key-households/{kh['id']}", headers=staff)
    assert one.status_code == 200 and one.json()["kind"] == "elderly_alone"
    edit = client.patch(f"/key-households/{kh['id']}", headers=staff,
                        json={"version": 1, "kind": "disability", "responsible_worker": "w2"})
    assert edit.status_code == 200 and edit.json()["version"] == 2
    assert edit.json()["responsible_worker"] == "w2"
    stale = client.patch(f"/key-households/{kh['id']}", headers=staff,
                         json={"version": 1, "kind": "other"})
    assert stale.status_code == 409 and stale.json()["current_version"] == 2
    assert client.delete(f"/key-households/{kh['id']}", params={"version": 1},
                         headers=staff).status_code == 409
    assert client.delete(f"/key-households/{kh['id']}", params={"version": 2},
                         headers=staff).status_code == 204
    assert client.get(f"/key-households/{kh['id']}", headers=staff).status_code == 404
    assert _reads(area) == [("comm1", COMM1), ("comm1", A), ("comm1", str(kh["id"]))]


def test_another_communitys_staff_get_404_and_never_see_it(client, area, make_user):
    comm1 = make_user("dispatcher", COMM1, username="comm1")
    kh = _add(client, comm1, household="HH-1", kind="low_income", building=B1).json()
    for role in ("dispatcher", "analyst", "grid_worker"):
        other = make_user(role, COMM2, username=f"{role}2")
        assert client.get(f"/key-households/{kh['id']}", headers=other).status_code == 404
        assert client.get("/key-households", headers=other).json()["households"] == []
        assert client.get("/key-households", params={"area": COMM1},
                          headers=other).status_code == 404
    other = make_user("dispatcher", COMM2, username="editor2")
    assert client.patch(f"/key-households/{kh['id']}", json={"version": 1, "kind": "other"},
                        headers=other).status_code == 404
    assert client.delete(f"/key-households/{kh['id']}", params={"version": 1},
                         headers=other).status_code == 404
    # placing one in another community: the building or position is not in the area
    res = _add(client, other, household="HH-2", kind="other", building=B1)
    assert res.status_code == 422 and res.json()["field"] == "building"
    res = _add(client, other, household="HH-3", kind="other", lon=113.005, lat=28.005)
    assert res.status_code == 422 and res.json()["field"] == "lon"
    county = make_user("analyst", COUNTY, username="county")
    assert [h["id"] for h in client.get("/key-households", headers=county).json()["households"]] \
        == [kh["id"]]


@pytest.mark.parametrize("role, read, write", [
    ("viewer", 403, 403), ("planner", 403, 403),
    ("grid_worker", 200, 403), ("analyst", 200, 403), ("dispatcher", 200, 201),
    ("admin", 200, 201)])
def test_roles(client, area, make_user, role, read, write):
    headers = make_user(role, COMM1)
    assert client.get("/key-households", headers=headers).status_code == read
    res = _add(client, headers, household=f"R-{role}", kind="other", building=B1)
    assert res.status_code == write, res.text
    files = {"file": ("k.csv", b"household,kind,building\nX1,other,1\n", "text/csv")}
    assert client.post("/key-households/import", files=files, headers=headers).status_code == \
        (200 if write == 201 else 403)


@pytest.mark.parametrize("body, field", [
    ({"household": "110101199003077777", "kind": "other", "building": B1}, "household"),
    ({"household": "13812345678", "kind": "other", "building": B1}, "household"),
    ({"household": "H", "kind": "rich", "building": B1}, "kind"),
    ({"household": "H", "kind": "other"}, "building"),
    ({"household": "H", "kind": "other", "lon": 113.0}, "lat"),
    ({"household": "H", "kind": "other", "building": 999}, "building"),
    ({"household": "H", "kind": "other", "building": B1, "name": "张三"}, "name"),
    ({"household": "H", "kind": "other", "building": B1, "phone": "13812345678"}, "phone"),
])
def test_bad_input_is_422_and_nothing_is_stored(client, area, make_user, body, field):
    res = _add(client, make_user("dispatcher", COMM1), **body)
    assert res.status_code == 422, res.text
    assert field in res.text
    with area.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM key_households")) == 0


def test_a_registered_reference_is_409(client, area, make_user):
    staff = make_user("dispatcher", COMM1)
    assert _add(client, staff, household="HH", kind="other", building=B1).status_code == 201
    assert _add(client, staff, household="HH", kind="other", building=B2).status_code == 409


def test_import_csv_and_geopackage(client, area, make_user, tmp_path):
    staff = make_user("dispatcher", COMM1, username="comm1")
    csv = "household,kind,building,lon,lat,responsible_worker\n" \
          "K1,独居老人,1,,,w1\nK2,disability,,113.016,28.002,\n"
    res = client.post("/key-households/import", headers=staff,
                      files={"file": ("register.csv", csv.encode(), "text/csv")})
    assert res.status_code == 200, res.text
    assert res.json()["rows_loaded"] == 2
    gpkg = tmp_path / "register.gpkg"
    gpd.GeoDataFrame({"household": ["K3"], "kind": ["left_behind_child"]},
                     geometry=[Point(113.006, 28.006)], crs=4326).to_file(gpkg)
    res = client.post("/key-households/import", headers=staff,
                      files={"file": ("register.gpkg", gpkg.read_bytes())})
    assert res.status_code == 200, res.text
    got = client.get("/key-households", headers=staff).json()["households"]
    assert {(h["household"], h["kind"], h["community_code"]) for h in got} == {
        ("K1", "elderly_alone", COMM1), ("K2", "disability", COMM1),
        ("K3", "left_behind_child", COMM1)}


@pytest.mark.parametrize("csv, field, row", [
    ("household,kind,building,name\nK1,other,1,张三\n", "name", None),
    ("household,kind,building,身份证号\nK1,other,1,x\n", "身份证号", None),
    ("household,kind,building,colour\nK1,other,1,red\n", "colour", None),
    ("kind,building\nother,1\n", "household", None),
    ("household,kind,building\nK1,other,1\nK2,nope,1\n", "kind", 2),
    ("household,kind,building\nK1,other,1\nK1,other,1\n", "household", 2),
    ("household,kind,building\nK1,other,1\nK2,other,9\n", "building", 2),  # community 2
    ("household,kind,building\nK1,other,1\n110101199003077777,other,1\n", "household", 2),
    ("household,kind,lon,lat\nK1,other,113.005,28.005\nK2,other,,\n", "building", 2),
])
def test_import_refuses_the_whole_file(client, area, make_user, csv, field, row):
    res = client.post("/key-households/import", headers=make_user("dispatcher", COMM1),
                      files={"file": ("k.csv", csv.encode(), "text/csv")})
    assert res.status_code == 422, res.text
    problem = res.json()
    if row is None:
        assert problem["field"] == field
    else:
        assert {"file": "k.csv", "row": row, "field": field} == \
            {k: problem["errors"][0][k] for k in ("file", "row", "field")}
    with area.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM key_households")) == 0


@pytest.mark.parametrize("body", [b"", b"household,kind,building\n\"K1,other,1\n"])
def test_an_unreadable_file_is_named_as_sent(client, area, make_user, body):
    res = client.post("/key-households/import", headers=make_user("dispatcher", COMM1),
                      files={"file": ("mine.csv", body, "text/csv")})
    assert res.status_code == 422, res.text
    assert "mine.csv" in res.text and "gg-upload-" not in res.text


def test_import_refuses_another_file_type(client, area, make_user):
    res = client.post("/key-households/import", headers=make_user("dispatcher", COMM1),
                      files={"file": ("k.xlsx", b"xx")})
    assert res.status_code == 422 and res.json()["field"] == "file"


def cli(settings, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRIDGIS_DATABASE_URL": settings.database_url,
           "GRIDGIS_DATA_DIR": str(settings.data_dir), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "gis.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=180, cwd=ROOT)


def test_cli_import(area, tmp_path, settings):
    path = tmp_path / "k.csv"
    path.write_text("household,kind,building\nC1,elderly_alone,1\nC2,other,2\n")
    run = cli(settings, "key-households", "import", path, "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["rows_loaded"] == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("household,kind,building,phone\nC3,other,1,13812345678\n")
    run = cli(settings, "key-households", "import", bad, "--json")
    assert run.returncode == 2 and "phone" in run.stdout + run.stderr
    with area.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM key_households")) == 2
        assert conn.scalar(text("SELECT count(*) FROM audit_log WHERE actor = 'cli' "
                                "AND action = 'import'")) == 1


@pytest.mark.parametrize("body, status, field", [
    ({"version": 1, "household": "13812345678"}, 422, "household"),
    ({"version": 1, "kind": "rich"}, 422, "kind"),
    ({"version": 1, "building": B9}, 422, "building"),      # another community's building
    ({"version": 1, "lon": 113.005}, 422, "lat"),
    ({"version": 0, "kind": "other"}, 422, "version"),
    ({"version": 1, "name": "张三"}, 422, "name"),
    ({"kind": "other"}, 422, "version"),
])
def test_bad_edits_change_nothing(client, area, make_user, body, status, field):
    staff = make_user("dispatcher", COMM1)
    kh = _add(client, staff, household="E1", kind="elderly_alone", building=B1).json()
    res = client.patch(f"/key-households/{kh['id']}", json=body, headers=staff)
    assert res.status_code == status and field in res.text, res.text
    after = client.get(f"/key-households/{kh['id']}", headers=staff).json()
    assert (after["household"], after["kind"], after["building"], after["version"]) == \
        ("E1", "elderly_alone", B1, 1)


def test_moving_a_household_to_another_building_of_the_area(client, area, make_user):
    staff = make_user("dispatcher", COMM1)
    kh = _add(client, staff, household="M1", kind="other", building=B1).json()
    moved = client.patch(f"/key-households/{kh['id']}", json={"version": 1, "building": B2},
                         headers=staff)
    assert moved.status_code == 200 and moved.json()["building"] == B2
    in_b = client.get("/key-households", params={"area": B}, headers=staff).json()
    assert [h["household"] for h in in_b["households"]] == ["M1"]


@pytest.mark.parametrize("role, status", [("viewer", 403), ("planner", 403), ("analyst", 403),
                                          ("grid_worker", 403), ("dispatcher", 200)])
def test_roles_for_edits(client, area, make_user, role, status):
    kh = _add(client, make_user("admin"), household="P1", kind="other", building=B1).json()
    headers = make_user(role, COMM1, username=f"{role}-e")
    assert client.patch(f"/key-households/{kh['id']}", json={"version": 1, "kind": "low_income"},
                        headers=headers).status_code == status
    version = 2 if status == 200 else 1
    assert client.delete(f"/key-households/{kh['id']}", params={"version": version},
                         headers=headers).status_code == (204 if status == 200 else 403)
