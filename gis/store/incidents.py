"""Incidents in the store: create, move through the closed loop, read and list within the
caller's scope. The loop's rules are :mod:`gis.incidents`; grid assignment is
:mod:`gis.store.assignment`; statistics, hot spots and locate are
:mod:`gis.store.incident_queries`.

Scope: an incident belongs to the community it was assigned to (admin codes nest by
prefix); one outside every grid and community is scoped by its location instead. An
incident outside the caller's scope does not exist for them (NotFound, never Forbidden).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import (ColumnElement, and_, func, insert, literal, or_, select, text,
                        update)
from sqlalchemy.orm import Session

from gis import incidents as loop
from gis.crs import bd09_to_wgs84, gcj02_to_wgs84
from gis.errors import Conflict, Forbidden, InputError, NotFound
from gis.vocabulary import INCIDENT_STATUSES
from gis.store import audit
from gis.store.assignment import assign_incidents
from gis.store.departments import suggestion
from gis.store.models import Incident, IncidentEvent
from gis.store.overdue import overdue_case
from gis.store.scope import code_in_scope, geom_in_scope
from gis.store.users import Principal

SOURCE_CRS = ("wgs84", "gcj02", "bd09")
MAX_PAGE = 1000
_CLOCK_SKEW = timedelta(minutes=5)


# -- scope and computed columns ------------------------------------------------------------
def in_scope(principal: Principal | None) -> ColumnElement[bool]:
    """Incidents the caller may see: by community code, or by location when unassigned; a
    department account only those routed or summoned to its department (issue 16)."""
    area = or_(code_in_scope(Incident.community_code, principal),
               and_(Incident.community_code.is_(None), geom_in_scope(Incident.geom, principal)))
    department = getattr(principal, "department_code", None)
    return and_(area, for_department(department)) if department else area


def counted_once() -> ColumnElement[bool]:
    """Statistics leave out a merged duplicate: it counts once, as its survivor."""
    return Incident.merged_into.is_(None)


def for_department(code: str) -> ColumnElement[bool]:
    """Incidents dispatched to the department ``code`` or that summoned it."""
    from sqlalchemy.orm import aliased

    from gis.store.models import Summons

    part = aliased(Summons)   # its own name: a query over summons may use this condition
    summoned = select(part.id).where(part.incident_id == Incident.id,
                                     part.department_code == code).exists()
    return or_(Incident.department_code == code, summoned)


def overdue_expr(now: datetime) -> ColumnElement:
    """SQL for :func:`gis.incidents.overdue`: the reason an incident is overdue, or NULL
    (generated from the rule's table of cases, :mod:`gis.store.overdue`)."""
    return overdue_case(Incident, literal(now))


def _columns(now: datetime) -> list:
    return [Incident.id, Incident.external_id, Incident.category, Incident.subcategory,
            Incident.description, Incident.reporter, Incident.reported_at, Incident.status,
            Incident.level, Incident.due_at, Incident.closed_at, Incident.grid_code,
            Incident.grid_code_at_report, Incident.community_code, Incident.township_code,
            Incident.boundary, Incident.candidates, Incident.src_crs, Incident.src_x,
            Incident.src_y, Incident.version, Incident.department_code, Incident.channel,
            overdue_expr(now).label("overdue"),
            func.ST_X(Incident.geom).label("lon"), func.ST_Y(Incident.geom).label("lat")]


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(timezone.utc)


# -- create ----------------------------------------------------------------------------------
def to_wgs84(lon: float, lat: float, crs: str) -> tuple[float, float]:
    """Remove a declared web offset; checks the coordinate range (errors name lon/lat)."""
    if crs not in SOURCE_CRS:
        raise InputError(f"unknown crs {crs!r} (one of {', '.join(SOURCE_CRS)})", field="crs")
    for name, value, limit in (("lon", lon, 180.0), ("lat", lat, 90.0)):
        if value is None or not (-limit <= float(value) <= limit):
            raise InputError(f"{name} must be between -{limit:g} and {limit:g}, not {value}",
                             field=name)
    if crs == "wgs84":
        return float(lon), float(lat)
    x, y = (gcj02_to_wgs84 if crs == "gcj02" else bd09_to_wgs84)(lon, lat)
    return float(x), float(y)


@dataclass
class NewIncident:
    """What a reporter sends (coordinates as given, in ``crs``)."""

    lon: float
    lat: float
    category: str
    subcategory: str | None = None
    description: str | None = None
    reporter: str | None = None
    reported_at: datetime | None = None
    crs: str = "wgs84"
    external_id: str | None = None
    channel: str = "staff"  # gis.vocabulary.INCIDENT_CHANNELS


def create_incident(session: Session, new: NewIncident, *, actor: str | None = None,
                    tolerance_m: float = 10.0, now: datetime | None = None,
                    principal: Principal | None = None) -> dict:
    """Insert an incident, assign it to its grid and record the ``report`` event.

    A point outside every grid is kept, unassigned. Returns the incident as from
    :func:`get_incident`. One that would land outside ``principal``'s scope is
    Forbidden (the caller's transaction is rolled back, nothing is kept)."""
    now = _now(now)
    category, subcategory = loop.validate_category(new.category, new.subcategory)
    lon, lat = to_wgs84(new.lon, new.lat, new.crs)
    reported_at = new.reported_at or now
    if reported_at.tzinfo is None:
        raise InputError("reported_at needs a time zone", field="reported_at")
    if reported_at > now + _CLOCK_SKEW:
        raise InputError("reported_at is in the future", field="reported_at")
    incident_id = session.scalar(insert(Incident).values(
        category=category, subcategory=subcategory, description=new.description,
        reporter=new.reporter, reported_at=reported_at, external_id=new.external_id,
        channel=new.channel,
        due_at=loop.due_at(category, reported_at), src_crs=new.crs, src_x=new.lon,
        src_y=new.lat, geom=func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326),
    ).returning(Incident.id))
    assign_incidents(session, [incident_id], tolerance_m=tolerance_m)
    if outside_scope(session, incident_id - 1, principal, last_id=incident_id):
        raise Forbidden("the incident's location is outside your area")
    _record(session, incident_id, "report", None, "reported", actor or new.reporter, None)
    row = get_incident(session, incident_id, None, now=now)
    audit.record(session, actor or new.reporter, "report", "incident", incident_id, None,
                 {k: row[k] for k in ("status", "level", "category", "grid_code", "version")})
    return row


