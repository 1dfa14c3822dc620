"""public channels: idempotency keys, incident channel, public reports, integration role

* ``idempotency_keys``: the first answer to a write sent with an ``Idempotency-Key``
  header, written in the same transaction as the write itself (a crash cannot keep one
  without the other). Unique per (scope, key): the scope is the account, or a keyed hash
  of the client address for anonymous callers (no address is stored).
* ``incidents.channel``: how an incident came in (staff, import, public, open311).
* ``public_reports``: what a resident or an Open311 client gave beyond the incident:
  the tracking code, contact details (never served by a layer, a tile or an export) and a
  media URL (photos are attachments of the incident, migration 0006).
* role ``integration`` (Open311 clients: create and read requests, nothing else).

Vocabularies are frozen copies: a migration must not change meaning with the code.

Revision ID: 0007
Revises: 0006
"""
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

CHANNELS = ("staff", "import", "public", "open311")
OLD_ROLES = ("admin", "planner", "dispatcher", "analyst", "grid_worker", "viewer", "department")
ROLES = OLD_ROLES + ("integration",)


def _in(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


def upgrade() -> None:
    op.execute("""
    CREATE TABLE idempotency_keys (
        id bigserial CONSTRAINT pk_idempotency_keys PRIMARY KEY,
        scope text NOT NULL,
        key text NOT NULL,
        fingerprint text NOT NULL,
        status integer NOT NULL,
        body text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT uq_idempotency_keys_scope UNIQUE (scope, key),
        CONSTRAINT ck_idempotency_keys_key_length CHECK (length(key) BETWEEN 1 AND 255)
    )""")
    op.execute("CREATE INDEX ix_idempotency_keys_created_at ON idempotency_keys (created_at)")
    op.execute(f"""
    ALTER TABLE incidents ADD COLUMN channel varchar(16) NOT NULL DEFAULT 'staff'
        CONSTRAINT ck_incidents_channel CHECK (channel IN ({_in(CHANNELS)}))""")
    op.execute("""
    CREATE TABLE public_reports (
        incident_id bigint CONSTRAINT pk_public_reports PRIMARY KEY
            CONSTRAINT fk_public_reports_incident_id_incidents
            REFERENCES incidents (id) ON DELETE CASCADE,
        code text NOT NULL CONSTRAINT uq_public_reports_code UNIQUE,
        phone text,
        email text,
        first_name text,
        last_name text,
        media_url text,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT ck_public_reports_code CHECK (code ~ '^[A-Z2-7]{10,32}$')
    )""")
    op.execute("ALTER TABLE users DROP CONSTRAINT ck_users_role")
    op.execute(f"ALTER TABLE users ADD CONSTRAINT ck_users_role CHECK (role IN ({_in(ROLES)}))")


def downgrade() -> None:
    op.execute("DELETE FROM users WHERE role = 'integration'")
    op.execute("ALTER TABLE users DROP CONSTRAINT ck_users_role")
    op.execute(f"ALTER TABLE users ADD CONSTRAINT ck_users_role CHECK (role IN ({_in(OLD_ROLES)}))")
    op.execute("DROP TABLE public_reports")
    op.execute("ALTER TABLE incidents DROP COLUMN channel")
    op.execute("DROP TABLE idempotency_keys")
