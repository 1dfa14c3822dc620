"""The demo county's functional departments (issue 16): a dozen county departments, the
routing rules that send each category to its owner, a few department time limits of the
county's own (so the limits page and ``gridgis department-limit list`` show some; the rest
use the built-in limits), and one account per department. Used by
the demo load (:mod:`gis.services.demo`); repositories: they flush, never commit."""

from __future__ import annotations

import secrets

from sqlalchemy.orm import Session

from gis.department_limits import LimitRule
from gis.routing import Department, Rule
from gis.store.department_limits import upsert as add_limit
from gis.store.departments import add_department, add_rule
from gis.store.users import add_user, issue_token

# code, name: the departments most counties link to their centre
DEPARTMENTS = [
    ("zhujian", "县住房和城乡建设局"), ("chengguan", "县城市管理综合执法局"),
    ("shichang", "县市场监督管理局"), ("minzheng", "县民政局"), ("gongan", "县公安局"),
    ("sifa", "县司法局"), ("huanbao", "市生态环境局县分局"), ("shuili", "县水利局"),
    ("yingji", "县应急管理局"), ("jiaotong", "县交通运输局"), ("renshe", "县人力资源和社会保障局"),
    ("gongdian", "县供电公司"),
]
# (category, subcategory or None, department): the county-wide routing
RULES = [
    ("public_facility", None, "chengguan"), ("public_facility", "streetlight", "gongdian"),
    ("public_facility", "water_pipe", "shuili"), ("public_facility", "road", "jiaotong"),
    ("public_facility", "manhole", "zhujian"),
    ("environment", None, "chengguan"), ("environment", "pollution", "huanbao"),
    ("environment", "sewage", "huanbao"), ("environment", "noise", "huanbao"),
    ("safety_hazard", None, "yingji"), ("safety_hazard", "construction", "zhujian"),
    ("safety_hazard", "traffic", "gongan"), ("safety_hazard", "flood", "shuili"),
    ("security_hazard", None, "gongan"),
    ("dispute", "labour", "renshe"), ("dispute", "property", "zhujian"),
    ("dispute", "land", "sifa"), ("population", None, "minzheng"),
]

# (step, category, subcategory or None, amount, unit): the county's own department limits,
# stricter than the built-in ones where a delay costs most
LIMITS = [
    ("acknowledge", "security_hazard", None, 2, "hours"),
    ("handle", "security_hazard", None, 1, "working_days"),
    ("acknowledge", "safety_hazard", None, 4, "hours"),
    ("handle", "safety_hazard", "flood", 1, "working_days"),
    ("handle", "public_facility", "streetlight", 3, "working_days"),
    ("handle", "environment", "noise", 2, "working_days"),
    ("handle", "dispute", "labour", 10, "working_days"),
]


def create(session: Session, county: str) -> list[dict]:
    """Departments serving ``county``, their rules and accounts; the accounts (with
    passwords and tokens, as the demo prints them)."""
    for code, name in DEPARTMENTS:
        add_department(session, Department.checked(code, name, county), actor="demo")
    for category, subcategory, code in RULES:
        add_rule(session, Rule.checked(category, subcategory, county, code), actor="demo")
    for step, category, subcategory, amount, unit in LIMITS:
        add_limit(session, LimitRule.checked(step, category, subcategory, county, amount, unit),
                  None)
    accounts = []
    for code, _ in DEPARTMENTS:
        password = secrets.token_urlsafe(9)
        user = add_user(session, f"demo-{code}", "department", password=password,
                        department_code=code)
        accounts.append({"role": "department", "username": user.username,
                         "password": password, "scope": user.scope_code,
                         "department": code, "token": issue_token(session, user, days=365)})
    return accounts
