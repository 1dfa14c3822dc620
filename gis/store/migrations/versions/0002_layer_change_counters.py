"""layer change counters for the tile cache

A per-table counter bumped by a statement-level trigger on every INSERT, UPDATE, DELETE
or TRUNCATE of a served table. The tile cache keys its entries by these counters, so a
published plan, a new incident or a moved camera invalidates the cached tiles at commit
(the counter row is updated in the writing transaction: readers see the new value
exactly when they can see the new rows). One row update per statement, not per row, so
bulk imports pay almost nothing.

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("admin_units", "blind_spots", "buildings", "cameras", "coverage", "grids",
          "incidents", "key_places", "patrol_tracks", "plan_grids", "roads")


def upgrade() -> None:
    op.execute("""
        CREATE TABLE layer_changes (
            table_name text PRIMARY KEY,
            counter bigint NOT NULL DEFAULT 0,
            changed_at timestamptz NOT NULL DEFAULT now()
        )""")
    op.execute("""
        CREATE FUNCTION gridgis_bump_layer_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO layer_changes AS c (table_name, counter, changed_at)
            VALUES (TG_TABLE_NAME, 1, now())
            ON CONFLICT (table_name)
            DO UPDATE SET counter = c.counter + 1, changed_at = now();
            RETURN NULL;
        END $$""")
    for table in TABLES:
        op.execute(f"INSERT INTO layer_changes (table_name) VALUES ('{table}')")
        op.execute(f"""
            CREATE TRIGGER {table}_layer_change
            AFTER INSERT OR UPDATE OR DELETE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION gridgis_bump_layer_change()""")
        op.execute(f"""
            CREATE TRIGGER {table}_layer_truncate
            AFTER TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION gridgis_bump_layer_change()""")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_layer_change ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_layer_truncate ON {table}")
    op.execute("DROP FUNCTION IF EXISTS gridgis_bump_layer_change()")
    op.execute("DROP TABLE IF EXISTS layer_changes")
