"""Cameras in the store: list, read, create, move/rotate/switch and delete within the
caller's scope, with optimistic locking on ``version`` (issue 8): a change based on an
old version is refused with :class:`gis.errors.Conflict` carrying the current version,
so a lost update is impossible.

Scope: cameras have no admin code, so they are scoped by location (inside the caller's
admin area). A camera outside the scope does not exist for the caller (NotFound); placing
or moving one outside it is Forbidden. Every change is audited, and the coverage triggers
(migration 0003) mark the grids within the camera's reach as stale.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from sqlalchemy import ColumnElement, delete, func, insert, select, update
from sqlalchemy.orm import Session

from gis.errors import Conflict, Forbidden, InputError, NotFound
from gis.vocabulary import CAMERA_STATUSES, CAMERA_TYPES
from gis.store import audit
from gis.store.incidents import to_wgs84
from gis.store.models import Camera, CoverageStale
from gis.store.scope import geom_in_scope
from gis.store.users import Principal

MAX_PAGE = 5000
EDITABLE = ("code", "type", "status", "azimuth", "fov", "range_m", "height_m")


@dataclass
class CameraFields:
    """Camera attributes as sent by a client; ``None`` means "not given"."""

    code: str | None = None
    type: str | None = None
    status: str | None = None
    azimuth: float | None = None
    fov: float | None = None
    range_m: float | None = None
    height_m: float | None = None
    lon: float | None = None
    lat: float | None = None
    crs: str = "wgs84"


def _columns() -> list:
    return [Camera.id, Camera.code, Camera.type, Camera.status, Camera.azimuth, Camera.fov,
            Camera.range_m, Camera.height_m, Camera.version, Camera.updated_at,
            func.ST_X(Camera.geom).label("lon"), func.ST_Y(Camera.geom).label("lat")]


def feature(row) -> dict:
    """A camera row as a GeoJSON feature."""
    props = {k: row[k] for k in row.keys() if k not in ("lon", "lat")}
    return {"type": "Feature", "id": row["id"], "properties": props,
            "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]}}


def _validate(values: dict) -> dict:
    """Vocabulary and range checks before PostgreSQL sees the values (errors name the field)."""
    if values.get("type") is not None and values["type"] not in CAMERA_TYPES:
        raise InputError(f"unknown camera type {values['type']!r} (one of "
                         f"{', '.join(CAMERA_TYPES)})", field="type")
    if values.get("status") is not None and values["status"] not in CAMERA_STATUSES:
        raise InputError(f"unknown status {values['status']!r} (one of "
                         f"{', '.join(CAMERA_STATUSES)})", field="status")
    if values.get("azimuth") is not None:
        # 360 and -90 are directions too; a tiny negative rounds to 360.0, which is 0
        values["azimuth"] = float(values["azimuth"]) % 360.0 % 360.0
    if values.get("fov") is not None and not 0 < values["fov"] <= 360:
        raise InputError("fov must be in (0, 360] degrees", field="fov")
    for name in ("range_m", "height_m"):
        if values.get(name) is not None and values[name] < 0:
            raise InputError(f"{name} must be >= 0", field=name)
    return values


def _point(new: CameraFields):
    lon, lat = to_wgs84(new.lon, new.lat, new.crs)
    return func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)


def _check_inside(session: Session, point, principal: Principal | None) -> None:
    if not session.scalar(select(geom_in_scope(point, principal))):
        raise Forbidden("the camera's location is outside your area")


def in_scope(principal: Principal | None) -> ColumnElement[bool]:
    return geom_in_scope(Camera.geom, principal)


def get_camera(session: Session, camera_id: int, principal: Principal | None) -> dict:
    row = session.execute(select(*_columns()).where(Camera.id == camera_id, in_scope(principal))
                          ).mappings().first()
    if row is None:
        raise NotFound(f"no camera {camera_id}")
    return dict(row)


def list_cameras(session: Session, principal: Principal | None, *, status: str | None = None,
                 type_: str | None = None, bbox: tuple[float, float, float, float] | None = None,
                 limit: int = 1000, offset: int = 0) -> tuple[int, list[dict]]:
    """Cameras in the caller's scope (and ``bbox`` lon/lat), ordered by id; (total, page)."""
    cond = [in_scope(principal)]
    if status:
        cond.append(Camera.status == status)
    if type_:
        cond.append(Camera.type == type_)
    if bbox:
        cond.append(Camera.geom.op("&&")(func.ST_MakeEnvelope(*bbox, 4326)))
    total = session.scalar(select(func.count()).select_from(Camera).where(*cond))
    rows = session.execute(select(*_columns()).where(*cond).order_by(Camera.id)
                           .limit(min(limit, MAX_PAGE)).offset(offset)).mappings().all()
    return int(total), [dict(r) for r in rows]


