"""The PostGIS data model (see shared/DESIGN.md). Geometry is EPSG:4326; every geometry
column has a GiST index (GeoAlchemy2 adds it) and a validity check; every foreign key is
indexed; vocabularies come from :mod:`gis.vocabulary` so the database refuses unknown values."""

from __future__ import annotations

from datetime import date, datetime

from geoalchemy2 import Geometry
from sqlalchemy import (BigInteger, Boolean, CheckConstraint, Computed, Date, DateTime, Float,
                        ForeignKey, Index, Integer, MetaData, String, Text, func, text)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gis import incidents as loop
from gis import vocabulary

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def summons_may_lapse_sql() -> str:
    """A part that can still let a deadline of :data:`gis.incidents.PART_DEADLINES` lapse:
    one not done, or done after its due time (a part done in time never lapses at any
    moment). The predicate of ``ix_summons_may_lapse`` (migration 0014); the overdue rule's
    EXISTS repeats it (gis/store/overdue.py) so the planner can use that index."""
    return " OR ".join(f"{done} IS NULL OR {done} > {due}"
                       for due, done in loop.PART_DEADLINES.values())


def _in(column: str, values) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def _geom(kind: str) -> Geometry:
    return Geometry(kind, srid=4326, spatial_index=True)


def _valid(name: str = "geom") -> CheckConstraint:
    return CheckConstraint(f"ST_IsValid({name})", name="valid_geom")


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class AdminUnit(Base):
    __tablename__ = "admin_units"
    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("admin_units.code"), index=True)
    households: Mapped[int] = mapped_column(Integer, server_default="0")
    geom = mapped_column(_geom("MULTIPOLYGON"), nullable=False)
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{12}$'", name="code_12_digits"),
        CheckConstraint(_in("level", vocabulary.ADMIN_LEVELS), name="level"),
        CheckConstraint(_in("kind", ("county", *vocabulary.TOWNSHIP_KINDS, *vocabulary.COMMUNITY_KINDS)),
                        name="kind"),
        _valid(),
    )


class Building(Base):
    __tablename__ = "buildings"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source_id: Mapped[str | None] = mapped_column(Text)
    households: Mapped[int] = mapped_column(Integer, server_default="0")
    floors: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str | None] = mapped_column(String(16))
    compound: Mapped[str | None] = mapped_column(Text)
    community_code: Mapped[str | None] = mapped_column(ForeignKey("admin_units.code"), index=True)
    geom = mapped_column(_geom("MULTIPOLYGON"), nullable=False)
    __table_args__ = (
        CheckConstraint("households >= 0", name="households_nonneg"),
        CheckConstraint("floors IS NULL OR floors >= 0", name="floors_nonneg"),
        CheckConstraint(f"kind IS NULL OR {_in('kind', vocabulary.BUILDING_KINDS)}", name="kind"),
        _valid(),
    )


class AddressPoint(Base):
    __tablename__ = "address_points"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source_id: Mapped[str | None] = mapped_column(Text)
    households: Mapped[int] = mapped_column(Integer, server_default="1")
    community_code: Mapped[str | None] = mapped_column(ForeignKey("admin_units.code"), index=True)
    geom = mapped_column(_geom("POINT"), nullable=False)
    __table_args__ = (CheckConstraint("households >= 0", name="households_nonneg"),)


class Road(Base):
    __tablename__ = "roads"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source_id: Mapped[str | None] = mapped_column(Text)
    road_class: Mapped[str] = mapped_column("class", String(16), server_default="residential")
    name: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(_geom("MULTILINESTRING"), nullable=False)
    __table_args__ = (CheckConstraint(_in("class", vocabulary.ROAD_CLASSES), name="class"),)


