"""departments, routing rules, summons (吹哨), supervision notices, attachments, notifications

The tables of issue 16 (the whole loop through the functional departments):

* ``departments``: code, name, the county or township served, contacts.
* ``routing_rules``: (category, subcategory or any) × area → department; one rule per key,
  a NULL subcategory counted as a value (a unique index on ``coalesce``: PostgreSQL 13
  has no ``NULLS NOT DISTINCT``).
* ``summons``: one department's part in one incident, dispatched or summoned, with its due
  times and when it acknowledged (报到) and fed back.
* ``supervision_notices``: 督办 per summons, limit kind and level (1, escalated 2).
* ``attachments``: photos stored by the SHA-256 of the upload under the data directory.
* ``notifications``: the inbox of each account, with a partial index on the unread.
* ``calendar_days``: holidays and make-up working days (调休) per county, for limits in
  working days (:mod:`gis.clocks`).
* ``deadline_requests``: a department's request for more time (延期) on its part, and the
  decision of the level above (approved moves the handle due time; refused does not).
* ``users.department_code`` and the role ``department`` (an account of a department has
  one, and only such an account); ``incidents.department_code`` (dispatched to) and
  ``incidents.merged_into`` (a merged duplicate points at its survivor);
  ``incident_events.department_code`` (the department that acted or was addressed).

Vocabularies are frozen copies: a migration must not change meaning with the code.

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

CATEGORIES = ("dispute", "security_hazard", "safety_hazard", "public_facility", "environment",
              "population", "other")
ROLES = ("admin", "planner", "dispatcher", "analyst", "grid_worker", "viewer", "department")
OLD_ROLES = ROLES[:-1]
NOTIFICATION_KINDS = ("dispatched", "summoned", "acknowledged", "fed_back", "overdue",
                      "supervision", "merged", "deadline", "reopened")


def _in(values) -> str:
    return ", ".join(f"'{v}'" for v in values)


TABLES = [f"""
CREATE TABLE departments (
    code varchar(32) NOT NULL,
    name text NOT NULL,
    area_code varchar(12) NOT NULL,
    contact text,
    phone text,
    active boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_departments PRIMARY KEY (code),
    CONSTRAINT ck_departments_code CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{{0,31}}$'),
    CONSTRAINT fk_departments_area_code_admin_units FOREIGN KEY (area_code)
        REFERENCES admin_units (code)
)""", "CREATE INDEX ix_departments_area_code ON departments (area_code)", f"""
CREATE TABLE routing_rules (
    id bigserial NOT NULL,
    category varchar(24) NOT NULL,
    subcategory varchar(24),
    area_code varchar(12) NOT NULL,
    department_code varchar(32) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_routing_rules PRIMARY KEY (id),
    CONSTRAINT ck_routing_rules_category CHECK (category IN ({_in(CATEGORIES)})),
    CONSTRAINT fk_routing_rules_area_code_admin_units FOREIGN KEY (area_code)
        REFERENCES admin_units (code),
    CONSTRAINT fk_routing_rules_department_code_departments FOREIGN KEY (department_code)
        REFERENCES departments (code) ON DELETE CASCADE
)""",
    "CREATE UNIQUE INDEX uq_routing_rules_key ON routing_rules "
    "(category, coalesce(subcategory, ''), area_code)",
    "CREATE INDEX ix_routing_rules_area_code ON routing_rules (area_code)",
    "CREATE INDEX ix_routing_rules_department_code ON routing_rules (department_code)", """
CREATE TABLE summons (
    id bigserial NOT NULL,
    incident_id bigint NOT NULL,
    department_code varchar(32) NOT NULL,
    kind varchar(16) NOT NULL DEFAULT 'whistle',
    state varchar(16) NOT NULL DEFAULT 'summoned',
    note text,
    summoned_by text,
    summoned_at timestamptz NOT NULL DEFAULT now(),
    ack_due_at timestamptz,
    handle_due_at timestamptz,
    acknowledged_at timestamptz,
    acknowledged_by text,
    fed_back_at timestamptz,
    fed_back_by text,
    feedback text,
    CONSTRAINT pk_summons PRIMARY KEY (id),
    CONSTRAINT ck_summons_kind CHECK (kind IN ('dispatch', 'whistle')),
    CONSTRAINT ck_summons_state CHECK (state IN ('summoned', 'acknowledged', 'fed_back')),
    CONSTRAINT fk_summons_incident_id_incidents FOREIGN KEY (incident_id)
        REFERENCES incidents (id) ON DELETE CASCADE,
    CONSTRAINT fk_summons_department_code_departments FOREIGN KEY (department_code)
        REFERENCES departments (code)
)""",
    "CREATE INDEX ix_summons_incident_id ON summons (incident_id)",
    "CREATE INDEX ix_summons_department_code ON summons (department_code)",
    "CREATE UNIQUE INDEX uq_summons_incident_department ON summons "
    "(incident_id, department_code)", """
