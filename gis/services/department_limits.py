"""Department time limits of this deployment (issue 16 items 4 and 10): list, set (upsert
by key), remove and import from CSV the limits to acknowledge (报到) and to handle (办结),
per category (optionally subcategory) and area, in hours or working days. Rules:
:mod:`gis.department_limits`; queries: :mod:`gis.store.department_limits`.

A limit is fixed on a department's part when the department is dispatched or summoned,
so these use cases never move a deadline already set."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from gis.department_limits import LimitRule, read_limit_rules
from gis.errors import Forbidden, InputError
from gis.services.uow import unit_of_work
from gis.store import department_limits as repo
from gis.store.users import Principal

__all__ = ["import_file", "list_all", "remove", "set_limit"]


def list_all(engine: Engine, principal: Principal, *, category: str | None = None) -> list[dict]:
    """The rules of the caller's area, above it and inside it."""
    with unit_of_work(engine, read_only=True) as session:
        return repo.list_limits(session, principal, category=category)


def set_limit(engine: Engine, principal: Principal, *, step: str, category: str,
              subcategory: str | None, area_code: str, amount: float,
              unit: str) -> tuple[dict, bool]:
    """Store one rule, replacing the stored rule with the same step, category, subcategory
    and area; ``(rule, created)``."""
    rule = LimitRule.checked(step, category, subcategory, area_code, amount, unit)
    with unit_of_work(engine) as session:
        return repo.upsert(session, rule, principal)


def remove(engine: Engine, principal: Principal, limit_id: int) -> dict:
    with unit_of_work(engine) as session:
        return repo.delete(session, limit_id, principal)


def import_file(engine: Engine, principal: Principal, path: Path, *,
                name: str | None = None) -> dict:
    """Rules from a CSV (step, category, subcategory?, area_code, amount, unit), all or
    nothing: every bad row is named (row number, field, why) and nothing is stored; a row
    whose key is stored replaces that rule's amount and unit."""
    file = name or str(path)
    with unit_of_work(engine) as session:
        rows = read_limit_rules(path, file=file, check_area=_row_area(session, principal))
        stored = repo.stored_keys(session)
        updated = sum(rule.key in stored for _, rule in rows)
        for _, rule in rows:
            repo.upsert(session, rule, principal)
    return {"file": file, "rules": len(rows), "created": len(rows) - updated,
            "updated": updated}


def _row_area(session, principal: Principal):
    """The area check of one row: in a file, an area outside the caller's is a bad row
    (named with the others), not a refusal of the whole request."""
    def check(code: str) -> None:
        try:
            repo.check_writable(session, code, principal)
        except Forbidden as err:
            raise InputError(str(err), field="area_code") from None
    return check
