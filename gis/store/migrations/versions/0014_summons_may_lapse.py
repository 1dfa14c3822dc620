"""a partial covering index for the overdue rule's look-up of department parts

The overdue rule (gis/store/overdue.py) asks, per open incident of every incident tile
and cluster, whether one of its parts let a deadline lapse. ``ix_summons_may_lapse``
holds only the parts that can still lapse (not done, or done after the due time: a part
done in time never lapses) with the columns the rule reads, so the probe is an
index-only scan of a small index. Index-only needs the visibility map: autovacuum keeps
it for ``summons``; ``gridgis db optimize`` (VACUUM ANALYZE) after a bulk load.

Revision ID: 0014
Revises: 0013
"""
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# the predicate of gis.store.models.summons_may_lapse_sql() at this revision (a migration
# keeps its own text: the model may change later)
MAY_LAPSE = ("acknowledged_at IS NULL OR acknowledged_at > ack_due_at"
             " OR fed_back_at IS NULL OR fed_back_at > handle_due_at")


def upgrade() -> None:
    op.execute(f"""
    CREATE INDEX ix_summons_may_lapse ON summons (incident_id)
        INCLUDE (summoned_at, ack_due_at, acknowledged_at, handle_due_at, fed_back_at,
                 department_code)
        WHERE {MAY_LAPSE}""")


def downgrade() -> None:
    op.execute("DROP INDEX ix_summons_may_lapse")
