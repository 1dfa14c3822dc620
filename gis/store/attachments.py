"""Attachment rows in the store (the files are written by :mod:`gis.attachments`).
Repositories: they flush, never commit. An attachment is visible exactly when its incident
is: the caller passes the incident check of :mod:`gis.store.incidents` first."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis.attachments import Prepared
from gis.errors import NotFound
from gis.store import audit
from gis.store.incidents import in_scope
from gis.store.models import Attachment, Incident
from gis.store.users import Principal

PUBLIC = ("id", "incident_id", "step", "sha256", "content_type", "bytes", "width", "height",
          "photo_lon", "photo_lat", "distance_m", "far", "uploaded_by", "uploaded_at")


def as_dict(row: Attachment) -> dict:
    return {k: getattr(row, k) for k in PUBLIC}


def incident_position(session: Session, incident_id: int, principal: Principal | None, *,
                      lock: bool = False) -> tuple[float, float]:
    """``(lon, lat)`` of an incident the caller may see (NotFound otherwise); ``lock`` holds
    the row so concurrent uploads count attachments one at a time."""
    query = select(func.ST_X(Incident.geom), func.ST_Y(Incident.geom)).where(
        Incident.id == incident_id, in_scope(principal))
    row = session.execute(query.with_for_update(of=Incident) if lock else query).first()
    if row is None:
        raise NotFound(f"no incident {incident_id}")
    return float(row[0]), float(row[1])


def get_visible(session: Session, attachment_id: int, principal: Principal | None) -> Attachment:
    """The attachment if its incident is visible to the caller; NotFound otherwise (the
    same answer as for a missing one, so ids outside the scope reveal nothing)."""
    row = session.scalar(select(Attachment).join(Incident, Incident.id == Attachment.incident_id)
                         .where(Attachment.id == attachment_id, in_scope(principal)))
    if row is None:
        raise NotFound(f"no attachment {attachment_id}")
    return row


def count_for(session: Session, incident_id: int) -> int:
    return int(session.scalar(select(func.count()).select_from(Attachment)
                              .where(Attachment.incident_id == incident_id)) or 0)


def add(session: Session, incident_id: int, prepared: Prepared, paths: tuple[str, str], *,
        step: str | None, actor: str | None) -> dict:
    row = Attachment(incident_id=incident_id, step=step, sha256=prepared.sha256,
                     content_type=prepared.content_type, bytes=prepared.bytes,
                     width=prepared.width, height=prepared.height,
                     served_type=prepared.served_type, served_path=paths[0],
                     thumb_path=paths[1], photo_lon=prepared.photo_lon,
                     photo_lat=prepared.photo_lat, distance_m=prepared.distance_m,
                     far=prepared.far, uploaded_by=actor)
    session.add(row)
    session.flush()
    audit.record(session, actor, "create", "attachment", row.id, None,
                 {"incident_id": incident_id, "sha256": prepared.sha256, "step": step,
                  "far": prepared.far})
    return as_dict(row)


def get(session: Session, attachment_id: int) -> Attachment:
    """The row (scope is checked on its incident by the caller)."""
    row = session.get(Attachment, attachment_id)
    if row is None:
        raise NotFound(f"no attachment {attachment_id}")
    return row


def list_for(session: Session, incident_id: int) -> list[dict]:
    rows = session.scalars(select(Attachment).where(Attachment.incident_id == incident_id)
                           .order_by(Attachment.id))
    return [as_dict(r) for r in rows]


def move(session: Session, from_incident: int, to_incident: int) -> int:
    """Attachments of a merged incident go to its survivor; how many moved."""
    rows = list(session.scalars(select(Attachment)
                                .where(Attachment.incident_id == from_incident)))
    for row in rows:
        row.incident_id = to_incident
    session.flush()
    return len(rows)
