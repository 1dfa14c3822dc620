"""Reports from outside the centre: a resident's ``/report`` (no account) and an Open311
client's service request. Both land in the dispatcher's queue as ``reported`` with their
channel, get a tracking code, keep contact details apart from the incident (never served
by a layer, tile or export) and a photo as an attachment of the incident (checked by
content, EXIF removed, stored by content hash under the data directory: gis.attachments). The store side is :mod:`gis.store.public_reports`."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field, replace

from sqlalchemy import Engine

from gis import attachments
from gis.errors import InputError, NotFound
from gis.incidents import validate_category
from gis.services import layers
from gis.services.idempotency import Once, write_once
from gis.services.layers import LAYERS, LayerQuery
from gis.services.uow import unit_of_work
from gis.settings import Settings
from gis.store import attachments as attachment_repo
from gis.store import incidents as incident_repo
from gis.store import public_reports as repo
from gis.store.public_reports import Contact
from gis.store.users import Principal
from gis.vocabulary import PUBLIC_STATUS_NOTES

__all__ = ["BASE_LAYERS", "Contact", "NEARBY_HOURS", "NEARBY_M", "NewReport", "base_bounds",
           "base_tile", "code_status", "contact", "nearby", "new_code", "submit"]

NEARBY_M = 50.0      # likely duplicates: open, same category, this close...
NEARBY_HOURS = 72    # ... and reported this recently
CODE_BYTES = 10      # 80 random bits: 16 base32 characters


def new_code() -> str:
    """An unguessable tracking code (16 characters of base32, A-Z and 2-7)."""
    return base64.b32encode(secrets.token_bytes(CODE_BYTES)).decode().rstrip("=")


@dataclass
class NewReport:
    """What a resident or a client sends (coordinates as given, in ``crs``)."""

    lon: float
    lat: float
    category: str
    subcategory: str | None = None
    description: str | None = None
    crs: str = "wgs84"
    contact: Contact = field(default_factory=Contact)
    photo: bytes | None = None
    media_url: str | None = None


def nearby(engine: Engine, lon: float, lat: float, category: str, *,
           crs: str = "wgs84") -> list[dict]:
    """Likely duplicates of a report about to be sent: open incidents of the same category
    within :data:`NEARBY_M` m reported in the last :data:`NEARBY_HOURS` h, nearest first,
    public fields only (category, status, when, how far)."""
    category, _ = validate_category(category, None)
    x, y = incident_repo.to_wgs84(lon, lat, crs)
    with unit_of_work(engine, read_only=True) as session:
        return repo.nearby_open(session, x, y, category, radius_m=NEARBY_M, hours=NEARBY_HOURS)


PHOTO_LIMITS = attachments.Limits(max_bytes=8 * 2**20)  # a phone photo, generously


def _photo(settings: Settings, data: bytes | None, lon: float,
           lat: float) -> tuple[attachments.Prepared, tuple[str, str]] | None:
    """The photo checked (by content), re-encoded without EXIF (a resident's phone writes
    where they live into it) with its thumbnail, and stored by content hash: an attachment
    of the incident, as the field app's photos are (gis.attachments)."""
    if not data:
        return None
    try:
        prepared = attachments.prepare(data, limits=PHOTO_LIMITS, incident_position=(lon, lat))
    except InputError as exc:  # the form's field is "photo"
        raise InputError(exc.problem.reason, field="photo") from None
    return prepared, attachments.store(settings.data_dir, prepared)


