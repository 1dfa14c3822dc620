"""Departments and routing rules over HTTP and the command line (issue 16): the contract's
names and statuses, role × scope (a department account sees only its own department and
only the incidents routed or summoned to it), bad input with the offending field, and
department accounts from `gridgis user add --role department --department CODE`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import grid_fixtures as fx
import pytest
from sqlalchemy import text

from gis.services import accounts

ROOT = Path(__file__).parents[1]
ZJ = {"code": "zhujian", "name": "县住建局", "area_code": fx.COUNTY}
T2 = {"code": "t2-cg", "name": "二街道城管", "area_code": fx.TOWN2}


@pytest.fixture
def area(db):
    fx.insert_units_and_grids(db)
    return db


@pytest.fixture
def admin(make_user, area):
    return make_user("admin")


@pytest.fixture
def registered(client, admin):
    for body in (ZJ, T2, {"code": "t1-zz", "name": "一街道综治办", "area_code": fx.TOWN1}):
        assert client.post("/departments", json=body, headers=admin).status_code == 201
    return admin


def department_account(engine, code: str, username: str, scope: str | None = None) -> dict:
    token = accounts.add_user(engine, username, "department", department_code=code,
                              scope_code=scope)["token"]
    return {"Authorization": f"Bearer {token}"}


def codes(resp) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [d["code"] for d in resp.json()["departments"]]


def test_admin_registers_and_lists_departments(client, admin):
    resp = client.post("/departments", json={**ZJ, "contact": "王科长"}, headers=admin)
    assert resp.status_code == 201, resp.text
    assert resp.json() == {**ZJ, "contact": "王科长", "phone": None, "email": None,
                           "active": True}
    assert codes(client.get("/departments", headers=admin)) == ["zhujian"]


@pytest.mark.parametrize("body, status, field", [
    ({**ZJ, "code": "has space"}, 422, "code"),
    ({**ZJ, "area_code": fx.COMM1}, 422, "area_code"),       # a community: not served
    ({**ZJ, "area_code": "430199000000"}, 422, "area_code"),  # no such admin unit
    ({**ZJ, "area_code": "4301"}, 422, "area_code"),
    ({**ZJ, "name": ""}, 422, "name"),
    ({**ZJ, "extra": 1}, 422, "extra"),
])
def test_bad_departments_are_refused_naming_the_field(client, admin, body, status, field):
    resp = client.post("/departments", json=body, headers=admin)
    assert resp.status_code == status, resp.text
    assert field in json.dumps(resp.json())
    assert codes(client.get("/departments", headers=admin)) == []     # nothing half-written


def test_a_second_department_with_the_same_code_conflicts(client, registered):
    resp = client.post("/departments", json={**ZJ, "name": "again"}, headers=registered)
    assert resp.status_code == 409
    names = [d["name"] for d in client.get("/departments", headers=registered).json()[
        "departments"] if d["code"] == "zhujian"]
    assert names == ["县住建局"]


@pytest.mark.parametrize("role", ["dispatcher", "planner", "analyst", "grid_worker", "viewer"])
def test_only_admins_register(client, make_user, area, role):
    headers = make_user(role, fx.COUNTY)
    assert client.post("/departments", json=ZJ, headers=headers).status_code == 403
    rule = {"category": "environment", "area_code": fx.COUNTY, "department_code": "x"}
    assert client.post("/routing-rules", json=rule, headers=headers).status_code == 403
    assert client.post("/departments", json=ZJ).status_code == 401


def test_each_account_sees_the_departments_of_its_area(client, make_user, registered, db):
    assert codes(client.get("/departments", headers=make_user("dispatcher", fx.COUNTY))) == [
        "zhujian", "t1-zz", "t2-cg"]
    # a township sees the county's departments and its own, not the other township's
    assert codes(client.get("/departments", headers=make_user("dispatcher", fx.TOWN1))) == [
        "zhujian", "t1-zz"]
    assert codes(client.get("/departments", headers=make_user("grid_worker", fx.COMM2))) == [
        "zhujian", "t2-cg"]
    # a department account sees its own department only
    assert codes(client.get("/departments", headers=department_account(db, "t2-cg", "cg"))) \
        == ["t2-cg"]


def test_routing_rules(client, registered):
    rule = {"category": "public_facility", "subcategory": "streetlight",
            "area_code": fx.COUNTY, "department_code": "zhujian"}
    resp = client.post("/routing-rules", json=rule, headers=registered)
    assert resp.status_code == 201, resp.text
    assert {k: resp.json()[k] for k in rule} == rule and resp.json()["id"] >= 1
    # the category-only rule for the same area is another key
    any_sub = {**rule, "subcategory": None, "department_code": "t2-cg"}
    assert client.post("/routing-rules", json=any_sub, headers=registered).status_code == 201
    again = client.post("/routing-rules", json={**rule, "department_code": "t2-cg"},
                        headers=registered)
    assert again.status_code == 409 and "already routes to zhujian" in again.json()["detail"]
    listed = client.get("/routing-rules", headers=registered).json()["rules"]
    assert [(r["subcategory"], r["department_code"]) for r in listed] == [
        ("streetlight", "zhujian"), (None, "t2-cg")]


@pytest.mark.parametrize("change, field", [
    ({"category": "weather"}, "category"),
    ({"subcategory": "fire"}, "subcategory"),              # not a public_facility kind
    ({"department_code": "nobody"}, "department_code"),
    ({"area_code": "430199000000"}, "area_code"),
])
def test_bad_rules_name_the_field_and_store_nothing(client, registered, change, field):
    rule = {"category": "public_facility", "subcategory": None, "area_code": fx.COUNTY,
            "department_code": "zhujian", **change}
    resp = client.post("/routing-rules", json=rule, headers=registered)
    assert resp.status_code == 422 and resp.json()["field"] == field, resp.text
    assert client.get("/routing-rules", headers=registered).json()["rules"] == []


def _report(client, headers, lon=113.005) -> int:
    body = {"lon": lon, "lat": fx.MID_LAT, "category": "public_facility",
            "subcategory": "road", "description": "pothole"}
    resp = client.post("/incidents", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def test_a_department_sees_only_incidents_routed_or_summoned_to_it(client, make_user,
                                                                    registered, db):
    dispatcher = make_user("dispatcher", fx.COUNTY)
    mine, summoned, other = (_report(client, dispatcher) for _ in range(3))
    in_town2 = _report(client, dispatcher, lon=113.025)
    with db.begin() as conn:   # dispatch-to-department and whistle arrive with their endpoints
        conn.execute(text("UPDATE incidents SET department_code = 'zhujian' WHERE id IN "
                          "(:a, :b)"), {"a": mine, "b": in_town2})
        conn.execute(text("INSERT INTO summons (incident_id, department_code) VALUES (:s, "
                          "'zhujian'), (:o, 't2-cg')"), {"s": summoned, "o": other})
    zj = department_account(db, "zhujian", "zj-clerk")
    narrow = department_account(db, "zhujian", "zj-town1", scope=fx.TOWN1)
    listed = client.get("/incidents", headers=zj).json()
    assert sorted(f["id"] for f in listed["features"]) == sorted([mine, summoned, in_town2])
    assert client.get(f"/incidents/{mine}", headers=zj).status_code == 200
    assert client.get(f"/incidents/{other}", headers=zj).status_code == 404
    # an account narrowed to one township does not see the department's case in the other
    assert client.get(f"/incidents/{in_town2}", headers=narrow).status_code == 404
    # the same rule on the OGC API layer (features and tiles share it)
    items = client.get("/collections/incidents/items", headers=zj).json()
    assert sorted(f["id"] for f in items["features"]) == sorted([mine, summoned, in_town2])
    # and the dispatcher still sees all four
    assert len(client.get("/incidents", headers=dispatcher).json()["features"]) == 4


def test_department_accounts_need_a_known_department(registered, db):
    from gis.errors import InputError

    for kwargs, field in (({}, "department"), ({"department_code": "nobody"}, "department"),
                          ({"department_code": "t2-cg", "scope_code": fx.TOWN1}, "scope")):
        with pytest.raises(InputError) as err:
            accounts.add_user(db, "x", "department", **kwargs)
        assert err.value.field == field
    with pytest.raises(InputError) as err:
        accounts.add_user(db, "y", "viewer", scope_code=fx.COUNTY, department_code="t2-cg")
    assert err.value.field == "department"
    added = accounts.add_user(db, "z", "department", department_code="t2-cg")
    assert added["scope"] == fx.TOWN2 and added["department"] == "t2-cg"


def cli(settings, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRIDGIS_DATABASE_URL": settings.database_url,
           "GRIDGIS_DATA_DIR": str(settings.data_dir), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "gis.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=180, cwd=ROOT)


def test_command_line_department_add_list_and_a_department_user(area, settings, tmp_path):
    added = cli(settings, "department", "add", "zhujian", "--name", "县住建局", "--area",
                fx.COUNTY, "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["code"] == "zhujian"
    bad = cli(settings, "department", "add", "x", "--name", "x", "--area", fx.COMM1)
    assert bad.returncode == 2 and "area_code" in bad.stderr + bad.stdout
    listed = json.loads(cli(settings, "department", "list", "--json").stdout)
    assert [d["code"] for d in listed["departments"]] == ["zhujian"]
    user = cli(settings, "user", "add", "zj-clerk", "--role", "department", "--department",
               "zhujian", "--json")
    assert user.returncode == 0, user.stderr
    assert json.loads(user.stdout)["department"] == "zhujian"
    assert cli(settings, "user", "add", "nobody", "--role", "department", "--department",
               "nope").returncode == 2
    csv = tmp_path / "rules.csv"
    csv.write_text("category,subcategory,area_code,department_code\n"
                   f"environment,,{fx.COUNTY},zhujian\nenvironment,noise,{fx.COUNTY},ghost\n",
                   encoding="utf-8")
    refused = cli(settings, "department", "rules", csv)
    assert refused.returncode == 2 and "row 3" in refused.stderr + refused.stdout
    csv.write_text("category,subcategory,area_code,department_code\n"
                   f"environment,,{fx.COUNTY},zhujian\n", encoding="utf-8")
    assert json.loads(cli(settings, "department", "rules", csv, "--json").stdout)["rules"] == 1


def test_the_suggested_department_is_shown_on_report_and_accept(client, make_user, registered):
    dispatcher = make_user("dispatcher", fx.COUNTY)
    for rule in ({"category": "public_facility", "subcategory": None, "area_code": fx.COUNTY,
                  "department_code": "zhujian"},
                 {"category": "public_facility", "subcategory": "road",
                  "area_code": fx.TOWN2, "department_code": "t2-cg"}):
        assert client.post("/routing-rules", json=rule, headers=registered).status_code == 201
    body = {"lat": fx.MID_LAT, "category": "public_facility", "subcategory": "road"}
    in_town1 = client.post("/incidents", headers=dispatcher, json={**body, "lon": 113.005})
    assert in_town1.json()["properties"]["suggested_department"] == {
        "code": "zhujian", "name": "县住建局"}
    in_town2 = client.post("/incidents", headers=dispatcher, json={**body, "lon": 113.025})
    assert in_town2.json()["properties"]["suggested_department"]["code"] == "t2-cg"
    props = in_town2.json()["properties"]
    accepted = client.post(f"/incidents/{props['id']}/transitions", headers=dispatcher,
                           json={"action": "accept", "version": props["version"]})
    assert accepted.json()["properties"]["suggested_department"]["code"] == "t2-cg"
    dispute = client.post("/incidents", headers=dispatcher, json={
        **body, "lon": 113.005, "category": "dispute", "subcategory": "neighbour"})
    assert dispute.json()["properties"]["suggested_department"] is None   # the grid's staff


def test_command_line_holidays(area, settings, tmp_path):
    csv = tmp_path / "holidays.csv"
    csv.write_text("county,date,kind,name\n430102,2026-10-01,holiday,国庆节\n"
                   "430102,2026-10-10,workday,调休\n430102,2026-13-01,holiday,\n",
                   encoding="utf-8")
    bad = cli(settings, "department", "holidays", csv)
    assert bad.returncode == 2 and "row 4" in bad.stderr + bad.stdout
    csv.write_text("county,date,kind,name\n430102,2026-10-01,holiday,国庆节\n"
                   "430102,2026-10-10,workday,调休\n", encoding="utf-8")
    good = cli(settings, "department", "holidays", csv, "--json")
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["days"] == {"430102": 2}