class Plan(Base):
    __tablename__ = "plans"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    area_code: Mapped[str | None] = mapped_column(ForeignKey("admin_units.code"), index=True)
    status: Mapped[str] = mapped_column(String(16), server_default="draft")
    source: Mapped[str] = mapped_column(String(16), server_default="partition")
    params: Mapped[dict | None] = mapped_column(JSONB)
    report: Mapped[dict | None] = mapped_column(JSONB)
    base_version: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        CheckConstraint(_in("status", ("draft", "published", "discarded")), name="status"),
        CheckConstraint(_in("source", ("partition", "current", "upload", "rebalance")),
                        name="source"),
    )


class PlanGrid(Base):
    __tablename__ = "plan_grids"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    code: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), server_default="basic")
    community_code: Mapped[str | None] = mapped_column(ForeignKey("admin_units.code"), index=True)
    households: Mapped[int] = mapped_column(Integer, server_default="0")
    geom = mapped_column(_geom("MULTIPOLYGON"), nullable=False)
    __table_args__ = (CheckConstraint(_in("kind", vocabulary.GRID_KINDS), name="kind"),)


class Grid(Base):
    """A published grid version; the current grids have ``valid_to IS NULL``."""

    __tablename__ = "grids"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(Text, index=True)
    kind: Mapped[str] = mapped_column(String(16), server_default="basic")
    name: Mapped[str | None] = mapped_column(Text)
    community_code: Mapped[str] = mapped_column(ForeignKey("admin_units.code"), index=True)
    households: Mapped[int] = mapped_column(Integer, server_default="0")
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    valid_from: Mapped[datetime] = _now()
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"), index=True)
    geom = mapped_column(_geom("MULTIPOLYGON"), nullable=False)
    __table_args__ = (
        CheckConstraint(_in("kind", vocabulary.GRID_KINDS), name="kind"),
        CheckConstraint("households >= 0", name="households_nonneg"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity"),
        _valid(),
        Index("uq_grids_current_code", "code", unique=True,
              postgresql_where=text("valid_to IS NULL")),
    )


class GridStaff(Base):
    __tablename__ = "grid_staff"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(24))
    grid_code: Mapped[str | None] = mapped_column(Text, index=True)
    worker_id: Mapped[str | None] = mapped_column(Text, index=True)  # links patrol tracks
    phone: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (CheckConstraint(_in("role", vocabulary.STAFF_ROLES), name="role"),)


class KeyPlace(Base):
    __tablename__ = "key_places"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    geom = mapped_column(_geom("GEOMETRY"), nullable=False)
    __table_args__ = (CheckConstraint(_in("kind", vocabulary.KEY_PLACE_KINDS), name="kind"), _valid())


class Incident(Base):
    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(Text, unique=True)
    category: Mapped[str] = mapped_column(String(24))
    subcategory: Mapped[str | None] = mapped_column(String(24))
    description: Mapped[str | None] = mapped_column(Text)
    reporter: Mapped[str | None] = mapped_column(Text)
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    status: Mapped[str] = mapped_column(String(16), server_default="reported", index=True)
    level: Mapped[str] = mapped_column(String(16), server_default="community")
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    grid_code: Mapped[str | None] = mapped_column(Text, index=True)
    grid_code_at_report: Mapped[str | None] = mapped_column(Text)
    community_code: Mapped[str | None] = mapped_column(String(12), index=True)
    township_code: Mapped[str | None] = mapped_column(String(12), index=True)
    boundary: Mapped[bool] = mapped_column(Boolean, server_default="false")
    candidates: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    src_crs: Mapped[str | None] = mapped_column(Text)
    src_x: Mapped[float | None] = mapped_column(Float)
    src_y: Mapped[float | None] = mapped_column(Float)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    created_at: Mapped[datetime] = _now()
    channel: Mapped[str] = mapped_column(String(16), server_default="staff")  # migration 0007
    department_code: Mapped[str | None] = mapped_column(
        ForeignKey("departments.code"))  # dispatched to
    merged_into: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    # set by a trigger on summons once a department part is made, never cleared: the
    # overdue rule looks for lapsed parts only where there are parts (migration 0017)
    has_parts: Mapped[bool] = mapped_column(Boolean, server_default="false")
    geom = mapped_column(_geom("POINT"), nullable=False)
    __table_args__ = (
        # set on few rows: indexed where set (migration 0016)
        Index("ix_incidents_department_code", "department_code",
              postgresql_where=text("department_code IS NOT NULL")),
        Index("ix_incidents_merged_into", "merged_into",
              postgresql_where=text("merged_into IS NOT NULL")),
        CheckConstraint(_in("category", vocabulary.INCIDENT_CATEGORIES), name="category"),
        CheckConstraint(_in("channel", vocabulary.INCIDENT_CHANNELS), name="channel"),
        CheckConstraint(_in("status", vocabulary.INCIDENT_STATUSES), name="status"),
        CheckConstraint(_in("level", vocabulary.ADMIN_LEVELS), name="level"),
        CheckConstraint("ST_X(geom) BETWEEN -180 AND 180 AND ST_Y(geom) BETWEEN -90 AND 90",
                        name="lonlat"),
    )


