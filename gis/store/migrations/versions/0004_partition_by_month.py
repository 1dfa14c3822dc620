"""partition patrol_points and incident_events by month

Both tables only grow (a GPS fix every 10 s per worker; one row per step of every
incident) and are read by time range. Declarative RANGE partitioning by month on
``time`` / ``at`` keeps each month's rows and indexes together, lets queries over a
period touch only its months, and makes retention a DETACH + DROP of whole months
instead of a DELETE of millions of rows.

* Month boundaries are midnight of the 1st in Asia/Shanghai (the users' months).
  Partitions are named ``<table>_pYYYYMM``; ``<table>_default`` catches rows of months
  without a partition (nothing is ever refused for its date).
* ``gridgis_ensure_month_partitions(table, column, first, months)`` creates the
  partitions of ``months`` months from the month of ``first``, moving rows that wait in
  the default partition into the new one (PostgreSQL refuses to attach a partition
  while the default holds its rows).
* ``gridgis_drop_months_before(table, cutoff)`` detaches and drops the partitions that
  end on or before ``cutoff``, deletes older rows left in the default, and returns the
  names of the dropped partitions.
* No primary key on the partitioned tables, an index on ``id`` instead: a partitioned
  table's primary key must hold the partition column, and ``gridgis restore``
  (``pg_restore --clean``, PostgreSQL 15) fails on the partitions' inherited key
  constraints. ``id`` still comes from the same sequence, so ids stay unique and every
  query by id works as before.

``incidents`` stays one table: ``incident_events`` and the API refer to an incident by
``id`` alone, and ``external_id`` must be unique across all time; both would have to
include ``reported_at`` in a partitioned table.

Revision ID: 0004
Revises: 0003
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TZ = "Asia/Shanghai"  # frozen: a migration must not change meaning with settings
MONTHS_AHEAD = 3

# table -> (time column, column definitions, secondary indexes)
TABLES = {
    "patrol_points": ("time", """
        id bigint NOT NULL DEFAULT nextval('patrol_points_id_seq'),
        worker text NOT NULL,
        time timestamptz NOT NULL,
        accuracy double precision,
        geom geometry(Point, 4326) NOT NULL""", [
        "CREATE INDEX ix_patrol_points_id ON patrol_points (id)",
        "CREATE INDEX idx_patrol_points_geom ON patrol_points USING gist (geom)",
        "CREATE INDEX ix_patrol_points_worker_time ON patrol_points (worker, time)"]),
    "incident_events": ("at", """
        id bigint NOT NULL DEFAULT nextval('incident_events_id_seq'),
        incident_id bigint NOT NULL,
        action varchar(16) NOT NULL,
        from_status varchar(16),
        to_status varchar(16) NOT NULL,
        actor text,
        note text,
        grid_code text,
        at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT fk_incident_events_incident_id_incidents FOREIGN KEY (incident_id)
            REFERENCES incidents (id) ON DELETE CASCADE""", [
        "CREATE INDEX ix_incident_events_id ON incident_events (id)",
        "CREATE INDEX ix_incident_events_incident_id ON incident_events (incident_id)",
        "CREATE INDEX ix_incident_events_at ON incident_events (at)"]),
}

ENSURE = f"""
CREATE FUNCTION gridgis_ensure_month_partitions(tbl text, col text, first timestamptz,
                                                months integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    lo timestamptz;
    hi timestamptz;
    part text;
    created integer := 0;
BEGIN
    FOR i IN 0 .. months - 1 LOOP
        lo := (date_trunc('month', first AT TIME ZONE '{TZ}') + make_interval(months => i))
              AT TIME ZONE '{TZ}';
        hi := (date_trunc('month', first AT TIME ZONE '{TZ}') + make_interval(months => i + 1))
              AT TIME ZONE '{TZ}';
        part := tbl || '_p' || to_char(lo AT TIME ZONE '{TZ}', 'YYYYMM');
        CONTINUE WHEN to_regclass(part) IS NOT NULL;
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                       part, tbl);
        EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= $1 AND %I < $2 RETURNING *) '
                       'INSERT INTO %I SELECT * FROM moved',
                       tbl || '_default', col, col, part) USING lo, hi;
        EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       tbl, part, lo, hi);
        created := created + 1;
    END LOOP;
    RETURN created;