def submit(engine: Engine, settings: Settings, report: NewReport, *, channel: str = "public",
           principal: Principal | None = None, once: Once | None = None) -> dict:
    """Store the report as an incident (``reported``, ``channel``) with its tracking code;
    a point outside the managed county is an :class:`InputError` on ``lon``. An Open311
    client (``principal``) may only report inside its area (Forbidden)."""
    validate_category(report.category, report.subcategory)
    x, y = incident_repo.to_wgs84(report.lon, report.lat, report.crs)
    photo = _photo(settings, report.photo, x, y)  # by content hash: a replay adds no file

    def work(session) -> dict:
        if not repo.inside_area(session, x, y):
            raise InputError("the place lies outside the county served here", field="lon")
        new = incident_repo.NewIncident(
            lon=report.lon, lat=report.lat, crs=report.crs, category=report.category,
            subcategory=report.subcategory, description=report.description, channel=channel)
        actor = principal.username if principal is not None else channel
        row = incident_repo.create_incident(session, new, actor=actor, principal=principal,
                                            tolerance_m=settings.tolerance_m)
        code = new_code()
        repo.add(session, row["id"], code, report.contact, media_url=report.media_url)
        if photo is not None:
            attachment_repo.add(session, row["id"], *photo, step="report", actor=actor)
        return {"id": row["id"], "code": code, "status": row["status"],
                "category": row["category"], "reported_at": row["reported_at"]}

    return write_once(engine, once, principal, work)


def code_status(engine: Engine, code: str) -> dict:
    """The public view of a report by its tracking code: status with its public note and
    history, category, times and place; never a name, a phone or a staff note."""
    code = code.strip().upper()
    if not (10 <= len(code) <= 32) or not set(code) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"):
        raise NotFound("no report with this code")
    with unit_of_work(engine, read_only=True) as session:
        row = repo.by_code(session, code)
    if row is None:
        raise NotFound("no report with this code")
    zh, en = PUBLIC_STATUS_NOTES[row["status"]]
    return {"code": row["code"], "status": row["status"], "status_note_zh": zh,
            "status_note_en": en, "category": row["category"],
            "subcategory": row["subcategory"], "reported_at": row["reported_at"],
            "updated_at": row["updated_at"], "closed_at": row["closed_at"],
            "lon": row["lon"], "lat": row["lat"], "photos": row["photos"],
            "history": [{**h, "note_zh": PUBLIC_STATUS_NOTES[h["status"]][0],
                         "note_en": PUBLIC_STATUS_NOTES[h["status"]][1]}
                        for h in row["history"]]}


# -- the public base map ------------------------------------------------------------------------
def _outline(layer, keep: tuple[str, ...] = ()):
    """``layer`` with no properties but ``keep``: outlines for anyone to see."""
    columns = tuple(replace(f, zoom=f.zoom if f.name in keep else None) for f in layer.columns)
    return replace(layer, columns=columns, computed=())


# The county outline (with levels for the line style), grid outlines, roads (with their
# class for the width) and building outlines: no names, codes, households or kinds.
BASE_LAYERS = (_outline(LAYERS["admin_units"], ("level",)), _outline(LAYERS["grids"]),
               _outline(LAYERS["roads"], ("class",)), _outline(LAYERS["buildings"]))


def base_tile(engine: Engine, cache, z: int, x: int, y: int) -> bytes:
    """The public base map's tile z/x/y (``cache``: one used for nothing else)."""
    query = LayerQuery(principal=None)
    return layers.tile(engine, cache, [(layer, query) for layer in BASE_LAYERS], z, x, y).data


def base_bounds(engine: Engine) -> list[float]:
    """Where the report page's map opens: the managed area."""
    return layers.extent(engine, [LAYERS["admin_units"]], None)[0] or layers.CHINA


def contact(engine: Engine, incident_id: int, principal: Principal) -> dict:
    """The contact a resident or client left, for a dispatcher who may see the incident
    (NotFound otherwise); every read is written to the audit log."""
    from gis.store import audit

    with unit_of_work(engine) as session:
        incident_repo.get_incident(session, incident_id, principal)  # scope: NotFound
        found = repo.contact(session, incident_id)
        if found is None:
            raise NotFound(f"incident {incident_id} was not reported through a public channel")
        audit.record(session, principal.username, "read_contact", "incident", incident_id)
    return found
