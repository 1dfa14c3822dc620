"""Reports from outside the centre (a resident's /report, an Open311 client): where a
point may be reported, likely duplicates nearby, the report's own row (tracking code,
contact, photo) beside the incident, and the public view of an incident.

The public view never carries personal data: no reporter, no contact, no staff name, no
free-text note written by staff; only the category, the status and its history, times
and the place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, insert, select
from sqlalchemy.orm import Session

from gis.incidents import OPEN_STATUSES
from gis.store.models import AdminUnit, Attachment, Incident, IncidentEvent, PublicReport

PUBLIC_CHANNELS = ("public", "open311")


def _point(lon: float, lat: float):
    return func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)


def inside_area(session: Session, lon: float, lat: float) -> bool:
    """Whether the point lies in the managed county (any admin unit covers it)."""
    return bool(session.scalar(select(func.count()).select_from(AdminUnit).where(
        func.ST_Covers(AdminUnit.geom, _point(lon, lat)))))


def nearby_open(session: Session, lon: float, lat: float, category: str, *,
                radius_m: float, hours: float, limit: int = 20) -> list[dict]:
    """Open incidents of ``category`` reported in the last ``hours`` within ``radius_m``
    metres, nearest first, public fields only."""
    here = func.ST_GeogFromWKB(func.ST_AsBinary(_point(lon, lat)))
    there = func.ST_GeogFromWKB(func.ST_AsBinary(Incident.geom))
    distance = func.ST_Distance(there, here).label("distance_m")
    rows = session.execute(
        select(Incident.category, Incident.subcategory, Incident.status,
               Incident.reported_at, distance)
        .where(Incident.category == category, Incident.status.in_(OPEN_STATUSES),
               Incident.reported_at >= func.now() - func.make_interval(0, 0, 0, 0, hours),
               func.ST_DWithin(there, here, radius_m))
        .order_by(distance).limit(limit)).mappings().all()
    return [{**r, "distance_m": round(float(r["distance_m"]), 1)} for r in rows]


@dataclass
class Contact:
    """What a resident or an Open311 client may leave to be called back (all optional)."""

    phone: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None


def add(session: Session, incident_id: int, code: str, contact: Contact, *,
        media_url: str | None = None) -> None:
    session.execute(insert(PublicReport).values(
        incident_id=incident_id, code=code, phone=contact.phone, email=contact.email,
        first_name=contact.first_name, last_name=contact.last_name, media_url=media_url))


def _updated():
    return (select(func.max(IncidentEvent.at)).where(IncidentEvent.incident_id == Incident.id)
            .correlate(Incident).scalar_subquery())


def _public_columns() -> list:
    return [Incident.id, Incident.category, Incident.subcategory, Incident.description,
            Incident.status, Incident.reported_at, Incident.due_at, Incident.closed_at,
            Incident.channel, func.coalesce(_updated(), Incident.reported_at).label("updated_at"),
            func.ST_X(Incident.geom).label("lon"), func.ST_Y(Incident.geom).label("lat"),
            PublicReport.code, PublicReport.media_url,
            select(func.count()).select_from(Attachment)
            .where(Attachment.incident_id == Incident.id).correlate(Incident)
            .scalar_subquery().label("photos")]


def _history(session: Session, incident_id: int) -> list[dict]:
    rows = session.execute(select(IncidentEvent.to_status, IncidentEvent.at)
                           .where(IncidentEvent.incident_id == incident_id)
                           .order_by(IncidentEvent.at, IncidentEvent.id)).mappings().all()
    return [{"status": r["to_status"], "at": r["at"]} for r in rows]


def by_code(session: Session, code: str) -> dict | None:
    """The public view of the report with tracking ``code`` (None: no such code)."""
    row = session.execute(select(*_public_columns())
                          .join(PublicReport, PublicReport.incident_id == Incident.id)
                          .where(PublicReport.code == code)).mappings().first()
    if row is None:
        return None
    return {**row, "history": _history(session, row["id"])}


@dataclass
class RequestFilter:
    """GET requests of Open311: ids, or service codes, a period and open/closed."""

    ids: list[int] | None = None
    categories: list[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    closed: bool | None = None


def requests(session: Session, flt: RequestFilter, *, limit: int) -> list[dict]:
    """Incidents that came in through the public channels, newest first, public fields."""
    where = [Incident.channel.in_(PUBLIC_CHANNELS)]
    if flt.ids is not None:
        where.append(Incident.id.in_(flt.ids))
    else:
        if flt.categories:
            where.append(Incident.category.in_(flt.categories))
        if flt.start is not None:
            where.append(Incident.reported_at >= flt.start)
        if flt.end is not None:
            where.append(Incident.reported_at <= flt.end)
        if flt.closed is not None:
            where.append((Incident.status == "closed") if flt.closed
                         else (Incident.status != "closed"))
    rows = session.execute(select(*_public_columns())
                           .outerjoin(PublicReport, PublicReport.incident_id == Incident.id)
                           .where(and_(*where))
                           .order_by(Incident.reported_at.desc(), Incident.id.desc())
                           .limit(limit)).mappings().all()
    return [dict(r) for r in rows]


def county_codes(session: Session) -> list[str]:
    """Codes of the counties served (the Open311 jurisdiction)."""
    return list(session.scalars(select(AdminUnit.code).where(AdminUnit.level == "county")
                                .order_by(AdminUnit.code)))


def contact(session: Session, incident_id: int) -> dict | None:
    """The contact a reporter left for an incident (None: not a public report)."""
    row = session.execute(select(PublicReport.phone, PublicReport.email,
                                 PublicReport.first_name, PublicReport.last_name,
                                 PublicReport.code)
                          .where(PublicReport.incident_id == incident_id)).mappings().first()
    return None if row is None else dict(row)
