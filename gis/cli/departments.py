"""``gridgis department ...``: functional departments and their routing rules (issue 16)."""

from __future__ import annotations

from pathlib import Path

import typer

from gis.cli.app import JsonOpt, app, console, emit
from gis.settings import Settings

department_app = typer.Typer(help="Functional departments (职能部门) and routing rules.",
                             no_args_is_help=True)
app.add_typer(department_app, name="department")


def _engine_and_actor():
    """The database, and the command line acting as an administrator (audited as 'cli')."""
    from gis.services import imports
    from gis.services.accounts import Principal

    return imports.open_database(Settings()), Principal(0, "cli", "admin", None)


@department_app.command("add")
def add(code: str = typer.Argument(..., help="Short code, e.g. zhujian."),
        name: str = typer.Option(..., help="Name, e.g. 县住建局."),
        area: str = typer.Option(..., help="12-digit code of the county or township served."),
        contact: str = typer.Option(None, help="Contact person."),
        phone: str = typer.Option(None, help="Contact phone."),
        email: str = typer.Option(None, help="Address its notices are mailed to (SMTP)."),
        json: bool = JsonOpt) -> None:
    """Register a department."""
    from gis.services import departments

    engine, actor = _engine_and_actor()
    emit(departments.create(engine, actor, code=code, name=name, area_code=area,
                            contact=contact, phone=phone, email=email), json, "department")


@department_app.command("list")
def list_(json: bool = JsonOpt) -> None:
    """List the departments."""
    from gis.services import departments

    engine, actor = _engine_and_actor()
    rows = departments.list_all(engine, actor)
    if json:
        emit({"departments": rows}, True)
        return
    for d in rows:
        console.print(f"{d['code']:<16} {d['area_code']}  {d['name']}"
                      f"{'  ' + d['contact'] if d['contact'] else ''}")
    console.print(f"{len(rows)} department(s)")


@department_app.command("import")
def import_(file: Path = typer.Argument(..., exists=True, dir_okay=False,
                                        help="CSV: code, name, area_code, contact?, "
                                             "phone?, email?"),
            json: bool = JsonOpt) -> None:
    """Import departments from a CSV, all or nothing (bad rows are listed)."""
    from gis.services import departments

    engine, actor = _engine_and_actor()
    emit(departments.import_departments(engine, actor, file), json, "imported")


@department_app.command("rules")
def rules(file: Path = typer.Argument(..., exists=True, dir_okay=False, help=(
              "CSV: category, subcategory (empty: any), area_code, department_code")),
          json: bool = JsonOpt) -> None:
    """Import routing rules from a CSV, all or nothing (bad rows are listed)."""
    from gis.services import departments

    engine, actor = _engine_and_actor()
    emit(departments.import_rules(engine, actor, file), json, "imported")


@department_app.command("limits")
def limits(import_file: Path = typer.Option(
               None, "--import", exists=True, dir_okay=False,
               help="CSV: step (acknowledge|handle), category, subcategory (empty: any), "
                    "area_code, amount, unit (hours|working_days); all rows or none, a "
                    "stored key is replaced"),
           json: bool = JsonOpt) -> None:
    """List the department time limits (after importing a file, with --import). Where no
    rule applies the built-in limits do; a part keeps the limits it began with."""
    from gis.services import department_limits

    engine, actor = _engine_and_actor()
    imported = department_limits.import_file(engine, actor, import_file) if import_file else None
    rows = department_limits.list_all(engine, actor)
    if json:
        emit({"imported": imported, "limits": rows} if imported else {"limits": rows}, True)
        return
    if imported:
        console.print(f"{imported['file']}: {imported['created']} new, "
                      f"{imported['updated']} replaced")
    for r in rows:
        console.print(f"{r['id']:>5} {r['step']:<12} {r['category']}/{r['subcategory'] or '*'}"
                      f"  {r['area_code']}  {r['amount']:g} {r['unit']}")
    console.print(f"{len(rows)} limit(s); the built-in limits apply elsewhere")


@department_app.command("holidays")
def holidays(file: Path = typer.Argument(..., exists=True, dir_okay=False, help=(
                 "CSV: date (YYYY-MM-DD), kind (holiday or workday for 调休), county?, name?")),
             county: str = typer.Option(None, help="County code when the file has no county "
                                                   "column."),
             json: bool = JsonOpt) -> None:
    """Import holiday calendars for limits in working days (the file's years replace those
    stored), all or nothing."""
    from gis.services import departments, imports

    out = departments.import_calendars(imports.open_database(Settings()), file, county=county)
    emit(out, json, "holidays")


@app.command("supervise")
def supervise(at: str = typer.Option(None, help="Raise the notices due at this time "
                                                "(ISO 8601 with zone; default: now)."),
              json: bool = JsonOpt) -> None:
    """Raise supervision notices (督办) for departments past their limits (run it
    periodically, e.g. every 10 minutes from cron)."""
    from datetime import datetime

    from gis.errors import InputError
    from gis.services import imports, supervision

    try:
        now = datetime.fromisoformat(at) if at else None
    except ValueError:
        raise InputError(f"--at must be an ISO 8601 time, not {at!r}", field="at") from None
    out = supervision.run(imports.open_database(Settings()), now=now, actor="cli")
    emit({"at": out["at"], "raised": len(out["raised"])} if not json else out, json,
         "supervision")