class IncidentEvent(Base):
    __tablename__ = "incident_events"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"),
                                             index=True)
    action: Mapped[str] = mapped_column(String(16))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    grid_code: Mapped[str | None] = mapped_column(Text)
    department_code: Mapped[str | None] = mapped_column(String(32))  # acting for / addressed
    at: Mapped[datetime] = _now()


class Camera(Base):
    __tablename__ = "cameras"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str | None] = mapped_column(Text, unique=True)
    type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(8), server_default="online")
    azimuth: Mapped[float | None] = mapped_column(Float)
    fov: Mapped[float | None] = mapped_column(Float)
    range_m: Mapped[float | None] = mapped_column(Float)
    height_m: Mapped[float | None] = mapped_column(Float)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    updated_at: Mapped[datetime] = _now()
    geom = mapped_column(_geom("POINT"), nullable=False)
    __table_args__ = (
        CheckConstraint(_in("type", vocabulary.CAMERA_TYPES), name="type"),
        CheckConstraint(_in("status", vocabulary.CAMERA_STATUSES), name="status"),
        CheckConstraint("azimuth IS NULL OR (azimuth >= 0 AND azimuth < 360)", name="azimuth"),
        CheckConstraint("fov IS NULL OR (fov > 0 AND fov <= 360)", name="fov"),
        CheckConstraint("range_m IS NULL OR range_m >= 0", name="range"),
    )


class PatrolPoint(Base):
    __tablename__ = "patrol_points"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    worker: Mapped[str] = mapped_column(Text)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accuracy: Mapped[float | None] = mapped_column(Float)
    geom = mapped_column(_geom("POINT"), nullable=False)
    __table_args__ = (Index("ix_patrol_points_worker_time", "worker", "time"),)


class PatrolTrack(Base):
    __tablename__ = "patrol_tracks"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    worker: Mapped[str] = mapped_column(Text, index=True)
    day: Mapped[datetime] = mapped_column(Date)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    geom = mapped_column(_geom("LINESTRING"), nullable=False)


class AuditLog(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = _now()
    actor: Mapped[str | None] = mapped_column(Text, index=True)
    action: Mapped[str] = mapped_column(Text)
    entity: Mapped[str] = mapped_column(Text, index=True)
    entity_id: Mapped[str | None] = mapped_column(Text)
    before: Mapped[dict | None] = mapped_column(JSONB)
    after: Mapped[dict | None] = mapped_column(JSONB)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    username: Mapped[str] = mapped_column(Text, unique=True)
    role: Mapped[str] = mapped_column(String(16))
    scope_code: Mapped[str | None] = mapped_column(ForeignKey("admin_units.code"), index=True)
    password_hash: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[datetime] = _now()
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"),
                                                        index=True)
    __table_args__ = (CheckConstraint(_in("role", vocabulary.ROLES), name="role"),
                      CheckConstraint("(role = 'department') = (department_code IS NOT NULL)",
                                      name="department"))


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()


