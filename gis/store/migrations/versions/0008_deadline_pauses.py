"""deadline requests may be pauses (暂停)

A department asks either for more time (an extension: amount and unit) or for its clock to
stop (a pause: no amount). An approved pause runs from its approval until ``resumed_at``;
:mod:`gis.clocks` does not count that time, so no due time lapses meanwhile.

Revision ID: 0008
Revises: 0007
"""
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        ALTER TABLE deadline_requests
            ADD COLUMN kind varchar(16) NOT NULL DEFAULT 'extension',
            ADD COLUMN resumed_at timestamptz,
            ALTER COLUMN amount DROP NOT NULL,
            ALTER COLUMN unit DROP NOT NULL,
            ADD CONSTRAINT ck_deadline_requests_kind CHECK (kind IN ('extension', 'pause')),
            ADD CONSTRAINT ck_deadline_requests_extension CHECK (kind = 'pause'
                OR (amount IS NOT NULL AND unit IS NOT NULL))""")


def downgrade() -> None:
    op.execute("DELETE FROM deadline_requests WHERE kind = 'pause'")
    op.execute("""
        ALTER TABLE deadline_requests
            DROP CONSTRAINT ck_deadline_requests_extension,
            DROP CONSTRAINT ck_deadline_requests_kind,
            ALTER COLUMN unit SET NOT NULL,
            ALTER COLUMN amount SET NOT NULL,
            DROP COLUMN resumed_at,
            DROP COLUMN kind""")