def _record(session: Session, incident_id: int, action: str, from_status: str | None,
            to_status: str, actor: str | None, note: str | None) -> None:
    grid = select(Incident.grid_code).where(Incident.id == incident_id).scalar_subquery()
    session.execute(insert(IncidentEvent).values(
        incident_id=incident_id, action=action, from_status=from_status, to_status=to_status,
        actor=actor, note=note, grid_code=grid))


# -- read -------------------------------------------------------------------------------------
def get_incident(session: Session, incident_id: int, principal: Principal | None, *,
                 now: datetime | None = None) -> dict:
    """One incident with its events (oldest first) and the actions allowed next."""
    row = session.execute(select(*_columns(_now(now)))
                          .where(Incident.id == incident_id, in_scope(principal))).mappings().first()
    if row is None:
        raise NotFound(f"no incident {incident_id}")
    events = session.execute(
        select(IncidentEvent.action, IncidentEvent.from_status, IncidentEvent.to_status,
               IncidentEvent.actor, IncidentEvent.note, IncidentEvent.grid_code, IncidentEvent.at,
               IncidentEvent.department_code)
        .where(IncidentEvent.incident_id == incident_id)
        .order_by(IncidentEvent.at, IncidentEvent.id)).mappings().all()
    out = dict(row)
    out["allowed"] = loop.allowed_actions(out["status"], out["level"])
    out["suggested_department"] = suggestion(session, out["category"], out["subcategory"],
                                             out["community_code"] or out["grid_code"])
    out["events"] = [dict(e) for e in events]
    return out


def locked_incident(session: Session, incident_id: int,
                    principal: Principal | None) -> Incident:
    """The incident row, locked for update, if the caller sees it (NotFound otherwise):
    the one way the incident writers (summons, merges) take their lock."""
    row = session.scalar(select(Incident).where(Incident.id == incident_id, in_scope(principal))
                         .with_for_update(of=Incident))
    if row is None:
        raise NotFound(f"no incident {incident_id}")
    return row


# -- transitions ------------------------------------------------------------------------------
def transition(session: Session, incident_id: int, action: str, *, version: int,
               principal: Principal | None, note: str | None = None,
               now: datetime | None = None) -> dict:
    """Apply ``action`` if the incident is still at ``version`` and the loop allows it.

    Raises
    ------
    NotFound : no such incident in the caller's scope.
    Conflict : stale ``version`` or an action the current state does not allow; carries
        ``current_version`` and the ``allowed`` actions.
    """
    now = _now(now)
    row = session.execute(select(Incident.status, Incident.level, Incident.version)
                          .where(Incident.id == incident_id, in_scope(principal))
                          .with_for_update()).first()
    if row is None:
        raise NotFound(f"no incident {incident_id}")
    status, level, current = row
    allowed = loop.allowed_actions(status, level)
    if version != current:
        raise Conflict(f"incident {incident_id} changed since version {version} (now "
                       f"{current}); reload it", current_version=current, allowed=allowed)
    try:
        new_status, new_level = loop.next_state(status, level, action)
    except Conflict as exc:
        exc.current_version = current
        raise
    session.execute(update(Incident).where(Incident.id == incident_id).values(
        status=new_status, level=new_level, version=current + 1,
        closed_at=now if new_status == "closed" else None))
    if new_level != level:
        note = f"{level} -> {new_level}" + (f": {note}" if note else "")
    actor = principal.username if principal else None
    _record(session, incident_id, action, status, new_status, actor, note)
    audit.record(session, actor, action, "incident", incident_id,
                 {"status": status, "level": level, "version": current},
                 {"status": new_status, "level": new_level, "version": current + 1,
                  "note": note})
    return get_incident(session, incident_id, principal, now=now)