class BlindSpot(Base):
    """Stored result of the last coverage analysis per area."""

    __tablename__ = "blind_spots"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    grid_code: Mapped[str | None] = mapped_column(Text, index=True)
    area_m2: Mapped[float] = mapped_column(Float)
    incidents: Mapped[int] = mapped_column(Integer, server_default="0")
    nearest_camera: Mapped[str | None] = mapped_column(Text)
    camera_m: Mapped[float | None] = mapped_column(Float)  # distance to nearest_camera
    computed_at: Mapped[datetime] = _now()
    geom = mapped_column(_geom("MULTIPOLYGON"), nullable=False)


_RATIO = "CASE WHEN target_m2 > 0 THEN covered_m2 / target_m2 END"


class CoverageArea(Base):
    """Union of camera views per grid from the last coverage analysis (one row per grid;
    ``covered_m2 + blind_m2 = target_m2``; blind spot figures count listed spots only)."""

    __tablename__ = "coverage"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    grid_code: Mapped[str | None] = mapped_column(Text, index=True)
    target_m2: Mapped[float] = mapped_column(Float, server_default="0")
    covered_m2: Mapped[float] = mapped_column(Float, server_default="0")
    blind_m2: Mapped[float] = mapped_column(Float, server_default="0")
    blind_spots: Mapped[int] = mapped_column(Integer, server_default="0")
    blind_spot_m2: Mapped[float] = mapped_column(Float, server_default="0")
    blind_incidents: Mapped[int] = mapped_column(Integer, server_default="0")
    mode: Mapped[str] = mapped_column(Text, server_default="public")
    coverage_ratio: Mapped[float | None] = mapped_column(Float, Computed(_RATIO, persisted=True))
    computed_at: Mapped[datetime] = _now()
    geom = mapped_column(_geom("MULTIPOLYGON"), nullable=True)
    __table_args__ = (Index("uq_coverage_grid_code", "grid_code", unique=True),)


class KeyPlaceCoverage(Base):
    """Coverage of each key place from the last coverage analysis of its grid."""

    __tablename__ = "key_place_coverage"
    key_place_id: Mapped[int] = mapped_column(
        ForeignKey("key_places.id", ondelete="CASCADE"), primary_key=True)
    grid_code: Mapped[str | None] = mapped_column(Text, index=True)
    target_m2: Mapped[float] = mapped_column(Float, server_default="0")
    covered_m2: Mapped[float] = mapped_column(Float, server_default="0")
    coverage_ratio: Mapped[float | None] = mapped_column(Float, Computed(_RATIO, persisted=True))
    computed_at: Mapped[datetime] = _now()


class CoverageStale(Base):
    """Grids whose stored coverage is out of date (marked by triggers on cameras,
    buildings and roads, migration 0003); ``seq`` grows with every mark."""

    __tablename__ = "coverage_stale"
    grid_code: Mapped[str] = mapped_column(Text, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, autoincrement=True,
                                     server_default=text("nextval('coverage_stale_seq_seq')"))
    reason: Mapped[str | None] = mapped_column(Text)
    marked_at: Mapped[datetime] = _now()


class KeyHousehold(Base):
    """重点家庭/特殊群体: the least personal data that works (migration 0005)."""

    __tablename__ = "key_households"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    household_ref: Mapped[str] = mapped_column(Text, unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    building_id: Mapped[int | None] = mapped_column(
        ForeignKey("buildings.id", ondelete="SET NULL"), index=True)
    community_code: Mapped[str] = mapped_column(ForeignKey("admin_units.code"), index=True)
    responsible_worker: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=True)
    version: Mapped[int] = mapped_column(Integer, server_default="1")  # migration 0009
    __table_args__ = (
        CheckConstraint(_in("kind", vocabulary.KEY_HOUSEHOLD_KINDS), name="kind"),
        CheckConstraint("building_id IS NOT NULL OR geom IS NOT NULL", name="placed"),
        CheckConstraint("length(household_ref) BETWEEN 1 AND 64", name="ref_length"),
    )


