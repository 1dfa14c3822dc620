"""Cameras: list within the caller's area, read, add, move/rotate/switch with optimistic
locking (409 with the current version), delete. A change marks the grids it touches stale
for coverage; the answer lists the caller's stale grids. Queries: :mod:`gis.store.cameras`."""

from __future__ import annotations

from sqlalchemy import Engine

from gis.services.uow import unit_of_work
from gis.store import cameras as repo
from gis.store.cameras import MAX_PAGE, feature
from gis.store.users import Principal

__all__ = ["MAX_PAGE", "create", "delete", "get", "list_page", "update"]


def list_page(engine: Engine, principal: Principal, *, status: str | None = None,
              type_: str | None = None, bbox: tuple | None = None, limit: int = 1000,
              offset: int = 0) -> tuple[int, list[dict]]:
    """``(total matching, one page of Features)``."""
    with unit_of_work(engine, read_only=True) as session:
        total, rows = repo.list_cameras(session, principal, status=status, type_=type_,
                                        bbox=bbox, limit=limit, offset=offset)
    return total, [feature(r) for r in rows]


def get(engine: Engine, camera_id: int, principal: Principal) -> dict:
    with unit_of_work(engine, read_only=True) as session:
        return feature(repo.get_camera(session, camera_id, principal))


def _with_stale(session, principal: Principal, row: dict) -> dict:
    """The camera as a Feature plus the grids of the caller's area whose coverage is now out
    of date (POST /coverage/run with only_stale recomputes them)."""
    return {**feature(row), "stale_grids": repo.stale_grids(session, principal.scope_prefix)}


def create(engine: Engine, principal: Principal, values: dict) -> dict:
    """Add a camera inside the caller's area."""
    with unit_of_work(engine) as session:
        row = repo.create_camera(session, repo.as_fields(values), principal,
                                 actor=principal.username)
        return _with_stale(session, principal, row)


def update(engine: Engine, principal: Principal, camera_id: int, version: int,
           changes: dict) -> dict:
    """Move, rotate or switch a camera read at ``version`` (409 if it changed since)."""
    with unit_of_work(engine) as session:
        row = repo.update_camera(session, camera_id, version, repo.as_fields(changes),
                                 principal, actor=principal.username)
        return _with_stale(session, principal, row)


def delete(engine: Engine, principal: Principal, camera_id: int, version: int) -> None:
    with unit_of_work(engine) as session:
        repo.delete_camera(session, camera_id, version, principal, actor=principal.username)