CREATE TABLE supervision_notices (
    id bigserial NOT NULL,
    incident_id bigint NOT NULL,
    summons_id bigint,
    department_code varchar(32) NOT NULL,
    kind varchar(16) NOT NULL,
    level integer NOT NULL DEFAULT 1,
    recipients text[] NOT NULL DEFAULT '{}',
    raised_at timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    CONSTRAINT pk_supervision_notices PRIMARY KEY (id),
    CONSTRAINT ck_supervision_notices_kind CHECK (kind IN ('acknowledge', 'handle')),
    CONSTRAINT ck_supervision_notices_level CHECK (level BETWEEN 1 AND 2),
    CONSTRAINT fk_supervision_notices_incident_id_incidents FOREIGN KEY (incident_id)
        REFERENCES incidents (id) ON DELETE CASCADE,
    CONSTRAINT fk_supervision_notices_summons_id_summons FOREIGN KEY (summons_id)
        REFERENCES summons (id) ON DELETE CASCADE,
    CONSTRAINT fk_supervision_notices_department_code_departments
        FOREIGN KEY (department_code) REFERENCES departments (code)
)""",
    "CREATE INDEX ix_supervision_notices_incident_id ON supervision_notices (incident_id)",
    "CREATE INDEX ix_supervision_notices_summons_id ON supervision_notices (summons_id)",
    "CREATE INDEX ix_supervision_notices_department_code ON supervision_notices "
    "(department_code)",
    "CREATE UNIQUE INDEX uq_supervision_notices_step ON supervision_notices "
    "(summons_id, kind, level)", """
CREATE TABLE attachments (
    id bigserial NOT NULL,
    incident_id bigint NOT NULL,
    step varchar(16),
    sha256 varchar(64) NOT NULL,
    content_type varchar(32) NOT NULL,
    bytes bigint NOT NULL,
    width integer NOT NULL,
    height integer NOT NULL,
    served_type varchar(32) NOT NULL,
    served_path text NOT NULL,
    thumb_path text NOT NULL,
    photo_lon double precision,
    photo_lat double precision,
    distance_m double precision,
    far boolean NOT NULL DEFAULT false,
    uploaded_by text,
    uploaded_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_attachments PRIMARY KEY (id),
    CONSTRAINT ck_attachments_sha256 CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    CONSTRAINT ck_attachments_bytes CHECK (bytes > 0),
    CONSTRAINT fk_attachments_incident_id_incidents FOREIGN KEY (incident_id)
        REFERENCES incidents (id) ON DELETE CASCADE
)""",
    "CREATE INDEX ix_attachments_incident_id ON attachments (incident_id)",
    "CREATE INDEX ix_attachments_sha256 ON attachments (sha256)", f"""
CREATE TABLE notifications (
    id bigserial NOT NULL,
    user_id bigint NOT NULL,
    kind varchar(16) NOT NULL,
    incident_id bigint,
    department_code varchar(32),
    message text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    read_at timestamptz,
    CONSTRAINT pk_notifications PRIMARY KEY (id),
    CONSTRAINT ck_notifications_kind CHECK (kind IN ({_in(NOTIFICATION_KINDS)})),
    CONSTRAINT fk_notifications_user_id_users FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT fk_notifications_incident_id_incidents FOREIGN KEY (incident_id)
        REFERENCES incidents (id) ON DELETE CASCADE,
    CONSTRAINT fk_notifications_department_code_departments FOREIGN KEY (department_code)
        REFERENCES departments (code)
)""",
    "CREATE INDEX ix_notifications_user_id ON notifications (user_id)",
    "CREATE INDEX ix_notifications_incident_id ON notifications (incident_id)",
    "CREATE INDEX ix_notifications_department_code ON notifications (department_code)",
    "CREATE INDEX ix_notifications_unread ON notifications (user_id) WHERE read_at IS NULL",
    """
