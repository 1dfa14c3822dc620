"""Routing rules: the most specific area wins, a subcategory rule beats a category-only one,
no rule means the grid's own staff; rules and departments read from CSV with named errors."""

from __future__ import annotations

import pytest

from gis.errors import Conflict, InputError, InvalidRows
from gis.routing import (Department, Rule, area_prefix, duplicate_keys, read_departments,
                         read_rules, resolve)

COUNTY, TOWN, OTHER_TOWN = "430199000000", "430199101000", "430199102000"
IN_TOWN, IN_OTHER_TOWN, IN_STREET = "430199101002", "430199102001", "430199001003"
GRID_IN_TOWN = IN_TOWN + "0007"

RULES = [
    Rule("public_facility", None, COUNTY, "chengguan"),           # 城管: all facilities
    Rule("public_facility", "streetlight", COUNTY, "power"),      # streetlights county-wide
    Rule("public_facility", None, TOWN, "town101"),               # this town does its own
    Rule("public_facility", "manhole", IN_TOWN, "water"),         # one community's manholes
    Rule("dispute", "labour", COUNTY, "renshe"),                  # 人社
    Rule("environment", None, OTHER_TOWN, "huanbao"),
]


@pytest.mark.parametrize("category, subcategory, place, expected", [
    ("public_facility", "road", IN_STREET, "chengguan"),          # county, category only
    ("public_facility", "streetlight", IN_STREET, "power"),       # county, subcategory beats
    ("public_facility", "streetlight", IN_TOWN, "town101"),       # township beats county sub
    ("public_facility", "road", IN_TOWN, "town101"),
    ("public_facility", "manhole", IN_TOWN, "water"),             # community wins
    ("public_facility", "manhole", GRID_IN_TOWN, "water"),        # a grid code works too
    ("public_facility", "manhole", IN_OTHER_TOWN, "chengguan"),
    ("public_facility", None, IN_STREET, "chengguan"),            # no subcategory given
    ("dispute", "labour", IN_TOWN, "renshe"),
    ("dispute", "neighbour", IN_TOWN, None),                      # no rule: the grid's staff
    ("environment", "garbage", IN_OTHER_TOWN, "huanbao"),
    ("environment", "garbage", IN_TOWN, None),                    # rule is for another town
    ("public_facility", "road", "440100001001", None),            # another county
])
def test_resolver(category, subcategory, place, expected):
    rule = resolve(RULES, category, subcategory, place)
    assert (rule.department_code if rule else None) == expected


def test_subcategory_beats_category_only_within_one_area():
    rules = [Rule("environment", None, TOWN, "a"), Rule("environment", "noise", TOWN, "b")]
    assert resolve(rules, "environment", "noise", IN_TOWN).department_code == "b"
    assert resolve(list(reversed(rules)), "environment", "noise", IN_TOWN).department_code == "b"
    assert resolve(rules, "environment", "sewage", IN_TOWN).department_code == "a"


def test_equally_specific_rules_that_disagree_are_a_conflict():
    rules = [Rule("environment", None, TOWN, "a"), Rule("environment", None, TOWN, "b")]
    with pytest.raises(Conflict, match="a, b"):
        resolve(rules, "environment", "noise", IN_TOWN)
    assert duplicate_keys(rules) == [tuple(rules)]
    assert duplicate_keys(RULES) == []


@pytest.mark.parametrize("code, prefix", [(COUNTY, "430199"), (TOWN, "430199101"),
                                          (IN_TOWN, IN_TOWN)])
def test_area_prefix(code, prefix):
    assert area_prefix(code) == prefix


@pytest.mark.parametrize("args, field", [
    (("nonsense", None, COUNTY, "x"), "category"),
    (("dispute", "streetlight", COUNTY, "x"), "subcategory"),
    (("dispute", None, "4301", "x"), "area_code"),
    (("dispute", None, "000000000000", "x"), "area_code"),
    (("dispute", None, COUNTY, "no spaces"), "department_code"),
    (("dispute", None, COUNTY, ""), "department_code"),
])
def test_a_bad_rule_names_its_field(args, field):
    with pytest.raises(InputError) as err:
        Rule.checked(*args)
    assert err.value.field == field


def test_rules_from_csv(tmp_path):
    path = tmp_path / "rules.csv"
    path.write_text("category,subcategory,area_code,department_code\n"
                    "public_facility,,430199000000,chengguan\n"
                    "public_facility,streetlight,430199000000,power\n", encoding="utf-8")
    rules = read_rules(path, departments={"chengguan", "power"})
    assert rules == RULES[:2]


def test_bad_rule_rows_are_all_named_and_nothing_is_read(tmp_path):
    path = tmp_path / "rules.csv"
    path.write_text("category,subcategory,area_code,department_code\n"
                    "public_facility,,430199000000,chengguan\n"
                    "public_facility,,430199000000,power\n"          # same key as row 2
                    "pubic_facility,,430199000000,power\n"           # typo in category
                    "environment,noise,43019,power\n"                # short area code
                    "environment,noise,430199000000,police\n")       # unknown department
    with pytest.raises(InvalidRows) as err:
        read_rules(path, departments={"chengguan", "power"})
    assert [(p.row, p.field) for p in err.value.problems] == [
        (3, "area_code"), (4, "category"), (5, "area_code"), (6, "department_code")]
    assert "row 2" in err.value.problems[0].reason


def test_departments_from_csv(tmp_path):
    path = tmp_path / "departments.csv"
    path.write_text("code,name,area_code,contact,phone\n"
                    "zhujian,县住建局,430199000000,王科长,0731-1234567\n"
                    "town101-ban,镇综治办,430199101000,,\n", encoding="utf-8")
    got = read_departments(path)
    assert got[0] == Department("zhujian", "县住建局", COUNTY, "王科长", "0731-1234567")
    assert got[1].contact is None and got[1].area_code == TOWN


def test_bad_department_rows_are_named(tmp_path):
    path = tmp_path / "departments.csv"
    path.write_text("code,name,area_code\nzhujian,县住建局,430199000000\n"
                    "zhujian,again,430199000000\nminzheng,,430199000000\n"
                    "cun,村委会,430199101002\n")
    with pytest.raises(InvalidRows) as err:
        read_departments(path)
    assert [(p.row, p.field) for p in err.value.problems] == [
        (3, "code"), (4, "name"), (5, "area_code")]