class Roster(Base):
    """A worker on or off duty on a day (migration 0009): days off are not required."""

    __tablename__ = "rosters"
    worker: Mapped[str] = mapped_column(Text, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    on_duty: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = _now()


class Visit(Base):
    """入户走访: a worker's visit to a household (migration 0005)."""

    __tablename__ = "visits"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    worker: Mapped[str] = mapped_column(Text)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    household_ref: Mapped[str | None] = mapped_column(Text)
    building_id: Mapped[int | None] = mapped_column(
        ForeignKey("buildings.id", ondelete="SET NULL"), index=True)
    community_code: Mapped[str | None] = mapped_column(ForeignKey("admin_units.code"), index=True)
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = _now()
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=True)
    __table_args__ = (
        Index("ix_visits_worker_time", "worker", "time"),
        CheckConstraint("household_ref IS NOT NULL OR building_id IS NOT NULL OR geom IS NOT NULL",
                        name="placed"),
    )
# -- departments, 吹哨·报到, supervision, attachments, notifications (issue 16, 0006) --------

DEPARTMENT_CODE = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"   # gis.routing.check_department_code
SUMMONS_STATES = ("summoned", "acknowledged", "fed_back")  # gis.supervision.STATES
NOTICE_KINDS = ("acknowledge", "handle")                   # gis.supervision.KINDS
LIMIT_STEPS = ("acknowledge", "handle")                    # gis.department_limits.STEPS
LIMIT_UNITS = ("hours", "working_days")                    # gis.clocks.UNITS
NOTIFICATION_KINDS = ("dispatched", "summoned", "acknowledged", "fed_back", "overdue",
                      "supervision", "merged", "deadline", "reopened")


class Department(Base):
    """A functional department (职能部门) serving a county or a township."""

    __tablename__ = "departments"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    area_code: Mapped[str] = mapped_column(ForeignKey("admin_units.code"), index=True)
    contact: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)  # notices are mailed here (0011)
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[datetime] = _now()
    __table_args__ = (CheckConstraint(f"code ~ '{DEPARTMENT_CODE}'", name="code"),)


class RoutingRule(Base):
    """(category, subcategory or any) × area → department; one rule per key
    (``uq_routing_rules_key``, subcategory NULL counted as a value)."""

    __tablename__ = "routing_rules"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    category: Mapped[str] = mapped_column(String(24))
    subcategory: Mapped[str | None] = mapped_column(String(24))
    area_code: Mapped[str] = mapped_column(ForeignKey("admin_units.code"), index=True)
    department_code: Mapped[str] = mapped_column(
        ForeignKey("departments.code", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = _now()
    __table_args__ = (
        CheckConstraint(_in("category", vocabulary.INCIDENT_CATEGORIES), name="category"),
        Index("uq_routing_rules_key", "category", text("coalesce(subcategory, '')"),
              "area_code", unique=True),
    )


class Summons(Base):
    """One department's part in one incident: dispatched to it or summoned (吹哨)."""

    __tablename__ = "summons"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"),
                                             index=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)
    kind: Mapped[str] = mapped_column(String(16), server_default="whistle")
    state: Mapped[str] = mapped_column(String(16), server_default="summoned")
    note: Mapped[str | None] = mapped_column(Text)
    summoned_by: Mapped[str | None] = mapped_column(Text)
    summoned_at: Mapped[datetime] = _now()
    ack_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handle_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[str | None] = mapped_column(Text)
    fed_back_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fed_back_by: Mapped[str | None] = mapped_column(Text)
    feedback: Mapped[str | None] = mapped_column(Text)
    # The limits in force when the part began (migration 0010), so that editing the
    # department limits later never moves its deadlines; the rule's id, or NULL for the
    # built-in default. NULL amounts: a part made before 0010 (the built-in default).
    ack_limit_amount: Mapped[float | None] = mapped_column(Float)
    ack_limit_unit: Mapped[str | None] = mapped_column(String(16))
    ack_limit_rule: Mapped[int | None] = mapped_column(BigInteger)
    handle_limit_amount: Mapped[float | None] = mapped_column(Float)
    handle_limit_unit: Mapped[str | None] = mapped_column(String(16))
    handle_limit_rule: Mapped[int | None] = mapped_column(BigInteger)
    # when the handle clock (re)started: NULL at summoned_at; a reopen restarts it (0012)
    handle_clock_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        CheckConstraint(_in("kind", ("dispatch", "whistle")), name="kind"),
        CheckConstraint(_in("state", SUMMONS_STATES), name="state"),
        Index("uq_summons_incident_department", "incident_id", "department_code", unique=True),
        # the overdue rule's per-incident look-up in every incident tile: only the parts
        # that can still lapse, with what the rule reads (an index-only scan; 0014)
        Index("ix_summons_may_lapse", "incident_id",
              postgresql_include=["summoned_at", "ack_due_at", "acknowledged_at",
                                  "handle_due_at", "fed_back_at", "department_code"],
              postgresql_where=text(summons_may_lapse_sql())),
    )


