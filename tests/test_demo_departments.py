"""The demo county's departments (issue 16 item 12): a dozen, with routing rules that give
every demo category an owner or leave it to the grid, and an account each that sees only its
own cases."""

from __future__ import annotations

import grid_fixtures as fx

from gis.routing import resolve
from gis.services.uow import unit_of_work
from gis.store import demo_departments
from gis.store.departments import list_departments, rules_for
from gis.vocabulary import INCIDENT_CATEGORIES


def test_demo_departments_rules_and_accounts(db, client):
    fx.insert_units_and_grids(db)
    with unit_of_work(db) as session:
        accounts = demo_departments.create(session, fx.COUNTY)
    assert len(accounts) == 12 and {a["role"] for a in accounts} == {"department"}
    with unit_of_work(db, read_only=True) as session:
        assert len(list_departments(session)) == 12
        routed = {(cat, sub): resolve(rules_for(session, cat, fx.COMM1), cat, sub, fx.COMM1)
                  for cat, subs in INCIDENT_CATEGORIES.items() for sub in subs}
    assert routed[("public_facility", "streetlight")].department_code == "gongdian"
    assert routed[("public_facility", "railing")].department_code == "chengguan"
    assert routed[("dispute", "neighbour")] is None          # the grid's own mediation
    assert sum(r is not None for r in routed.values()) >= 25
    zj = next(a for a in accounts if a["department"] == "zhujian")
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {zj['token']}"}).json()
    assert me == {"username": "demo-zhujian", "role": "department", "scope": fx.COUNTY,
                  "department": "zhujian"}


def test_demo_county_has_department_limits(db, client, make_user):
    """The demo's own limits show on `GET /department-limits` and apply to a new part."""
    fx.insert_units_and_grids(db)
    with unit_of_work(db) as session:
        demo_departments.create(session, fx.COUNTY)
    admin = make_user("admin", username="root")
    got = client.get("/department-limits", headers=admin)
    assert got.status_code == 200, got.text
    rows = got.json()["limits"]
    assert {(r["step"], r["category"], r["subcategory"], r["amount"], r["unit"])
            for r in rows} == {(s, c, sub, float(a), u)
                               for s, c, sub, a, u in demo_departments.LIMITS}
    assert {r["area_code"] for r in rows} == {fx.COUNTY}