CREATE TABLE deadline_requests (
    id bigserial NOT NULL,
    incident_id bigint NOT NULL,
    summons_id bigint NOT NULL,
    amount double precision NOT NULL,
    unit varchar(16) NOT NULL,
    reason text NOT NULL,
    requested_by text,
    requested_at timestamptz NOT NULL DEFAULT now(),
    status varchar(16) NOT NULL DEFAULT 'requested',
    decided_by text,
    decided_at timestamptz,
    decision_note text,
    CONSTRAINT pk_deadline_requests PRIMARY KEY (id),
    CONSTRAINT ck_deadline_requests_amount CHECK (amount > 0),
    CONSTRAINT ck_deadline_requests_unit CHECK (unit IN ('hours', 'working_days')),
    CONSTRAINT ck_deadline_requests_status CHECK (status IN ('requested', 'approved', 'refused')),
    CONSTRAINT fk_deadline_requests_incident_id_incidents FOREIGN KEY (incident_id)
        REFERENCES incidents (id) ON DELETE CASCADE,
    CONSTRAINT fk_deadline_requests_summons_id_summons FOREIGN KEY (summons_id)
        REFERENCES summons (id) ON DELETE CASCADE
)""",
    "CREATE INDEX ix_deadline_requests_incident_id ON deadline_requests (incident_id)",
    "CREATE INDEX ix_deadline_requests_summons_id ON deadline_requests (summons_id)", """
CREATE TABLE calendar_days (
    county_code varchar(6) NOT NULL,
    day date NOT NULL,
    kind varchar(8) NOT NULL,
    name text,
    CONSTRAINT pk_calendar_days PRIMARY KEY (county_code, day),
    CONSTRAINT ck_calendar_days_kind CHECK (kind IN ('holiday', 'workday')),
    CONSTRAINT ck_calendar_days_county CHECK (county_code ~ '^[0-9]{6}$')
)""",
]

COLUMNS = [
    "ALTER TABLE users ADD COLUMN department_code varchar(32) "
    "CONSTRAINT fk_users_department_code_departments REFERENCES departments (code)",
    "CREATE INDEX ix_users_department_code ON users (department_code)",
    "ALTER TABLE users DROP CONSTRAINT ck_users_role",
    f"ALTER TABLE users ADD CONSTRAINT ck_users_role CHECK (role IN ({_in(ROLES)}))",
    "ALTER TABLE users ADD CONSTRAINT ck_users_department "
    "CHECK ((role = 'department') = (department_code IS NOT NULL))",
    "ALTER TABLE incidents ADD COLUMN department_code varchar(32) "
    "CONSTRAINT fk_incidents_department_code_departments REFERENCES departments (code)",
    "CREATE INDEX ix_incidents_department_code ON incidents (department_code)",
    "ALTER TABLE incidents ADD COLUMN merged_into bigint "
    "CONSTRAINT fk_incidents_merged_into_incidents REFERENCES incidents (id)",
    "CREATE INDEX ix_incidents_merged_into ON incidents (merged_into)",
    # a partitioned table: the column reaches every month's partition
    "ALTER TABLE incident_events ADD COLUMN department_code varchar(32)",
]


def upgrade() -> None:
    for statement in TABLES + COLUMNS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("ALTER TABLE incident_events DROP COLUMN IF EXISTS department_code")
    op.execute("ALTER TABLE incidents DROP COLUMN IF EXISTS merged_into")
    op.execute("ALTER TABLE incidents DROP COLUMN IF EXISTS department_code")
    op.execute("DELETE FROM users WHERE role = 'department'")
    op.execute("ALTER TABLE users DROP CONSTRAINT IF EXISTS ck_users_department")
    op.execute("ALTER TABLE users DROP CONSTRAINT ck_users_role")
    op.execute(f"ALTER TABLE users ADD CONSTRAINT ck_users_role CHECK (role IN "
               f"({_in(OLD_ROLES)}))")
    op.execute("ALTER TABLE users DROP COLUMN IF EXISTS department_code")
    for table in ("calendar_days", "deadline_requests", "notifications", "attachments", "supervision_notices",
                  "summons",
                  "routing_rules", "departments"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
