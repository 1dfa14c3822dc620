"""drop the kept safe regions of the SQL bulk assignment

The bulk assignment of stored incidents now places them with the library path
(gis/store/assignment.py ``_precompute``, as an import does), which prepares the current
grids in memory (0.5 s for 10,000 grids); the SQL statement that read
``grid_safe_regions`` is gone, and so are the tables it kept (migration 0013).

Revision ID: 0015
Revises: 0014
"""
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP TABLE grid_safe_regions")
    op.execute("DROP TABLE grid_safe_region_sets")


def downgrade() -> None:
    # the tables of 0013, empty: a bulk run of that revision builds its sets again
    op.execute("""
    CREATE TABLE grid_safe_region_sets (
        key text NOT NULL,
        built_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_grid_safe_region_sets PRIMARY KEY (key)
    )""")
    op.execute("""
    CREATE TABLE grid_safe_regions (
        key text NOT NULL REFERENCES grid_safe_region_sets (key) ON DELETE CASCADE,
        gid bigint NOT NULL,
        code text NOT NULL,
        community_code text,
        sg geometry(Geometry, 4326) NOT NULL,
        CONSTRAINT pk_grid_safe_regions PRIMARY KEY (key, gid)
    )""")
    op.execute("CREATE INDEX idx_grid_safe_regions_sg ON grid_safe_regions USING gist (sg)")