class DepartmentLimit(Base):
    """A department time limit of this deployment (migration 0010): (step, category,
    subcategory or any) × area → amount in hours or working days; one rule per key
    (``uq_department_limits_key``, subcategory NULL counted as a value). Rules:
    :mod:`gis.department_limits`; the built-in :data:`gis.clocks.DEFAULT_LIMITS` apply
    where no rule does."""

    __tablename__ = "department_limits"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    step: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(24))
    subcategory: Mapped[str | None] = mapped_column(String(24))
    area_code: Mapped[str] = mapped_column(ForeignKey("admin_units.code"), index=True)
    amount: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16))
    updated_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    __table_args__ = (
        CheckConstraint(_in("step", LIMIT_STEPS), name="step"),
        CheckConstraint(_in("category", vocabulary.INCIDENT_CATEGORIES), name="category"),
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint(_in("unit", LIMIT_UNITS), name="unit"),
        Index("uq_department_limits_key", "step", "category", text("coalesce(subcategory, '')"),
              "area_code", unique=True),
    )


class SupervisionNotice(Base):
    """督办: a summons let a limit lapse; level 1 to the department and the level above,
    level 2 escalated one level further."""

    __tablename__ = "supervision_notices"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"),
                                             index=True)
    summons_id: Mapped[int | None] = mapped_column(
        ForeignKey("summons.id", ondelete="CASCADE"), index=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    level: Mapped[int] = mapped_column(Integer, server_default="1")
    recipients: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    raised_at: Mapped[datetime] = _now()
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        CheckConstraint(_in("kind", NOTICE_KINDS), name="kind"),
        CheckConstraint("level BETWEEN 1 AND 2", name="level"),
        Index("uq_supervision_notices_step", "summons_id", "kind", "level", unique=True),
    )


class Attachment(Base):
    """A photo on an incident step, stored under the data directory by the SHA-256 of the
    upload (served copy without EXIF, and a thumbnail: :mod:`gis.attachments`)."""

    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"),
                                             index=True)
    step: Mapped[str | None] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_type: Mapped[str] = mapped_column(String(32))
    bytes: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    served_type: Mapped[str] = mapped_column(String(32))
    served_path: Mapped[str] = mapped_column(Text)
    thumb_path: Mapped[str] = mapped_column(Text)
    photo_lon: Mapped[float | None] = mapped_column(Float)
    photo_lat: Mapped[float | None] = mapped_column(Float)
    distance_m: Mapped[float | None] = mapped_column(Float)
    far: Mapped[bool] = mapped_column(Boolean, server_default="false")
    uploaded_by: Mapped[str | None] = mapped_column(Text)
    uploaded_at: Mapped[datetime] = _now()
    __table_args__ = (CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256"),
                      CheckConstraint("bytes > 0", name="bytes"))