def create_camera(session: Session, new: CameraFields, principal: Principal | None, *,
                  actor: str | None = None) -> dict:
    """Insert a camera (type required, location required; other fields default by type
    when the analysis runs). Returns it with the grids now marked stale."""
    if new.type is None:
        raise InputError("type is required", field="type")
    if new.lon is None or new.lat is None:
        raise InputError("lon and lat are required", field="lon" if new.lon is None else "lat")
    values = _validate({k: getattr(new, k) for k in EDITABLE if getattr(new, k) is not None})
    point = _point(new)
    _check_inside(session, point, principal)
    _check_code(session, values.get("code"))
    camera_id = session.scalar(insert(Camera).values(**values, geom=point).returning(Camera.id))
    row = get_camera(session, camera_id, None)
    audit.record(session, actor, "create", "camera", camera_id, None, row)
    return row


def update_camera(session: Session, camera_id: int, version: int, changes: CameraFields,
                  principal: Principal | None, *, actor: str | None = None) -> dict:
    """Move, rotate, switch or re-type a camera, if ``version`` is still the current one."""
    before = get_camera(session, camera_id, principal)
    values = _validate({k: getattr(changes, k) for k in EDITABLE
                        if getattr(changes, k) is not None})
    if (changes.lon is None) != (changes.lat is None):
        raise InputError("send lon and lat together", field="lon" if changes.lon is None
                         else "lat")
    if changes.lon is not None:
        values["geom"] = _point(changes)
        _check_inside(session, values["geom"], principal)
    _check_code(session, values.get("code"), camera_id)
    done = session.scalar(update(Camera).where(Camera.id == camera_id, Camera.version == version)
                          .values(**values, version=Camera.version + 1, updated_at=func.now())
                          .returning(Camera.id))
    if done is None:
        raise _conflict(session, camera_id)
    after = get_camera(session, camera_id, None)
    audit.record(session, actor, "update", "camera", camera_id, before, after)
    return after


def delete_camera(session: Session, camera_id: int, version: int,
                  principal: Principal | None, *, actor: str | None = None) -> None:
    """Delete a camera, if ``version`` is still the current one."""
    before = get_camera(session, camera_id, principal)
    done = session.scalar(delete(Camera).where(Camera.id == camera_id, Camera.version == version)
                          .returning(Camera.id))
    if done is None:
        raise _conflict(session, camera_id)
    audit.record(session, actor, "delete", "camera", camera_id, before, None)


def _conflict(session: Session, camera_id: int) -> Conflict | NotFound:
    current = session.scalar(select(Camera.version).where(Camera.id == camera_id))
    if current is None:
        return NotFound(f"no camera {camera_id}")  # deleted meanwhile
    return Conflict(f"camera {camera_id} was changed by someone else (now version "
                    f"{current}); reload it and apply your change again",
                    current_version=int(current))


def _check_code(session: Session, code: str | None, camera_id: int | None = None) -> None:
    if code is None:
        return
    other = session.scalar(select(Camera.id).where(Camera.code == code))
    if other is not None and other != camera_id:
        raise Conflict(f"camera code {code!r} is already used by another camera")


def stale_grids(session: Session, codes_like: str = "") -> list[str]:
    """Grid codes (starting with ``codes_like``) whose coverage is marked stale."""
    return list(session.scalars(select(CoverageStale.grid_code)
                                .where(CoverageStale.grid_code.startswith(codes_like,
                                                                          autoescape=True))
                                .order_by(CoverageStale.grid_code)))


def as_fields(data: dict) -> CameraFields:
    """A :class:`CameraFields` from a dict of the known keys (others ignored)."""
    names = {f.name for f in fields(CameraFields)}
    return CameraFields(**{k: v for k, v in data.items() if k in names and v is not None})

