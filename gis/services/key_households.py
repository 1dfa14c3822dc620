"""The key-household register (重点家庭/特殊群体, issue 18): list, read, add, edit, delete and
import a file, each one unit of work. Every read is audited in the same transaction, so
the entry is committed before the households are returned. Rows: :mod:`gis.store.
key_households`; the checks of a file's rows (least personal data): :mod:`gis.assessment.
register`."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine

from gis.assessment.register import register_rows
from gis.errors import InputError
from gis.services.uow import unit_of_work
from gis.store import key_households as repo
from gis.store.users import Principal

__all__ = ["MAX_PAGE", "create", "delete", "get", "import_file", "list_page", "update"]
MAX_PAGE = repo.MAX_PAGE


def list_page(engine: Engine, principal: Principal, *, area: str | None = None,
              kind: str | None = None, limit: int = 1000, offset: int = 0):
    """``(total, page)`` of the households in ``area`` (default: the caller's scope)."""
    with unit_of_work(engine) as session:  # not read-only: the audit entry must be kept
        return repo.list_page(session, principal, area, kind=kind, limit=limit, offset=offset)


def get(engine: Engine, principal: Principal, kh_id: int) -> dict:
    with unit_of_work(engine) as session:
        return repo.get(session, principal, kh_id)


def create(engine: Engine, principal: Principal, row: dict) -> dict:
    """Register one household in the caller's area (placed by building or position)."""
    with unit_of_work(engine) as session:
        return repo.create(session, principal, row)


def update(engine: Engine, principal: Principal, kh_id: int, version: int, changes: dict) -> dict:
    """Edit a household read at ``version`` (Conflict with the current one if it changed)."""
    with unit_of_work(engine) as session:
        return repo.update_one(session, principal, kh_id, version, changes)


def delete(engine: Engine, principal: Principal, kh_id: int, version: int) -> None:
    with unit_of_work(engine) as session:
        repo.delete_one(session, principal, kh_id, version)


@contextmanager
def named(name: str):
    """Errors of reading an uploaded file name it as the client did, never by the
    server's temporary path."""
    try:
        yield
    except InputError as exc:
        p = exc.problem
        raise InputError(p.reason, file=name, row=p.row, field=p.field) from exc


def import_file(engine: Engine, principal: Principal, path: str | Path, *, name: str | None = None,
                crs: str | None = None) -> dict:
    """Add every household of a CSV or vector file, or none (InvalidRows lists each
    problem by row and field; a column of personal data refuses the file)."""
    from gis.assessment.files import read_points

    name = name or Path(path).name
    with named(name):
        rows = register_rows(read_points(path, crs=crs), file=name)
    with unit_of_work(engine) as session:
        ids = repo.import_rows(session, principal, rows, name)
    return {"file": name, "rows_read": len(rows), "rows_loaded": len(ids)}
