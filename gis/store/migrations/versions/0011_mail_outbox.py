"""e-mail of department notices (issue 16, item 7)

* ``departments.email``: the address a department's notices are mailed to (optional).
* ``mail_outbox``: one row per e-mail, written in the transaction of the notice it carries
  and sent after commit by the service when an SMTP server is configured; a failed send is
  recorded (``attempts``, ``last_error``) and retried at ``next_attempt_at``.

Revision ID: 0011
Revises: 0010
"""
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE departments ADD COLUMN email text")
    op.execute("""
    CREATE TABLE mail_outbox (
        id bigserial NOT NULL,
        to_address text NOT NULL,
        subject text NOT NULL,
        body text NOT NULL,
        incident_id bigint,
        department_code varchar(32),
        created_at timestamptz NOT NULL DEFAULT now(),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_error text,
        sent_at timestamptz,
        CONSTRAINT pk_mail_outbox PRIMARY KEY (id)
    )""")
    op.execute("CREATE INDEX ix_mail_outbox_pending ON mail_outbox (next_attempt_at) "
               "WHERE sent_at IS NULL")


def downgrade() -> None:
    op.execute("DROP TABLE mail_outbox")
    op.execute("ALTER TABLE departments DROP COLUMN email")