END $$"""

DROP_BEFORE = f"""
CREATE FUNCTION gridgis_drop_months_before(tbl text, col text, cutoff timestamptz)
RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    part text;
    month_end timestamptz;
BEGIN
    FOR part IN
        SELECT c.relname FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = tbl::regclass AND c.relname ~ ('^' || tbl || '_p[0-9]{{6}}$')
        ORDER BY c.relname
    LOOP
        month_end := (to_date(right(part, 6), 'YYYYMM') + interval '1 month')::timestamp
                     AT TIME ZONE '{TZ}';
        CONTINUE WHEN month_end > cutoff;
        EXECUTE format('ALTER TABLE %I DETACH PARTITION %I', tbl, part);
        EXECUTE format('DROP TABLE %I', part);
        RETURN NEXT part;
    END LOOP;
    EXECUTE format('DELETE FROM %I WHERE %I < $1', tbl || '_default', col) USING cutoff;
END $$"""


def _months_of(table: str, col: str) -> str:
    """Create the partitions of every month present in the old table, and a few ahead."""
    return f"""
        SELECT gridgis_ensure_month_partitions('{table}', '{col}', m, 1)
        FROM (SELECT DISTINCT date_trunc('month', {col} AT TIME ZONE '{TZ}')
                                  AT TIME ZONE '{TZ}' AS m FROM {table}_unpartitioned) AS t"""


def _partition(table: str, col: str, columns: str, indexes: list[str]) -> None:
    op.execute(f"ALTER TABLE {table} RENAME TO {table}_unpartitioned")
    op.execute(f"ALTER TABLE {table}_unpartitioned RENAME CONSTRAINT pk_{table} "
               f"TO pk_{table}_unpartitioned")
    for stmt in indexes:
        name = stmt.split()[2]
        op.execute(f"ALTER INDEX IF EXISTS {name} RENAME TO {name}_unpartitioned")
    op.execute(f"CREATE TABLE {table} ({columns}) PARTITION BY RANGE ({col})")
    op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id")
    op.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
    for stmt in indexes:
        op.execute(stmt)
    op.execute(_months_of(table, col))
    op.execute(f"SELECT gridgis_ensure_month_partitions('{table}', '{col}', now(), "
               f"{MONTHS_AHEAD})")
    op.execute(f"INSERT INTO {table} SELECT * FROM {table}_unpartitioned")
    op.execute(f"DROP TABLE {table}_unpartitioned")


def upgrade() -> None:
    op.execute(ENSURE)
    op.execute(DROP_BEFORE)
    for table, (col, columns, indexes) in TABLES.items():
        _partition(table, col, columns, indexes)


def downgrade() -> None:
    for table, (col, columns, indexes) in TABLES.items():
        op.execute(f"ALTER TABLE {table} RENAME TO {table}_partitioned")
        for stmt in indexes:
            name = stmt.split()[2]
            op.execute(f"ALTER INDEX IF EXISTS {name} RENAME TO {name}_partitioned")
        op.execute(f"CREATE TABLE {table} ({columns}, CONSTRAINT pk_{table} PRIMARY KEY (id))")
        op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id")
        for stmt in indexes:
            if stmt.split()[2] not in ("ix_incident_events_at", "ix_incident_events_id",
                                       "ix_patrol_points_id"):
                op.execute(stmt)
        op.execute(f"INSERT INTO {table} SELECT * FROM {table}_partitioned")
        op.execute(f"DROP TABLE {table}_partitioned CASCADE")
    op.execute("DROP FUNCTION IF EXISTS gridgis_drop_months_before(text, text, timestamptz)")
    op.execute("DROP FUNCTION IF EXISTS gridgis_ensure_month_partitions(text, text, "
               "timestamptz, integer)")
