"""Photos on incidents: upload on the report or any step, read the served copy or the
thumbnail. Checks and files: :mod:`gis.attachments`; rows: :mod:`gis.store.attachments`.
An attachment follows its incident's scope: outside it, it does not exist (404)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from gis.attachments import Limits, check_count, check_step, open_stored, prepare, store
from gis.errors import NotFound
from gis.services.idempotency import Once, write_once
from gis.services.uow import unit_of_work
from gis.settings import Settings
from gis.store import attachments as repo
from gis.store.users import Principal

__all__ = ["Limits", "file_of", "list_for", "upload"]


def upload(engine: Engine, settings: Settings, principal: Principal, incident_id: int,
           data: bytes, *, step: str | None = None, limits: Limits = Limits(),
           once: Once | None = None) -> dict:
    """Check a photo, store its served copy and thumbnail under the data directory, and
    record it on the incident (locked, so the count limit holds under concurrent uploads).

    The files are written before the row: if the commit fails, what is left is a file
    named by its content that no row points at (a later identical upload reuses it),
    never a row without its file. The same photo resent with the same Idempotency-Key
    (the field app's queue retrying) gets the first answer and adds no second row.
    """
    step = check_step(step)

    def work(session):
        position = repo.incident_position(session, incident_id, principal, lock=True)
        check_count(repo.count_for(session, incident_id), limits)
        prepared = prepare(data, limits=limits, incident_position=position)
        paths = store(settings.data_dir, prepared)
        return repo.add(session, incident_id, prepared, paths, step=step,
                        actor=principal.username)

    return write_once(engine, once, principal, work)


def list_for(engine: Engine, principal: Principal, incident_id: int) -> list[dict]:
    with unit_of_work(engine, read_only=True) as session:
        repo.incident_position(session, incident_id, principal)   # the scope check
        return repo.list_for(session, incident_id)


def file_of(engine: Engine, settings: Settings, principal: Principal, attachment_id: int, *,
            thumbnail: bool = False) -> tuple[Path, str]:
    """``(path, content type)`` of the served copy (or the JPEG thumbnail)."""
    with unit_of_work(engine, read_only=True) as session:
        row = repo.get_visible(session, attachment_id, principal)
        relative, kind = ((row.thumb_path, "image/jpeg") if thumbnail
                          else (row.served_path, row.served_type))
    path = open_stored(settings.data_dir, relative)
    if not path.is_file():
        raise NotFound(f"the file of attachment {attachment_id} is missing from the data "
                       "directory (restore it from a backup)")
    return path, kind
