"""Department time limits per deployment (issue 16 items 4 and 10): the rules (most
specific area wins, a subcategory beats the category, built-in limits where none applies),
`/department-limits` over HTTP (role × scope, upsert by key, delete, CSV import with every
bad row named and nothing half-written), `gridgis department limits`, the table of
migration 0010, and the limit fixed on a department's part when it begins: later edits do
not move its deadlines, an approved extension counts from the part's own limit."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import grid_fixtures as fx
import pytest
from helpers import add_department, department_headers, migration_sandbox
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from test_departments import cli
from test_unit_of_work import assert_refused, refused_at_commit

from gis.clocks import Limit
from gis.department_limits import LimitRule, read_limit_rules, resolve_limit
from gis.errors import InputError, InvalidRows

ENV = {"step": "handle", "category": "environment", "subcategory": None,
       "area_code": fx.COUNTY, "amount": 6, "unit": "hours"}


@pytest.fixture
def people(make_user, db):
    fx.insert_units_and_grids(db)
    add_department(db, "zhujian", "县住建局", fx.COUNTY)
    zj = department_headers(db, "zhujian", username="zj-clerk")
    return {"admin": make_user("admin", username="root"),
            "town1_admin": make_user("admin", fx.TOWN1, username="t1-admin"),
            "centre": make_user("dispatcher", fx.COUNTY, username="centre"),
            "town2": make_user("dispatcher", fx.TOWN2, username="town2"),
            "analyst": make_user("analyst", fx.COUNTY, username="ana"),
            "worker": make_user("grid_worker", fx.COMM1, username="gw"),
            "zj": zj}


def listed(client, headers) -> list[dict]:
    resp = client.get("/department-limits", headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["limits"]


def post(client, headers, **change):
    return client.post("/department-limits", headers=headers, json={**ENV, **change})


# -- the rules --------------------------------------------------------------------------------
def test_most_specific_area_then_subcategory_then_the_built_in_limit():
    rules = [LimitRule.checked("handle", "environment", None, fx.COUNTY, 3, "working_days"),
             LimitRule.checked("handle", "environment", "noise", fx.COUNTY, 10, "hours"),
             LimitRule.checked("handle", "environment", None, fx.TOWN1, 2, "working_days"),
             LimitRule.checked("acknowledge", "environment", None, fx.COMM1, 30, "hours")]
    def limit(step, sub, place):
        return resolve_limit(rules, step, "environment", sub, place)[0]
    assert limit("handle", "noise", fx.COMM2) == Limit(10, "hours")         # county, sub
    assert limit("handle", "sewage", fx.COMM2) == Limit(3, "working_days")  # county
    assert limit("handle", "noise", fx.COMM1) == Limit(2, "working_days")   # the town wins
    assert limit("acknowledge", None, fx.A) == Limit(30, "hours")           # a grid of COMM1
    built_in, rule = resolve_limit(rules, "acknowledge", "environment", None, fx.COMM2)
    assert (built_in, rule) == (Limit(1, "working_days"), None)
    assert resolve_limit(rules, "handle", "dispute", None, fx.COMM1)[0] == Limit(1,
                                                                                "working_days")


@pytest.mark.parametrize("args, field", [
    (("handle", "weather", None, fx.COUNTY, 1, "hours"), "category"),
    (("handle", "environment", "fire", fx.COUNTY, 1, "hours"), "subcategory"),
    (("close", "environment", None, fx.COUNTY, 1, "hours"), "step"),
    (("handle", "environment", None, "4301", 1, "hours"), "area_code"),
    (("handle", "environment", None, fx.COUNTY, -2, "hours"), "amount"),
    (("handle", "environment", None, fx.COUNTY, 0, "hours"), "amount"),
    (("handle", "environment", None, fx.COUNTY, "nan", "hours"), "amount"),
    (("handle", "environment", None, fx.COUNTY, "soon", "hours"), "amount"),
    (("handle", "environment", None, fx.COUNTY, 400, "working_days"), "amount"),
    (("handle", "environment", None, fx.COUNTY, 1, "weeks"), "unit"),
])
def test_a_bad_rule_names_its_field(args, field):
    with pytest.raises(InputError) as err:
        LimitRule.checked(*args)
    assert err.value.field == field


def test_a_bad_file_names_every_bad_row_and_field(tmp_path):
    path = tmp_path / "limits.csv"
    path.write_text("step,category,subcategory,area_code,amount,unit\n"
                    f"handle,environment,,{fx.COUNTY},3,working_days\n"
                    f"handle,weather,,{fx.COUNTY},3,working_days\n"
                    f"acknowledge,environment,,{fx.COUNTY},-1,hours\n"
                    f"acknowledge,environment,,{fx.COUNTY},2,fortnights\n"
                    f"handle,environment,,{fx.COUNTY},5,hours\n", encoding="utf-8")
    with pytest.raises(InvalidRows) as err:
        read_limit_rules(path)
    assert [(p.row, p.field) for p in err.value.problems] == [
        (3, "category"), (4, "amount"), (5, "unit"), (6, "area_code")]  # 6 repeats row 2


# -- HTTP: role × scope ---------------------------------------------------------------------
@pytest.mark.parametrize("who, read, write", [
    ("admin", 200, 201), ("centre", 200, 403), ("analyst", 200, 403), ("zj", 403, 403),
    ("worker", 403, 403), ("resident", 401, 401)])
def test_who_may_read_and_write(client, people, who, read, write):
    headers = people.get(who, {})
    assert client.get("/department-limits", headers=headers).status_code == read
    assert post(client, headers).status_code == write
    stored = listed(client, people["admin"])
    assert len(stored) == (1 if write == 201 else 0)
    csv = f"step,category,area_code,amount,unit\nhandle,dispute,{fx.COUNTY},2,hours\n"
    imported = client.post("/department-limits/import", headers=headers,
                           files={"file": ("l.csv", csv.encode(), "text/csv")})
    assert imported.status_code == (200 if write == 201 else write), imported.text
    if stored:
        gone = client.delete(f"/department-limits/{stored[0]['id']}", headers=headers)
        assert gone.status_code == 204
    else:
        post(client, people["admin"])
        some = listed(client, people["admin"])[0]["id"]
        assert client.delete(f"/department-limits/{some}", headers=headers).status_code == \
            write


def test_a_scoped_account_sees_its_area_above_and_below_and_writes_only_inside(client,
                                                                              people):
    for area in (fx.COUNTY, fx.TOWN1, fx.TOWN2, fx.COMM1):
        assert post(client, people["admin"], area_code=area).status_code == 201
    assert {r["area_code"] for r in listed(client, people["town2"])} == {fx.COUNTY, fx.TOWN2}
    assert {r["area_code"] for r in listed(client, people["town1_admin"])} == {
        fx.COUNTY, fx.TOWN1, fx.COMM1}
    assert post(client, people["town1_admin"], area_code=fx.COMM1, amount=9).status_code == 200
    outside = post(client, people["town1_admin"], area_code=fx.TOWN2, amount=9)
    assert outside.status_code == 403, outside.text
    county = post(client, people["town1_admin"], area_code=fx.COUNTY, amount=9)
    assert county.status_code == 403     # above its area: the county's admin sets that
    town2_rule = next(r for r in listed(client, people["admin"]) if r["area_code"] == fx.TOWN2)
    assert client.delete(f"/department-limits/{town2_rule['id']}",
                         headers=people["town1_admin"]).status_code == 404
    assert sorted((r["area_code"], r["amount"]) for r in listed(client, people["admin"])) == \
        sorted([(fx.COUNTY, 6), (fx.TOWN1, 6), (fx.TOWN2, 6), (fx.COMM1, 9)])


# -- HTTP: upsert, delete, bad input ---------------------------------------------------------
def test_post_creates_then_replaces_by_key_and_delete_removes(client, people):
    admin = people["admin"]
    first = post(client, admin)
    assert first.status_code == 201, first.text
    body = first.json()
    assert {k: body[k] for k in ENV} == ENV and body["updated_by"] == "root"
    again = post(client, admin, amount=2, unit="working_days")
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    sub = post(client, admin, subcategory="noise")
    assert sub.status_code == 201 and sub.json()["id"] != body["id"]   # another key
    assert [(r["subcategory"], r["amount"], r["unit"]) for r in listed(client, admin)] == [
        (None, 2, "working_days"), ("noise", 6, "hours")]
    assert client.delete(f"/department-limits/{body['id']}", headers=admin).status_code == 204
    assert client.delete(f"/department-limits/{body['id']}", headers=admin).status_code == 404
    assert [r["subcategory"] for r in listed(client, admin)] == ["noise"]
    audit = client.get("/audit?entity=department_limit", headers=admin)
    assert audit.status_code == 200
    actions = [e["action"] for e in audit.json()["entries"]
               if e["entity"] == "department_limit"]
    assert sorted(actions) == ["create", "create", "delete", "update"]


@pytest.mark.parametrize("change, field", [
    ({"category": "weather"}, "category"),
    ({"subcategory": "fire"}, "subcategory"),        # not an environment kind
    ({"amount": -3}, "amount"),
    ({"amount": 0}, "amount"),
    ({"amount": 400, "unit": "working_days"}, "amount"),
    ({"unit": "weeks"}, "unit"),
    ({"step": "close"}, "step"),
    ({"area_code": "430199000000"}, "area_code"),    # no such admin unit
    ({"area_code": "4301"}, "area_code"),
    ({"extra": 1}, "extra"),
])
def test_bad_limits_name_the_field_and_store_nothing(client, people, change, field):
    resp = post(client, people["admin"], **change)
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"] == field or field in json.dumps(resp.json()), resp.text
    assert listed(client, people["admin"]) == []


def test_import_stores_all_rows_or_names_every_bad_row(client, people):
    admin = people["admin"]
    assert post(client, admin).status_code == 201
    good = ("step,category,subcategory,area_code,amount,unit\n"
            f"handle,environment,,{fx.COUNTY},4,hours\n"
            f"acknowledge,environment,noise,{fx.TOWN1},1,hours\n")
    resp = client.post("/department-limits/import", headers=admin,
                       files={"file": ("limits.csv", good.encode(), "text/csv")})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"file": "limits.csv", "rules": 2, "created": 1, "updated": 1}
    before = listed(client, admin)
    assert sorted((r["step"], r["amount"]) for r in before) == [("acknowledge", 1), ("handle", 4)]
    bad = ("step,category,subcategory,area_code,amount,unit\n"
           f"handle,dispute,,{fx.COUNTY},1,hours\n"                 # fine, but not stored
           f"handle,weather,,{fx.COUNTY},1,hours\n"
           f"handle,dispute,,{fx.COUNTY},-5,hours\n"
           f"handle,other,,{fx.COUNTY},1,days\n"
           f"handle,other,,430199000000,1,hours\n")
    resp = client.post("/department-limits/import", headers=admin,
                       files={"file": ("bad.csv", bad.encode(), "text/csv")})
    assert resp.status_code == 422, resp.text
    assert [(e["row"], e["field"]) for e in resp.json()["errors"]] == [
        (3, "category"), (4, "amount"), (5, "unit"), (6, "area_code")], resp.text
    twice = ("step,category,area_code,amount,unit\n"
             f"handle,dispute,{fx.COUNTY},1,hours\nhandle,dispute,{fx.COUNTY},2,hours\n")
    resp = client.post("/department-limits/import", headers=admin,
                       files={"file": ("twice.csv", twice.encode(), "text/csv")})
    assert resp.status_code == 422
    assert [(e["row"], e["field"]) for e in resp.json()["errors"]] == [(3, "area_code")]
    assert "row 2" in resp.json()["errors"][0]["reason"]
    outside = ("step,category,area_code,amount,unit\n"
               f"handle,dispute,{fx.COMM1},1,hours\nhandle,dispute,{fx.TOWN2},1,hours\n")
    resp = client.post("/department-limits/import", headers=people["town1_admin"],
                       files={"file": ("outside.csv", outside.encode(), "text/csv")})
    assert resp.status_code == 422
    assert [(e["row"], e["field"]) for e in resp.json()["errors"]] == [(3, "area_code")]
    assert listed(client, admin) == before                        # nothing half-written
    not_csv = client.post("/department-limits/import", headers=admin,
                          files={"file": ("limits.xlsx", b"PK\x03\x04", "application/zip")})
    assert not_csv.status_code == 422 and not_csv.json()["field"] == "file"
    no_column = client.post("/department-limits/import", headers=admin, files={
        "file": ("l.csv", b"step,category,area_code,amount\n", "text/csv")})
    assert no_column.status_code == 422 and "unit" in no_column.json()["detail"]


def test_bad_negative_amount_in_a_file_is_row_and_field(client, people):
    csv = "step,category,area_code,amount,unit\n" + f"handle,dispute,{fx.COUNTY},-1,hours\n"
    resp = client.post("/department-limits/import", headers=people["admin"],
                       files={"file": ("neg.csv", csv.encode(), "text/csv")})
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["row"] == 2 and resp.json()["errors"][0]["field"] == "amount"


# -- the limit fixed on the part -----------------------------------------------------------
def report(client, people, subcategory="sewage", lon=113.005) -> int:
    resp = client.post("/incidents", headers=people["centre"], json={
        "lon": lon, "lat": fx.MID_LAT, "category": "environment", "subcategory": subcategory})
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def whistle(client, people, incident_id) -> dict:
    resp = client.post(f"/incidents/{incident_id}/whistle", headers=people["centre"],
                       json={"departments": ["zhujian"]})
    assert resp.status_code == 200, resp.text
    return resp.json()["properties"]["summons"][0]


def hours_between(part, name) -> float:
    start = datetime.fromisoformat(part["summoned_at"])
    return (datetime.fromisoformat(part[name]) - start) / timedelta(hours=1)


def test_a_part_keeps_the_limits_it_began_with(client, people):
    admin = people["admin"]
    handle = post(client, admin, amount=6).json()
    ack = post(client, admin, step="acknowledge", amount=2, area_code=fx.TOWN1).json()
    first_id = report(client, people)
    first = whistle(client, people, first_id)
    assert hours_between(first, "handle_due_at") == 6
    assert hours_between(first, "ack_due_at") == 2          # the township's rule
    assert first["limits"] == {"acknowledge": {"amount": 2, "unit": "hours", "rule": ack["id"]},
                               "handle": {"amount": 6, "unit": "hours", "rule": handle["id"]}}
    in_town2 = whistle(client, people, report(client, people, lon=113.025))
    assert in_town2["limits"]["acknowledge"] == {"amount": 1, "unit": "working_days",
                                                 "rule": None}   # built in
    assert post(client, admin, amount=30).status_code == 200     # the rule changes...
    later = whistle(client, people, report(client, people))
    assert hours_between(later, "handle_due_at") == 30           # ...for new parts only
    kept = client.get(f"/incidents/{first_id}/summons", headers=admin).json()["summons"][0]
    assert kept["handle_due_at"] == first["handle_due_at"]
    assert kept["limits"]["handle"]["amount"] == 6


def test_an_approved_extension_counts_from_the_parts_own_limit(client, people):
    admin = people["admin"]
    post(client, admin, amount=6)
    incident_id = report(client, people)
    part = whistle(client, people, incident_id)
    post(client, admin, amount=100)           # edited after the part began: not its limit
    version = client.get(f"/incidents/{incident_id}", headers=admin).json()["properties"][
        "version"]
    assert client.post(f"/incidents/{incident_id}/transitions", headers=people["zj"], json={
        "action": "acknowledge", "version": version}).status_code == 200
    asked = client.post(f"/incidents/{incident_id}/extensions", headers=people["zj"], json={
        "amount": 3, "unit": "hours", "reason": "waiting for a pump"})
    assert asked.status_code == 201, asked.text
    decided = client.post(f"/extensions/{asked.json()['id']}/decision",
                          headers=people["centre"], json={"approve": True})
    assert decided.status_code == 200, decided.text
    moved = client.get(f"/incidents/{incident_id}/summons", headers=admin).json()["summons"][0]
    assert hours_between(moved, "handle_due_at") == 9     # its own 6 hours + 3 approved
    events = client.get(f"/incidents/{incident_id}", headers=admin).json()["properties"][
        "events"]
    assert events[-1]["action"] == "deadline" and "handle due" in events[-1]["note"]
    assert part["handle_due_at"] != moved["handle_due_at"]


# -- the command line and the table -----------------------------------------------------------
def test_command_line_imports_and_lists(people, settings, tmp_path):
    path = tmp_path / "limits.csv"
    path.write_text("step,category,subcategory,area_code,amount,unit\n"
                    f"handle,dispute,,{fx.COUNTY},1,working_days\n"
                    f"acknowledge,dispute,,{fx.TOWN1},30,hours\n", encoding="utf-8")
    out = cli(settings, "department", "limits", "--import", path, "--json")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["imported"]["created"] == 2
    assert [(r["step"], r["area_code"], r["amount"]) for r in got["limits"]] == [
        ("acknowledge", fx.TOWN1, 30), ("handle", fx.COUNTY, 1)]
    path.write_text("step,category,area_code,amount,unit\n"
                    f"handle,dispute,{fx.COUNTY},-1,working_days\n", encoding="utf-8")
    bad = cli(settings, "department", "limits", "--import", path)
    assert bad.returncode != 0 and "row 2" in bad.stderr + bad.stdout
    again = json.loads(cli(settings, "department", "limits", "--json").stdout)
    assert [r["amount"] for r in again["limits"]] == [30, 1]      # nothing half-written
    text_out = cli(settings, "department", "limits")
    assert text_out.returncode == 0 and "2 limit(s)" in text_out.stderr + text_out.stdout


def test_the_table_refuses_what_the_rules_refuse(people, db):
    row = {"step": "handle", "cat": "dispute", "area": fx.COUNTY, "amount": 1.0,
           "unit": "hours"}
    sql = text("INSERT INTO department_limits (step, category, area_code, amount, unit) "
               "VALUES (:step, :cat, :area, :amount, :unit)")
    with db.begin() as conn:
        conn.execute(sql, row)
    for change in ({"amount": -1.0}, {"unit": "days"}, {"step": "close"}, {"cat": "weather"},
                   {"area": "430199000000"}, {}):   # {}: the same key again
        with pytest.raises(IntegrityError), db.begin() as conn:
            conn.execute(sql, {**row, **change})
    with db.connect() as conn:
        columns = set(conn.execute(text(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'summons'"
        )).scalars())
        head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert {"ack_limit_amount", "ack_limit_unit", "ack_limit_rule", "handle_limit_amount",
            "handle_limit_unit", "handle_limit_rule"} <= columns
    assert head >= "0010"


def test_department_figures_judge_a_part_by_its_own_limit(client, people, db):
    """A 2-hour acknowledge limit set for the deployment: acknowledged after 3 hours is late
    in /incidents/stats?by=department, as in a direct count on the parts (the built-in
    limit, one working day, would have called it on time)."""
    admin = people["admin"]
    assert post(client, admin, step="acknowledge", amount=2).status_code == 201
    incident_id = report(client, people)
    whistle(client, people, incident_id)
    with db.begin() as conn:   # received three hours ago
        conn.execute(text("UPDATE incident_events SET at = at - interval '3 hours' "
                          "WHERE incident_id = :i AND action = 'whistle'"), {"i": incident_id})
        conn.execute(text("UPDATE summons SET summoned_at = summoned_at - interval '3 hours', "
                          "ack_due_at = ack_due_at - interval '3 hours', handle_due_at = "
                          "handle_due_at - interval '3 hours' WHERE incident_id = :i"),
                     {"i": incident_id})
    version = client.get(f"/incidents/{incident_id}", headers=admin).json()["properties"][
        "version"]
    assert client.post(f"/incidents/{incident_id}/transitions", headers=people["zj"], json={
        "action": "acknowledge", "version": version}).status_code == 200
    got = client.get("/incidents/stats", headers=people["centre"], params={"by": "department"})
    assert got.status_code == 200, got.text
    row = next(r for r in got.json()["departments"] if r["department_code"] == "zhujian")
    with db.connect() as conn:
        direct = conn.execute(text("SELECT count(*) FILTER (WHERE acknowledged_at <= "
                                   "ack_due_at) FROM summons")).scalar_one()
    assert (row["received"], row["acknowledged_on_time"]) == (1, direct) == (1, 0)


def test_migration_0010_goes_down_and_up_again(db):
    """Downgrade to 0009 and upgrade to the head in one transaction, rolled back after."""
    def has(conn, what: str) -> bool:
        return conn.execute(text("SELECT to_regclass('department_limits') IS NOT NULL AND "
                                 "EXISTS (SELECT 1 FROM information_schema.columns WHERE "
                                 "table_name = 'summons' AND column_name = :c)"),
                            {"c": what}).scalar_one()

    with migration_sandbox(db) as m:
        m.down("0009")
        assert m.conn.execute(text("SELECT to_regclass('department_limits')")).scalar() is None
        assert not has(m.conn, "handle_limit_amount")
        m.up()
        assert has(m.conn, "handle_limit_amount")


def test_writes_refused_at_commit_are_never_a_success(client, people, db):
    """Every write of /department-limits answers only after its commit: refused there, it
    is a problem answer and the rules stay as they were."""
    admin = people["admin"]
    stored = post(client, admin)
    assert stored.status_code == 201, stored.text
    rows = f"step,category,area_code,amount,unit\nhandle,dispute,{fx.COUNTY},1,hours\n"
    with refused_at_commit(db, "department_limits"):
        assert_refused(post(client, admin, amount=9))
        assert_refused(client.post("/department-limits/import", headers=admin,
                                   files={"file": ("l.csv", rows.encode(), "text/csv")}))
        assert_refused(client.delete(f"/department-limits/{stored.json()['id']}",
                                     headers=admin))
    assert [(r["category"], r["amount"]) for r in listed(client, admin)] == [("environment", 6)]
