"""key households edited over HTTP (optimistic ``version``) and the duty roster

* ``key_households.version``: PATCH and DELETE name the version they read; a stale one is
  refused (409) instead of overwriting someone else's change.
* ``rosters``: one row per worker and day, on or off duty (issue 18's fairness rule: a
  worker off duty by the roster is not required to patrol that day). The worker is the id
  their phone uploads fixes under (``grid_staff.worker_id``); one row per worker and day.

Revision ID: 0009
Revises: 0008
"""
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE key_households ADD COLUMN version integer NOT NULL DEFAULT 1")
    op.execute("""
    CREATE TABLE rosters (
        worker text NOT NULL,
        day date NOT NULL,
        on_duty boolean NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_rosters PRIMARY KEY (worker, day)
    )""")


def downgrade() -> None:
    op.execute("DROP TABLE rosters")
    op.execute("ALTER TABLE key_households DROP COLUMN version")