# -- list -------------------------------------------------------------------------------------
@dataclass
class IncidentFilter:
    """Filters shared by the list, statistics and hot spots (None: no filter)."""

    area: str | None = None            # admin or grid code: prefix match
    start: datetime | None = None      # reported_at >= start
    end: datetime | None = None        # reported_at < end
    category: str | None = None
    status: list[str] | None = None
    overdue: bool | None = None
    boundary: bool | None = None
    unassigned: bool | None = None
    department: str | None = None      # dispatched to or summoned this department

    def clauses(self, now: datetime) -> list[ColumnElement[bool]]:
        if self.category is not None:
            loop.validate_category(self.category, None)
        for s in self.status or ():
            if s not in INCIDENT_STATUSES:
                raise InputError(f"unknown status {s!r} (one of {', '.join(INCIDENT_STATUSES)})",
                                 field="status")
        out: list[ColumnElement[bool]] = []
        if self.area:
            prefix = _area_prefix(self.area)
            out.append(or_(Incident.community_code.startswith(prefix, autoescape=True),
                           Incident.grid_code.startswith(prefix, autoescape=True)))
        if self.start is not None:
            out.append(Incident.reported_at >= self.start)
        if self.end is not None:
            out.append(Incident.reported_at < self.end)
        if self.category:
            out.append(Incident.category == self.category)
        if self.status:
            out.append(Incident.status.in_(self.status))
        if self.overdue is not None:
            reason = overdue_expr(now)
            out.append(reason.is_not(None) if self.overdue else reason.is_(None))
        if self.boundary is not None:
            out.append(Incident.boundary.is_(self.boundary))
        if self.unassigned is not None:
            out.append(Incident.grid_code.is_(None) if self.unassigned
                       else Incident.grid_code.is_not(None))
        if self.department:
            out.append(for_department(self.department.strip()))
        return out


def _area_prefix(code: str) -> str:
    from gis.store.users import scope_prefix

    code = code.strip()
    if not code.isdigit() or len(code) < 6:
        raise InputError(f"area must be an admin or grid code, not {code!r}", field="area")
    return scope_prefix(code) if len(code) == 12 else code


def list_incidents(session: Session, principal: Principal | None, filters: IncidentFilter, *,
                   limit: int = 100, offset: int = 0,
                   now: datetime | None = None) -> tuple[int, list[dict]]:
    """``(total matching, one page)`` of incidents in scope, newest report first."""
    now = _now(now)
    if not (1 <= limit <= MAX_PAGE):
        raise InputError(f"limit must be between 1 and {MAX_PAGE}", field="limit")
    if offset < 0:
        raise InputError("offset must not be negative", field="offset")
    where = [in_scope(principal), *filters.clauses(now)]
    total = session.scalar(select(func.count()).select_from(Incident).where(*where))
    rows = session.execute(select(*_columns(now)).where(*where)
                           .order_by(Incident.reported_at.desc(), Incident.id.desc())
                           .limit(limit).offset(offset)).mappings().all()
    return int(total or 0), [dict(r) for r in rows]


def feature(row: dict) -> dict:
    """An incident row as a GeoJSON Feature."""
    props = {k: v for k, v in row.items() if k not in ("lon", "lat", "events")}
    if "events" in row:
        props["events"] = row["events"]
    return {"type": "Feature", "id": row["id"],
            "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
            "properties": props}


# -- bulk import ------------------------------------------------------------------------------
def max_incident_id(session: Session) -> int:
    return int(session.scalar(select(func.coalesce(func.max(Incident.id), 0))))


def outside_scope(session: Session, first_id: int, principal: Principal | None, *,
                  last_id: int | None = None) -> int:
    """How many incidents with ids above ``first_id`` (up to ``last_id``) the caller could
    not see: a scoped reporter may only add incidents inside their area."""
    if principal is None or not principal.scope_code:
        return 0
    # only rows written by this transaction: concurrent reports take ids in between
    cond = [Incident.id > first_id, ~in_scope(principal),
            text("incidents.xmin = pg_current_xact_id()::xid")]
    if last_id is not None:
        cond.append(Incident.id <= last_id)
    return int(session.scalar(select(func.count()).select_from(Incident).where(*cond)) or 0)
