"""Department time limits of this deployment in the store (table ``department_limits``).
Repositories: they flush, never commit. Rules are validated by
:mod:`gis.department_limits` before they come here; the table's checks and its unique key
are the last guard.

Visibility and writes follow the area: an account sees the rules of its area, of the
areas above it (a county rule applies in a township) and below it; a scoped admin writes
only rules inside its own area. :func:`limits_for` gives the limits in force for a
department's part of an incident, to be fixed on the part when it begins.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, literal_column, or_, select, true
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gis.clocks import Limit
from gis.department_limits import STEPS, LimitRule, resolve_limit
from gis.errors import Forbidden, InputError, NotFound
from gis.routing import area_prefix
from gis.store import audit
from gis.store.departments import area_exists, code_prefix
from gis.store.models import DepartmentLimit, Incident

FIELDS = ("id", "step", "category", "subcategory", "area_code", "amount", "unit",
          "updated_by", "updated_at")
_KEY = (DepartmentLimit.step, DepartmentLimit.category,
        literal_column("coalesce(subcategory, '')"), DepartmentLimit.area_code)


def as_dict(row) -> dict:
    return {f: getattr(row, f) for f in FIELDS}


def visible(principal) -> ColumnElement[bool]:
    """Rules of the caller's area, above it or inside it (everything without a scope)."""
    scope = getattr(principal, "scope_code", None) if principal else None
    if not scope:
        return true()
    prefix = area_prefix(scope)
    return or_(DepartmentLimit.area_code.startswith(prefix, autoescape=True),
               func.strpos(prefix, code_prefix(DepartmentLimit.area_code)) == 1)


def check_writable(session: Session, area_code: str, principal) -> None:
    """An existing admin unit inside the caller's area (a scoped admin sets the limits of
    its own area, not those of its neighbours or of the county above)."""
    if not area_exists(session, area_code):
        raise InputError(f"no admin unit {area_code}", field="area_code")
    scope = getattr(principal, "scope_code", None) if principal else None
    if scope and not area_code.startswith(area_prefix(scope)):
        raise Forbidden(f"area {area_code} lies outside your area {scope}")


def list_limits(session: Session, principal=None, *, category: str | None = None) -> list[dict]:
    query = (select(DepartmentLimit).where(visible(principal))
             .order_by(DepartmentLimit.category, DepartmentLimit.step,
                       DepartmentLimit.area_code, DepartmentLimit.subcategory.nulls_first(),
                       DepartmentLimit.id))
    if category is not None:
        query = query.where(DepartmentLimit.category == category)
    return [as_dict(r) for r in session.scalars(query)]


def _stored(session: Session, rule: LimitRule):
    return session.scalar(select(DepartmentLimit).where(
        DepartmentLimit.step == rule.step, DepartmentLimit.category == rule.category,
        DepartmentLimit.area_code == rule.area_code,
        func.coalesce(DepartmentLimit.subcategory, "") == (rule.subcategory or ""))
        .with_for_update())


def upsert(session: Session, rule: LimitRule, principal) -> tuple[dict, bool]:
    """Store ``rule``, replacing the amount and unit of a stored rule with the same key;
    ``(row, created)``. Parts already begun keep the limits fixed on them."""
    actor = getattr(principal, "username", None)
    check_writable(session, rule.area_code, principal)
    before = _stored(session, rule)
    before = as_dict(before) if before is not None else None
    stmt = insert(DepartmentLimit).values(
        step=rule.step, category=rule.category, subcategory=rule.subcategory,
        area_code=rule.area_code, amount=rule.limit.amount, unit=rule.limit.unit,
        updated_by=actor)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(_KEY),
        set_={"amount": stmt.excluded.amount, "unit": stmt.excluded.unit,
              "updated_by": stmt.excluded.updated_by, "updated_at": func.now()})
    row_id = session.execute(stmt.returning(DepartmentLimit.id)).scalar_one()
    session.expire_all()   # the ORM's copy of an updated row is stale
    row = as_dict(session.get(DepartmentLimit, row_id))
    audit.record(session, actor, "update" if before else "create", "department_limit",
                 row_id, before, row)
    return row, before is None


def delete(session: Session, limit_id: int, principal) -> dict:
    """Remove a rule (its key falls back to a less specific rule or the built-in limit for
    parts that begin from now on)."""
    row = session.scalar(select(DepartmentLimit).where(DepartmentLimit.id == limit_id,
                                                       visible(principal))
                         .with_for_update())
    if row is None:
        raise NotFound(f"no department limit {limit_id}")
    check_writable(session, row.area_code, principal)
    gone = as_dict(row)
    session.delete(row)
    session.flush()
    audit.record(session, getattr(principal, "username", None), "delete", "department_limit",
                 limit_id, gone, None)
    return gone


def stored_keys(session: Session) -> dict[tuple, int]:
    rows = session.execute(select(DepartmentLimit.id, DepartmentLimit.step,
                                  DepartmentLimit.category, DepartmentLimit.subcategory,
                                  DepartmentLimit.area_code)).all()
    return {(r.step, r.category, r.subcategory, r.area_code): r.id for r in rows}


def rules_for(session: Session, category: str, place_code: str | None) -> list[LimitRule]:
    """The rules of ``category`` whose area could contain ``place_code`` (its county)."""
    query = select(DepartmentLimit).where(DepartmentLimit.category == category)
    if place_code:
        query = query.where(DepartmentLimit.area_code.startswith(place_code[:6],
                                                                 autoescape=True))
    return [LimitRule(r.step, r.category, r.subcategory, r.area_code,
                      Limit(r.amount, r.unit), r.id) for r in session.scalars(query)]


def limits_for(session: Session, incident: Incident) -> dict[str, tuple[Limit, int | None]]:
    """``{step: (limit, rule id or None for the built-in default)}`` in force now for a
    department's part of ``incident``."""
    place = incident.community_code or incident.grid_code
    rules = rules_for(session, incident.category, place)
    out = {}
    for step in STEPS:
        limit, rule = resolve_limit(rules, step, incident.category, incident.subcategory,
                                    place, incident.level)
        out[step] = (limit, rule.id if rule else None)
    return out

