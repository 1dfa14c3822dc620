"""camera coverage: per-grid figures, key place coverage, stale grids for incremental runs

* ``coverage`` gets the per-grid figures of :func:`gis.coverage.coverage` (blind area,
  blind spot count and area, incidents in blind spots, a generated ratio, the target
  mode) and one row per grid (unique ``grid_code``).
* ``blind_spots`` gets ``camera_m`` (distance to the nearest camera, metres).
* ``key_place_coverage``: coverage of each key place from the last run.
* ``coverage_stale``: grids whose stored coverage no longer matches the cameras,
  buildings or roads. Statement-level triggers with transition tables mark them, so
  every path that writes (API, importer, psql) is covered and a bulk import costs one
  query per statement. A changed camera marks the grids within its own reach (range,
  or the default range of its type, plus ``MARGIN`` for wall-mounted cameras nudged out
  of a footprint) at its old and its new position; a changed building marks the grids
  within the largest reach of any camera (a building can only shadow views of cameras
  that reach it, and its shadow stays within that reach of it); a changed road marks
  grids within ``ROAD_REACH`` (half the widest street plus the open-ground reach of
  :mod:`gis.coverage.target`). ``seq`` grows on every mark, so a run clears only the
  marks it has seen, never one made while it was computing.

Revision ID: 0003
Revises: 0002
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Frozen copy of gis.vocabulary.CAMERA_DEFAULTS ranges at the time of writing (a migration
# must not change meaning when the module does).
DEFAULT_RANGE = {"xueliang_a": 80, "xueliang_b": 50, "tianwang": 100, "huiyan": 40,
                 "checkpoint": 60, "face": 25, "school": 40, "hospital": 40, "dome": 50,
                 "ptz": 100}
MARGIN = 25.0
ROAD_REACH = 60.0

_REACH_CASE = " ".join(f"WHEN '{t}' THEN {r}" for t, r in DEFAULT_RANGE.items())

FUNCTIONS = [
    f"""
    CREATE FUNCTION gridgis_camera_reach(cam_type text, range_m float8) RETURNS float8
    LANGUAGE sql IMMUTABLE AS $$
        SELECT COALESCE(range_m, CASE cam_type {_REACH_CASE} ELSE 100 END) + {MARGIN}
    $$""",
    """
    CREATE FUNCTION gridgis_max_camera_reach() RETURNS float8
    LANGUAGE sql STABLE AS $$
        SELECT COALESCE(max(gridgis_camera_reach(type, range_m)), 0) FROM cameras
    $$""",
    # Degrees spanning `metres` at the latitude of `g` (conservative: 110 km per degree,
    # cosine of the latitude farthest from the equator): the index pre-filter.
    """
    CREATE FUNCTION gridgis_expand_m(g geometry, metres float8) RETURNS geometry
    LANGUAGE sql IMMUTABLE AS $$
        SELECT ST_Expand(g,
            metres / (110000.0 * cos(radians(least(89.0, greatest(abs(ST_YMin(g)),
                                                                  abs(ST_YMax(g))))))),
            metres / 110000.0)
    $$""",
    """
    CREATE FUNCTION gridgis_mark_coverage_stale(geoms geometry[], reach float8[], why text,
                                                exact boolean DEFAULT true)
    RETURNS void LANGUAGE sql AS $$
        INSERT INTO coverage_stale AS s (grid_code, reason)
        SELECT DISTINCT g.code, why
        FROM unnest(geoms, reach) AS f(geom, metres)
        JOIN grids g ON g.valid_to IS NULL
                    AND g.geom && gridgis_expand_m(f.geom, f.metres)
                    AND (NOT exact
                         OR ST_DWithin(g.geom::geography, f.geom::geography, f.metres))
        WHERE f.geom IS NOT NULL
        ON CONFLICT (grid_code) DO UPDATE
            SET seq = nextval('coverage_stale_seq_seq'), marked_at = now(),
                reason = EXCLUDED.reason
    $$""",
    """
    CREATE FUNCTION gridgis_cameras_stale() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE g geometry[]; r float8[];
    BEGIN
        IF TG_OP = 'INSERT' THEN
            SELECT array_agg(geom), array_agg(gridgis_camera_reach(type, range_m))
              INTO g, r FROM new_rows;
        ELSIF TG_OP = 'DELETE' THEN
            SELECT array_agg(geom), array_agg(gridgis_camera_reach(type, range_m))
              INTO g, r FROM old_rows;
        ELSE
            SELECT array_agg(x.geom), array_agg(x.reach) INTO g, r FROM (
                SELECT o.geom, gridgis_camera_reach(o.type, o.range_m) AS reach
                  FROM old_rows o JOIN new_rows n USING (id)
                 WHERE (o.geom, o.type, o.status, o.azimuth, o.fov, o.range_m)
                       IS DISTINCT FROM (n.geom, n.type, n.status, n.azimuth, n.fov, n.range_m)
                UNION ALL
                SELECT n.geom, gridgis_camera_reach(n.type, n.range_m)
                  FROM old_rows o JOIN new_rows n USING (id)
                 WHERE (o.geom, o.type, o.status, o.azimuth, o.fov, o.range_m)
                       IS DISTINCT FROM (n.geom, n.type, n.status, n.azimuth, n.fov, n.range_m)
            ) x;
        END IF;
        IF g IS NOT NULL THEN
            PERFORM gridgis_mark_coverage_stale(g, r, 'camera ' || lower(TG_OP));
        END IF;
        RETURN NULL;
    END $$""",
    # buildings and roads: reach is TG_ARGV[0] metres, or 'cameras' for the largest
    # camera reach; a row counts as changed when its geometry or road class changed
    # (a building's household count does not move any view).
    """
    CREATE FUNCTION gridgis_features_stale() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        bulk_rows CONSTANT integer := 1000;
        g geometry[]; metres float8; bulk boolean; what text := TG_TABLE_NAME;
    BEGIN
        metres := CASE WHEN TG_ARGV[0] = 'cameras' THEN gridgis_max_camera_reach()
                       ELSE TG_ARGV[0]::float8 END;
        IF metres <= 0 THEN
            RETURN NULL;
        END IF;
        IF TG_OP = 'INSERT' THEN
            SELECT array_agg(geom) INTO g FROM new_rows;
        ELSIF TG_OP = 'DELETE' THEN
            SELECT array_agg(geom) INTO g FROM old_rows;
        ELSE
            SELECT array_agg(x.geom) INTO g FROM (
                SELECT o.geom FROM old_rows o JOIN new_rows n USING (id)
                 WHERE o.geom IS DISTINCT FROM n.geom
                    OR to_jsonb(o) ->> 'class' IS DISTINCT FROM to_jsonb(n) ->> 'class'
                UNION ALL
                SELECT n.geom FROM old_rows o JOIN new_rows n USING (id)
                 WHERE o.geom IS DISTINCT FROM n.geom
                    OR to_jsonb(o) ->> 'class' IS DISTINCT FROM to_jsonb(n) ->> 'class'
            ) x;
        END IF;
        bulk := cardinality(g) > bulk_rows;
        IF bulk THEN
            -- bulk import: one envelope per ~100 m cell, grids by box overlap only
            -- (conservative: may mark a grid up to ~1.5 reach + 100 m away); marking
            -- every grid near a large import is cheap next to computing them
            SELECT array_agg(e) INTO g FROM (
                SELECT ST_Envelope(ST_Collect(x)) AS e FROM unnest(g) AS x
                 GROUP BY ST_SnapToGrid(ST_Centroid(x), 0.001)) cells;
        END IF;
        IF g IS NOT NULL THEN
            PERFORM gridgis_mark_coverage_stale(g, array_fill(metres, ARRAY[cardinality(g)]),
                                                what || ' ' || lower(TG_OP), NOT bulk);
        END IF;
        RETURN NULL;
    END $$""",
]

# (table, trigger function, argument)
TRIGGERS = [("cameras", "gridgis_cameras_stale", ""),
            ("buildings", "gridgis_features_stale", "'cameras'"),
            ("roads", "gridgis_features_stale", f"'{ROAD_REACH}'")]
_TRANSITIONS = {"INSERT": "NEW TABLE AS new_rows", "DELETE": "OLD TABLE AS old_rows",
                "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows"}


def upgrade() -> None:
    op.execute("""
        ALTER TABLE coverage
            ADD COLUMN blind_m2 float8 NOT NULL DEFAULT 0,
            ADD COLUMN blind_spots integer NOT NULL DEFAULT 0,
            ADD COLUMN blind_spot_m2 float8 NOT NULL DEFAULT 0,
            ADD COLUMN blind_incidents integer NOT NULL DEFAULT 0,
            ADD COLUMN mode text NOT NULL DEFAULT 'public',
            ADD COLUMN coverage_ratio float8 GENERATED ALWAYS AS
                (CASE WHEN target_m2 > 0 THEN covered_m2 / target_m2 END) STORED""")
    op.execute("CREATE UNIQUE INDEX uq_coverage_grid_code ON coverage (grid_code)")
    op.execute("ALTER TABLE blind_spots ADD COLUMN camera_m float8")
    op.execute("""
        CREATE TABLE key_place_coverage (
            key_place_id bigint PRIMARY KEY
                CONSTRAINT fk_key_place_coverage_key_place_id_key_places
                REFERENCES key_places (id) ON DELETE CASCADE,
            grid_code text,
            target_m2 float8 NOT NULL DEFAULT 0,
            covered_m2 float8 NOT NULL DEFAULT 0,
            coverage_ratio float8 GENERATED ALWAYS AS
                (CASE WHEN target_m2 > 0 THEN covered_m2 / target_m2 END) STORED,
            computed_at timestamptz NOT NULL DEFAULT now()
        )""")
    op.execute("CREATE INDEX ix_key_place_coverage_grid_code ON key_place_coverage (grid_code)")
    op.execute("""
        CREATE TABLE coverage_stale (
            grid_code text PRIMARY KEY,
            seq bigserial NOT NULL,
            reason text,
            marked_at timestamptz NOT NULL DEFAULT now()
        )""")
    for sql in FUNCTIONS:
        op.execute(sql)
    for table, function, arg in TRIGGERS:
        for event, transition in _TRANSITIONS.items():
            op.execute(f"""
                CREATE TRIGGER {table}_coverage_stale_{event.lower()}
                AFTER {event} ON {table} REFERENCING {transition}
                FOR EACH STATEMENT EXECUTE FUNCTION {function}({arg})""")


def downgrade() -> None:
    for table, _, _ in TRIGGERS:
        for event in _TRANSITIONS:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_coverage_stale_{event.lower()} "
                       f"ON {table}")
    for name in ("gridgis_features_stale()", "gridgis_cameras_stale()",
                 "gridgis_mark_coverage_stale(geometry[], float8[], text, boolean)",
                 "gridgis_expand_m(geometry, float8)", "gridgis_max_camera_reach()",
                 "gridgis_camera_reach(text, float8)"):
        op.execute(f"DROP FUNCTION IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS coverage_stale")
    op.execute("DROP TABLE IF EXISTS key_place_coverage")
    op.execute("ALTER TABLE blind_spots DROP COLUMN IF EXISTS camera_m")
    op.execute("DROP INDEX IF EXISTS uq_coverage_grid_code")
    op.execute("""
        ALTER TABLE coverage DROP COLUMN IF EXISTS coverage_ratio,
            DROP COLUMN IF EXISTS blind_m2, DROP COLUMN IF EXISTS blind_spots,
            DROP COLUMN IF EXISTS blind_spot_m2, DROP COLUMN IF EXISTS blind_incidents,
            DROP COLUMN IF EXISTS mode""")
