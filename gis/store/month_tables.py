"""Month tables: the PostgreSQL monthly partitions of the tables that only grow (migration
0004): create months ahead, drop months past retention, and count rows per month table.
(Not to be confused with :mod:`gis.partition`, which partitions communities into grids.)

The work is done by two SQL functions the migration installs
(``gridgis_ensure_month_partitions`` and ``gridgis_drop_months_before``), so a cron
job in psql and this module behave the same. Repositories flush, the caller commits.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.errors import InputError

# table split into month tables -> the column that picks the month (see migration 0004)
MONTHLY_TABLES = {"patrol_points": "time", "incident_events": "at"}
TZ = "Asia/Shanghai"  # month boundaries, as in the migration


def ensure_months(session: Session, months_ahead: int = 3,
                      start: datetime | None = None) -> dict[str, int]:
    """Create the monthly partitions from the month of ``start`` (default now) for
    ``months_ahead`` months; returns how many were created per table."""
    if months_ahead < 1:
        raise InputError("months ahead must be at least 1", field="months-ahead")
    start = start or datetime.now(timezone.utc)
    return {table: int(session.execute(
        text("SELECT gridgis_ensure_month_partitions(:t, :c, :start, :n)"),
        {"t": table, "c": col, "start": start, "n": months_ahead}).scalar_one())
        for table, col in MONTHLY_TABLES.items()}


def cutoff_for(keep_months: int, now: datetime | None = None) -> datetime:
    """Start of the oldest month kept: the current month and ``keep_months - 1`` before
    it (months in Asia/Shanghai)."""
    from zoneinfo import ZoneInfo

    if keep_months < 1:
        raise InputError("keep at least 1 month", field="keep-months")
    local = (now or datetime.now(timezone.utc)).astimezone(ZoneInfo(TZ))
    months = local.year * 12 + local.month - 1 - (keep_months - 1)
    return datetime(months // 12, months % 12 + 1, 1, tzinfo=ZoneInfo(TZ))


def apply_retention(session: Session, keep_months: int,
                    now: datetime | None = None) -> dict[str, list[str]]:
    """Detach and drop every monthly partition that ends before the kept months (and
    delete such old rows from the default partitions); returns the dropped names."""
    cutoff = cutoff_for(keep_months, now)
    return {table: list(session.execute(
        text("SELECT gridgis_drop_months_before(:t, :c, :cutoff)"),
        {"t": table, "c": col, "cutoff": cutoff}).scalars())
        for table, col in MONTHLY_TABLES.items()}


def rows_per_month(session: Session) -> dict[str, int]:
    """Rows per partition of every partitioned table, by partition name."""
    out = {}
    for table in MONTHLY_TABLES:
        parts = session.execute(text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = CAST(:t AS regclass) ORDER BY c.relname"), {"t": table})
        for (name,) in parts:
            # names come from pg_class, not from users: safe to quote as identifiers
            out[name] = int(session.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one())
    return out
