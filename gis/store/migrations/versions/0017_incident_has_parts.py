"""incidents.has_parts: set once a department part (summons) is made for the incident

The overdue rule (gis/store/overdue.py) looks up the department parts of every open
incident of every incident tile, cluster, list and statistic that the rule's other cases
do not already mark, an index probe per incident, though most incidents never have a part.
The flag lets it skip the probe where there is nothing to find: set by a trigger when a
part is made (or moved to another incident), never cleared (a part is only deleted with
its incident), so "no flag" means "no part, now or at any past instant" and the rule's
answers are unchanged, for ``now()`` as for the past instants of the overview.
Measured on the bench's incident tiles: 7-10 % less server time (docs/speed.md).

Revision ID: 0017
Revises: 0016
"""
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE incidents ADD COLUMN has_parts boolean NOT NULL DEFAULT false")
    op.execute("UPDATE incidents i SET has_parts = true "
               "WHERE EXISTS (SELECT 1 FROM summons s WHERE s.incident_id = i.id)")
    # One UPDATE per statement (a bulk insert of parts marks its incidents at once), and
    # none when they are marked already: the incidents' change counter then stays put.
    op.execute("""
        CREATE FUNCTION gridgis_mark_has_parts() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM parts p JOIN incidents i ON i.id = p.incident_id
                       WHERE NOT i.has_parts) THEN
                UPDATE incidents i SET has_parts = true FROM parts p
                WHERE i.id = p.incident_id AND NOT i.has_parts;
            END IF;
            RETURN NULL;
        END $$""")
    for event in ("INSERT", "UPDATE"):
        op.execute(f"""
            CREATE TRIGGER summons_mark_has_parts_{event.lower()}
            AFTER {event} ON summons REFERENCING NEW TABLE AS parts
            FOR EACH STATEMENT EXECUTE FUNCTION gridgis_mark_has_parts()""")


def downgrade() -> None:
    for event in ("insert", "update"):
        op.execute(f"DROP TRIGGER summons_mark_has_parts_{event} ON summons")
    op.execute("DROP FUNCTION gridgis_mark_has_parts()")
    op.execute("ALTER TABLE incidents DROP COLUMN has_parts")
