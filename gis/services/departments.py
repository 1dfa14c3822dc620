"""Departments (职能部门) and routing rules (集中受理、统一分流): register, list, import from
CSV, and suggest the department that owns an incident. Rules: :mod:`gis.routing`; queries:
:mod:`gis.store.departments`."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Engine

from gis.errors import InvalidRows, RowProblem
from gis.routing import Department, Rule, read_departments, read_rules
from gis.services.uow import unit_of_work
from gis.store import departments as repo
from gis.store.users import Principal

__all__ = ["create", "create_rule", "import_calendars", "import_departments", "import_rules",
           "list_all", "list_rules", "performance", "suggest"]


def create(engine: Engine, principal: Principal, *, code: str, name: str, area_code: str,
           contact: str | None = None, phone: str | None = None,
           email: str | None = None) -> dict:
    """Register a department serving a county or township (409 if the code exists)."""
    dept = Department.checked(code, name, area_code, contact, phone, email)
    with unit_of_work(engine) as session:
        return repo.add_department(session, dept, actor=principal.username)


def list_all(engine: Engine, principal: Principal) -> list[dict]:
    """The departments the caller may see (a department account: its own)."""
    with unit_of_work(engine, read_only=True) as session:
        return repo.list_departments(session, principal)


def create_rule(engine: Engine, principal: Principal, *, category: str,
                subcategory: str | None, area_code: str, department_code: str) -> dict:
    """Add a routing rule (409 if one already covers the same category, subcategory and
    area)."""
    rule = Rule.checked(category, subcategory, area_code, department_code)
    with unit_of_work(engine) as session:
        return repo.add_rule(session, rule, actor=principal.username)


def list_rules(engine: Engine, *, category: str | None = None) -> list[dict]:
    with unit_of_work(engine, read_only=True) as session:
        return repo.list_rules(session, category=category)


def suggest(engine: Engine, category: str, subcategory: str | None,
            place_code: str | None) -> dict | None:
    """The department the rules route an incident to, ``{code, name}``, or None (the
    grid's own staff)."""
    with unit_of_work(engine, read_only=True) as session:
        return repo.suggestion(session, category, subcategory, place_code)


def _refuse(problems: list[RowProblem], file: str) -> None:
    if problems:
        raise InvalidRows(problems, file=file)


def import_departments(engine: Engine, principal: Principal, path: Path) -> dict:
    """Departments from a CSV (code, name, area_code, contact?, phone?, email?), all or nothing:
    a bad row, an unknown area or an existing code refuses the file, naming the row."""
    rows = read_departments(path, with_rows=True)
    with unit_of_work(engine) as session:
        known, problems = repo.department_codes(session), []
        for number, dept in rows:
            if dept.code in known:
                problems.append(RowProblem(number, "code", f"department {dept.code!r} "
                                           "already exists", str(path)))
            elif not repo.area_exists(session, dept.area_code):
                problems.append(RowProblem(number, "area_code", f"no admin unit "
                                           f"{dept.area_code}", str(path)))
        _refuse(problems, str(path))
        for _, dept in rows:
            repo.add_department(session, dept, actor=principal.username)
    return {"file": str(path), "departments": len(rows)}


def import_rules(engine: Engine, principal: Principal, path: Path) -> dict:
    """Routing rules from a CSV (category, subcategory?, area_code, department_code), all
    or nothing: departments must exist, and a rule whose key is already stored refuses the
    file, naming the row."""
    with unit_of_work(engine) as session:
        rows = read_rules(path, departments=repo.department_codes(session), with_rows=True)
        stored = {(r["category"], r["subcategory"], r["area_code"])
                  for r in repo.list_rules(session)}
        problems = [RowProblem(number, "area_code", "a rule for the same category, "
                               "subcategory and area is already stored", str(path))
                    for number, rule in rows if rule.key in stored]
        problems += [RowProblem(number, "area_code", f"no admin unit {rule.area_code}",
                                str(path))
                     for number, rule in rows if not repo.area_exists(session, rule.area_code)]
        _refuse(sorted(problems, key=lambda p: p.row), str(path))
        for _, rule in rows:
            repo.add_rule(session, rule, actor=principal.username)
    return {"file": str(path), "rules": len(rows)}


def import_calendars(engine: Engine, path: Path, *, county: str | None = None) -> dict:
    """Holiday calendars from a CSV (date, kind = holiday | workday, county unless
    ``county`` names it), all or nothing; the years in the file replace those stored."""
    from gis.clocks import read_calendars
    from gis.store import calendars

    parsed = read_calendars(path, county=county)
    with unit_of_work(engine) as session:
        days = calendars.replace_days(session, parsed)
    return {"file": str(path), "days": days}


def performance(engine: Engine, principal: Principal, flt, *,
                now: datetime | None = None) -> dict:
    """Per department the caller may see, for the cases it received in
    ``[flt.start, flt.end)`` (default: everything until now): received, acknowledged and
    closed on time (按期办结率), reopened, returned, median hours; worst first (逆排名)."""
    from gis import department_performance as perf
    from gis.store import department_stats

    now = now or datetime.now(timezone.utc)
    from gis.store.calendars import calendar_for

    with unit_of_work(engine, read_only=True) as session:
        events, incidents = department_stats.frames(session, principal, flt)
        known = [d["code"] for d in repo.list_departments(session, principal)]
        county = (principal.scope_code or (incidents["county"].mode().iat[0]
                                           if len(incidents) else None))
        calendar = calendar_for(session, county)
        fixed = department_stats.part_limits(session, incidents["id"]) if len(incidents) else {}
    start = flt.start or datetime(1970, 1, 1, tzinfo=timezone.utc)
    end = flt.end or now
    assigned = (perf.assignments(events, incidents, calendar=calendar, part_limits=fixed)
                if len(events) else _no_assignments())
    ranked = perf.ranking(perf.performance(assigned, start, end, departments=known))
    rows = ranked.astype(object).where(ranked.notna(), None).to_dict("records")
    return {"start": flt.start, "end": end, "departments": rows}


def _no_assignments():
    import pandas as pd

    times = pd.Series([], dtype="datetime64[ns, UTC]")
    return pd.DataFrame({"incident_id": pd.Series([], dtype=int), "department_code": [],
                         "received_at": times, "acknowledged_at": times, "done_at": times,
                         "ack_due_at": times, "handle_due_at": times,
                         "reopened": pd.Series([], dtype=int),
                         "returned": pd.Series([], dtype=int)})