class Notification(Base):
    """One line in an account's inbox, written in the same transaction as its cause."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"),
                                                         index=True)
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (CheckConstraint(_in("kind", NOTIFICATION_KINDS), name="kind"),
                      Index("ix_notifications_unread", "user_id",
                            postgresql_where=text("read_at IS NULL")))


class MailOutbox(Base):
    """One e-mail to a department, written in the transaction of the notice it carries and
    sent after commit by the service (0011). ``sent_at`` set: delivered; else
    ``attempts`` and ``last_error`` say what happened, ``next_attempt_at`` when to retry."""

    __tablename__ = "mail_outbox"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    to_address: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    incident_id: Mapped[int | None] = mapped_column(BigInteger)
    department_code: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = _now()
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = _now()
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_mail_outbox_pending", "next_attempt_at",
                            postgresql_where=text("sent_at IS NULL")),)


class DeadlineRequest(Base):
    """延期申请 / 暂停: a department asks for more time or a pause on its part (``target``
    part), or the grid's own staff on the incident (``target`` incident, no part: 0012); the
    level above decides. Only an approved request moves ``summons.handle_due_at`` or
    ``incidents.due_at`` (:mod:`gis.clocks`); a pause stops the clock from its approval until
    ``resumed_at`` (kind and resumed_at: migration 0008)."""

    __tablename__ = "deadline_requests"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"),
                                             index=True)
    # NULL: a request of the grid's own staff on the incident's own due time (0012)
    summons_id: Mapped[int | None] = mapped_column(
        ForeignKey("summons.id", ondelete="CASCADE"), index=True)
    target: Mapped[str] = mapped_column(String(16), server_default="part")
    kind: Mapped[str] = mapped_column(String(16), server_default="extension")
    amount: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = _now()
    status: Mapped[str] = mapped_column(String(16), server_default="requested")
    decided_by: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str | None] = mapped_column(Text)
    resumed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        CheckConstraint(_in("kind", ("extension", "pause")), name="kind"),
        CheckConstraint("kind = 'pause' OR (amount IS NOT NULL AND unit IS NOT NULL)",
                        name="extension"),
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint(_in("unit", ("hours", "working_days")), name="unit"),
        CheckConstraint(_in("status", ("requested", "approved", "refused")), name="status"),
        CheckConstraint(_in("target", ("part", "incident")), name="target"),
        CheckConstraint("(target = 'part') = (summons_id IS NOT NULL)", name="target_part"),
    )


class CalendarDay(Base):
    """A holiday, or a weekend day worked in exchange (调休), of one county."""

    __tablename__ = "calendar_days"
    county_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (CheckConstraint(_in("kind", ("holiday", "workday")), name="kind"),
                      CheckConstraint("county_code ~ '^[0-9]{6}$'", name="county"))


class IdempotencyKey(Base):
    """The first answer to a write sent with an ``Idempotency-Key`` (migration 0007),
    stored in the write's own transaction. ``scope``: the account, or a keyed hash of an
    anonymous caller's address."""

    __tablename__ = "idempotency_keys"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    scope: Mapped[str] = mapped_column(Text)
    key: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(Text)
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    __table_args__ = (
        Index("uq_idempotency_keys_scope", "scope", "key", unique=True),
        Index("ix_idempotency_keys_created_at", "created_at"),
        CheckConstraint("length(key) BETWEEN 1 AND 255", name="key_length"),
    )


class PublicReport(Base):
    """What a resident or an Open311 client gave beyond the incident (migration 0007):
    the tracking code, contact details (never served by a layer, tile or export) and a
    media URL (a photo is an attachment of the incident)."""

    __tablename__ = "public_reports"
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    phone: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    first_name: Mapped[str | None] = mapped_column(Text)
    last_name: Mapped[str | None] = mapped_column(Text)
    media_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    __table_args__ = (CheckConstraint("code ~ '^[A-Z2-7]{10,32}$'", name="code"),)
