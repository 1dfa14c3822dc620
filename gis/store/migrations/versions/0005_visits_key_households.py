"""key households (重点家庭/特殊群体) and household visits (入户走访)

The least personal data that works (issue 18):

* ``key_households``: the register's own household reference (no name, no ID number, no
  phone), the kind of need, where it is (a building, or a point for a rural household
  without a footprint), the community that owns the record (scope) and the responsible
  worker. Reads are audited by the services.
* ``visits``: who visited, when, which household (reference) and/or building and/or
  where, and a short note; the community is the scope.

Vocabularies are frozen copies: a migration must not change meaning with the code.

Revision ID: 0005
Revises: 0004
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

KINDS = ("elderly_alone", "disability", "left_behind_child", "community_correction",
         "low_income", "mental_illness", "drug_rehabilitation", "other")


def _in(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE key_households (
        id bigserial CONSTRAINT pk_key_households PRIMARY KEY,
        household_ref text NOT NULL CONSTRAINT uq_key_households_household_ref UNIQUE,
        kind varchar(32) NOT NULL CONSTRAINT ck_key_households_kind CHECK (kind IN ({_in(KINDS)})),
        building_id bigint CONSTRAINT fk_key_households_building_id_buildings
            REFERENCES buildings (id) ON DELETE SET NULL,
        community_code varchar(12) NOT NULL CONSTRAINT fk_key_households_community_code_admin_units
            REFERENCES admin_units (code),
        responsible_worker text,
        created_at timestamptz NOT NULL DEFAULT now(),
        geom geometry(Point, 4326),
        CONSTRAINT ck_key_households_placed CHECK (building_id IS NOT NULL OR geom IS NOT NULL),
        CONSTRAINT ck_key_households_ref_length CHECK (length(household_ref) BETWEEN 1 AND 64)
    )""")
    op.execute("CREATE INDEX ix_key_households_building_id ON key_households (building_id)")
    op.execute("CREATE INDEX ix_key_households_community_code ON key_households (community_code)")
    op.execute("CREATE INDEX idx_key_households_geom ON key_households USING gist (geom)")
    op.execute("""
    CREATE TABLE visits (
        id bigserial CONSTRAINT pk_visits PRIMARY KEY,
        worker text NOT NULL,
        time timestamptz NOT NULL,
        household_ref text,
        building_id bigint CONSTRAINT fk_visits_building_id_buildings
            REFERENCES buildings (id) ON DELETE SET NULL,
        community_code varchar(12) CONSTRAINT fk_visits_community_code_admin_units
            REFERENCES admin_units (code),
        note varchar(500),
        created_at timestamptz NOT NULL DEFAULT now(),
        geom geometry(Point, 4326),
        CONSTRAINT ck_visits_placed CHECK (household_ref IS NOT NULL OR building_id IS NOT NULL
                                           OR geom IS NOT NULL)
    )""")
    op.execute("CREATE INDEX ix_visits_worker_time ON visits (worker, time)")
    op.execute("CREATE INDEX ix_visits_building_id ON visits (building_id)")
    op.execute("CREATE INDEX ix_visits_community_code ON visits (community_code)")
    op.execute("CREATE INDEX idx_visits_geom ON visits USING gist (geom)")


def downgrade() -> None:
    op.execute("DROP TABLE visits")
    op.execute("DROP TABLE key_households")
