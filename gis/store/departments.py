"""Departments and routing rules in the store. Repositories: they flush, never commit (the
service's unit of work does). Rules are validated by :mod:`gis.routing` before they come
here; the database's keys and checks are the last guard.

Visibility: an admin (no scope) sees every department; a scoped account sees those serving
its area or an area above it (a township dispatcher dispatches to county departments) or
below it (a county sees its townships' offices); a department account sees its own.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, case, func, or_, select, true
from sqlalchemy.orm import Session

from gis.errors import Conflict, InputError, NotFound
from gis.routing import Department, Rule, area_prefix, resolve
from gis.store import audit
from gis.store.models import AdminUnit, RoutingRule
from gis.store.models import Department as DepartmentRow

FIELDS = ("code", "name", "area_code", "contact", "phone", "email", "active")


def _row(d: DepartmentRow) -> dict:
    return {f: getattr(d, f) for f in FIELDS}


def area_exists(session: Session, code: str) -> bool:
    return session.get(AdminUnit, code) is not None


def _check_area(session: Session, code: str, field: str = "area_code") -> None:
    if not area_exists(session, code):
        raise InputError(f"no admin unit {code}", field=field)


def visible(principal) -> ColumnElement[bool]:
    """Departments the caller may see (see the module's docstring)."""
    own = getattr(principal, "department_code", None) if principal else None
    if own:
        return DepartmentRow.code == own
    scope = getattr(principal, "scope_code", None) if principal else None
    if not scope:
        return true()
    prefix = area_prefix(scope)
    return or_(DepartmentRow.area_code.startswith(prefix, autoescape=True),
               func.strpos(prefix, code_prefix(DepartmentRow.area_code)) == 1)


def code_prefix(column) -> ColumnElement[str]:
    """SQL of :func:`gis.routing.area_prefix`: the significant digits of an admin code."""
    return case((func.right(column, 6) == "000000", func.left(column, 6)),
                (func.right(column, 3) == "000", func.left(column, 9)), else_=column)


def add_department(session: Session, dept: Department, *, actor: str | None) -> dict:
    _check_area(session, dept.area_code)
    if session.get(DepartmentRow, dept.code) is not None:
        raise Conflict(f"department {dept.code!r} already exists")
    row = DepartmentRow(code=dept.code, name=dept.name, area_code=dept.area_code,
                        contact=dept.contact, phone=dept.phone, email=dept.email)
    session.add(row)
    session.flush()
    audit.record(session, actor, "create", "department", dept.code, None, _row(row))
    return _row(row)


def get_department(session: Session, code: str, principal=None) -> dict:
    row = session.scalar(select(DepartmentRow).where(DepartmentRow.code == code,
                                                     visible(principal)))
    if row is None:
        raise NotFound(f"no department {code!r}")
    return _row(row)


def list_departments(session: Session, principal=None) -> list[dict]:
    rows = session.scalars(select(DepartmentRow).where(visible(principal))
                           .order_by(DepartmentRow.area_code, DepartmentRow.code))
    return [_row(r) for r in rows]


def department_codes(session: Session) -> set[str]:
    return set(session.scalars(select(DepartmentRow.code)))


def _rule_row(r: RoutingRule) -> dict:
    return {"id": r.id, "category": r.category, "subcategory": r.subcategory,
            "area_code": r.area_code, "department_code": r.department_code}


def add_rule(session: Session, rule: Rule, *, actor: str | None) -> dict:
    _check_area(session, rule.area_code)
    if session.get(DepartmentRow, rule.department_code) is None:
        raise InputError(f"no department {rule.department_code!r}", field="department_code")
    same = session.scalar(select(RoutingRule).where(
        RoutingRule.category == rule.category, RoutingRule.area_code == rule.area_code,
        func.coalesce(RoutingRule.subcategory, "") == (rule.subcategory or "")))
    if same is not None:
        raise Conflict(f"a rule for {rule.category}/{rule.subcategory or '*'} in "
                       f"{rule.area_code} already routes to {same.department_code} "
                       f"(rule {same.id})")
    row = RoutingRule(category=rule.category, subcategory=rule.subcategory,
                      area_code=rule.area_code, department_code=rule.department_code)
    session.add(row)
    session.flush()
    audit.record(session, actor, "create", "routing_rule", row.id, None, _rule_row(row))
    return _rule_row(row)


def list_rules(session: Session, *, category: str | None = None) -> list[dict]:
    query = select(RoutingRule).order_by(RoutingRule.category, RoutingRule.area_code,
                                         RoutingRule.id)
    if category is not None:
        query = query.where(RoutingRule.category == category)
    return [_rule_row(r) for r in session.scalars(query)]


def rules_for(session: Session, category: str, place_code: str | None) -> list[Rule]:
    """The rules of ``category`` whose area could contain ``place_code`` (its county)."""
    cond = [RoutingRule.category == category]
    if place_code:
        cond.append(RoutingRule.area_code.startswith(place_code[:6], autoescape=True))
    rows = session.scalars(select(RoutingRule).where(and_(*cond)))
    return [Rule(r.category, r.subcategory, r.area_code, r.department_code) for r in rows]


def suggestion(session: Session, category: str, subcategory: str | None,
               place_code: str | None) -> dict | None:
    """The department the routing rules give an incident at ``place_code`` (its community
    or grid code), as ``{code, name}``; None when no rule covers it (the grid's own staff)."""
    if not place_code:
        return None
    rule = resolve(rules_for(session, category, place_code), category, subcategory, place_code)
    if rule is None:
        return None
    name = session.scalar(select(DepartmentRow.name)
                          .where(DepartmentRow.code == rule.department_code))
    return {"code": rule.department_code, "name": name}
