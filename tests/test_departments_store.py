"""Departments and routing rules in PostGIS: the SQL admin-code prefix agrees with the Python
one on the same cases, visibility by scope, one rule per key (a NULL subcategory counts),
and the database's own guards (department accounts, attachment hashes)."""

from __future__ import annotations

from types import SimpleNamespace

import grid_fixtures as fx
import pytest
from sqlalchemy import literal, select, text
from sqlalchemy.exc import IntegrityError

from gis.errors import Conflict, InputError, NotFound
from gis.routing import Department, Rule, area_prefix
from gis.store import departments as repo
from gis.store.db import transaction

CODES = ["430102000000", "430102001000", "430102001001", "430100000000", "430102100000",
         "110000000000"]


@pytest.fixture
def area(db):
    fx.insert_units_and_grids(db)
    with transaction(db) as session:
        for code, name, unit in (("zj", "住建局", fx.COUNTY), ("cg", "城管局", fx.COUNTY),
                                 ("t1", "街道综治办", fx.TOWN1), ("t2", "二街道城管", fx.TOWN2)):
            repo.add_department(session, Department.checked(code, name, unit), actor="test")
    return db


def who(scope=None, department=None):
    return SimpleNamespace(scope_code=scope, department_code=department)


@pytest.mark.parametrize("code", CODES)
def test_sql_prefix_agrees_with_python(db, code):
    with db.connect() as conn:
        got = conn.execute(select(repo.code_prefix(literal(code)))).scalar_one()
    assert got == area_prefix(code)


def test_departments_visible_by_scope(area):
    with transaction(area) as session:
        assert [d["code"] for d in repo.list_departments(session, who())] == ["cg", "zj", "t1",
                                                                              "t2"]
        town1 = {d["code"] for d in repo.list_departments(session, who(fx.TOWN1))}
        assert town1 == {"zj", "cg", "t1"}           # county ones and its own, not town 2's
        village = {d["code"] for d in repo.list_departments(session, who(fx.COMM2))}
        assert village == {"zj", "cg", "t2"}
        assert [d["code"] for d in repo.list_departments(session, who(fx.COUNTY, "t1"))] == \
            ["t1"]                                   # a department account: its own only
        with pytest.raises(NotFound):
            repo.get_department(session, "t2", who(fx.TOWN1))


def test_duplicate_department_and_unknown_area(area):
    with transaction(area) as session:
        with pytest.raises(Conflict):
            repo.add_department(session, Department.checked("zj", "again", fx.COUNTY),
                                actor="test")
        with pytest.raises(InputError) as err:
            repo.add_department(session, Department.checked("x", "x", "430199000000"),
                                actor="test")
        assert err.value.field == "area_code"


def test_one_rule_per_key_and_rules_need_a_department(area):
    rule = Rule.checked("public_facility", None, fx.COUNTY, "cg")
    with transaction(area) as session:
        repo.add_rule(session, rule, actor="test")
        repo.add_rule(session, Rule.checked("public_facility", "road", fx.COUNTY, "zj"),
                      actor="test")
        with pytest.raises(Conflict, match="already routes to cg"):
            repo.add_rule(session, Rule.checked("public_facility", None, fx.COUNTY, "zj"),
                          actor="test")
        with pytest.raises(InputError) as err:
            repo.add_rule(session, Rule.checked("dispute", None, fx.COUNTY, "nobody"),
                          actor="test")
        assert err.value.field == "department_code"
        got = repo.rules_for(session, "public_facility", fx.COMM1)
        assert {r.department_code for r in got} == {"cg", "zj"}
    # the database refuses a second NULL-subcategory rule written around the repository
    with pytest.raises(IntegrityError), area.begin() as conn:
        conn.execute(text("INSERT INTO routing_rules (category, area_code, department_code) "
                          "VALUES ('public_facility', :a, 'zj')"), {"a": fx.COUNTY})


def test_a_department_account_needs_its_department(area):
    with pytest.raises(IntegrityError), area.begin() as conn:
        conn.execute(text("INSERT INTO users (username, role, scope_code) "
                          "VALUES ('d', 'department', :s)"), {"s": fx.COUNTY})
    with pytest.raises(IntegrityError), area.begin() as conn:
        conn.execute(text("INSERT INTO users (username, role, scope_code, department_code) "
                          "VALUES ('v', 'viewer', :s, 'zj')"), {"s": fx.COUNTY})
    with area.begin() as conn:
        conn.execute(text("INSERT INTO users (username, role, scope_code, department_code) "
                          "VALUES ('d', 'department', :s, 'zj')"), {"s": fx.COUNTY})
