"""department time limits per deployment, and the limits fixed on each department's part

* ``department_limits``: (step, category, subcategory or any) × area → amount in hours or
  working days; one rule per key, a NULL subcategory counted as a value (a unique index on
  ``coalesce``, as for routing rules). Where no rule applies, the built-in limits do.
* ``summons.{ack,handle}_limit_{amount,unit,rule}``: the limits in force when the part
  began, so editing the rules later never moves a deadline already set. Parts made before
  this revision keep NULL: they were made with the built-in limits, which still apply.
* a change counter on ``summons`` (the trigger of 0002): an incident's ``overdue`` now
  reads its departments' parts, so its cached tiles must go when a part changes.

Vocabularies are frozen copies: a migration must not change meaning with the code.

Revision ID: 0010
Revises: 0009
"""
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

CATEGORIES = ("dispute", "safety_hazard", "security_hazard", "public_facility", "environment",
              "population", "other")
STEPS = ("acknowledge", "handle")
UNITS = ("hours", "working_days")
PART_COLUMNS = ("ack_limit_amount double precision", "ack_limit_unit varchar(16)",
                "ack_limit_rule bigint", "handle_limit_amount double precision",
                "handle_limit_unit varchar(16)", "handle_limit_rule bigint")


def _in(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


def upgrade() -> None:
    op.execute(f"""
    CREATE TABLE department_limits (
        id bigserial NOT NULL,
        step varchar(16) NOT NULL,
        category varchar(24) NOT NULL,
        subcategory varchar(24),
        area_code varchar(12) NOT NULL,
        amount double precision NOT NULL,
        unit varchar(16) NOT NULL,
        updated_by text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_department_limits PRIMARY KEY (id),
        CONSTRAINT ck_department_limits_step CHECK (step IN ({_in(STEPS)})),
        CONSTRAINT ck_department_limits_category CHECK (category IN ({_in(CATEGORIES)})),
        CONSTRAINT ck_department_limits_amount CHECK (amount > 0),
        CONSTRAINT ck_department_limits_unit CHECK (unit IN ({_in(UNITS)})),
        CONSTRAINT fk_department_limits_area_code_admin_units FOREIGN KEY (area_code)
            REFERENCES admin_units (code)
    )""")
    op.execute("CREATE UNIQUE INDEX uq_department_limits_key ON department_limits "
               "(step, category, coalesce(subcategory, ''), area_code)")
    op.execute("CREATE INDEX ix_department_limits_area_code ON department_limits (area_code)")
    op.execute("ALTER TABLE summons " + ", ".join(f"ADD COLUMN {c}" for c in PART_COLUMNS))
    op.execute("INSERT INTO layer_changes (table_name) VALUES ('summons') "
               "ON CONFLICT (table_name) DO NOTHING")
    op.execute("""
        CREATE TRIGGER summons_layer_change
        AFTER INSERT OR UPDATE OR DELETE ON summons
        FOR EACH STATEMENT EXECUTE FUNCTION gridgis_bump_layer_change()""")
    op.execute("""
        CREATE TRIGGER summons_layer_truncate
        AFTER TRUNCATE ON summons
        FOR EACH STATEMENT EXECUTE FUNCTION gridgis_bump_layer_change()""")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS summons_layer_truncate ON summons")
    op.execute("DROP TRIGGER IF EXISTS summons_layer_change ON summons")
    op.execute("DELETE FROM layer_changes WHERE table_name = 'summons'")
    op.execute("ALTER TABLE summons " + ", ".join(
        f"DROP COLUMN {c.split()[0]}" for c in PART_COLUMNS))
    op.execute("DROP TABLE department_limits")
