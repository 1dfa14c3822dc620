"""deadline requests on the incident itself, and a fresh handle clock for a reopened part

* ``deadline_requests.summons_id`` may be NULL: a grid's own staff ask for more time (or a
  pause) on the incident's own due time, not on a department's part. ``target`` says which
  (``part`` or ``incident``) and a check keeps it in step with ``summons_id``.
* ``summons.handle_clock_from``: when the part's handle clock (re)started. NULL: at
  ``summoned_at``. A reopen (重办) restarts it, so a later approved extension is counted from
  the reopen, not from the first summons.

Revision ID: 0012
Revises: 0011 (0011_mail_outbox took 0011 first)
"""
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        ALTER TABLE deadline_requests
            ADD COLUMN target varchar(16) NOT NULL DEFAULT 'part',
            ALTER COLUMN summons_id DROP NOT NULL,
            ADD CONSTRAINT ck_deadline_requests_target CHECK (target IN ('part', 'incident')),
            ADD CONSTRAINT ck_deadline_requests_target_part CHECK (
                (target = 'part') = (summons_id IS NOT NULL))""")
    op.execute("ALTER TABLE summons ADD COLUMN handle_clock_from timestamptz")


def downgrade() -> None:
    op.execute("ALTER TABLE summons DROP COLUMN handle_clock_from")
    op.execute("DELETE FROM deadline_requests WHERE summons_id IS NULL")
    op.execute("""
        ALTER TABLE deadline_requests
            DROP CONSTRAINT ck_deadline_requests_target_part,
            DROP CONSTRAINT ck_deadline_requests_target,
            ALTER COLUMN summons_id SET NOT NULL,
            DROP COLUMN target""")
