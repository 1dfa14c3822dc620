"""the bulk assignment's safe regions, kept per set of current grids

``grid_safe_region_sets``: one row per *key*, an md5 of the current grids (id, code,
community and geometry) with the tolerance and metric projection they were built for;
``grid_safe_regions``: per key, each grid's safe region (gis/store/sql/assign_bulk.sql).
Built by the first bulk assignment after grids change (a publish, a load), reused by
every later one; a change of any current grid gives a new key, so a stale set is never
read, and building a new set removes the others.

Revision ID: 0013
Revises: 0012
"""
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
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
    # every geometry column has a GiST index (DESIGN.md); the bulk statement reads the
    # regions of one key whole (a MATERIALIZED CTE), so this index does not change its plan
    op.execute("CREATE INDEX idx_grid_safe_regions_sg ON grid_safe_regions USING gist (sg)")


def downgrade() -> None:
    op.execute("DROP TABLE grid_safe_regions")
    op.execute("DROP TABLE grid_safe_region_sets")
