"""Alembic environment: run migrations on the connection that gridgis hands over
(``config.attributes["connection"]``), or on ``sqlalchemy.url``."""

from alembic import context
from sqlalchemy import create_engine

from gis.store.models import Base

config = context.config
target_metadata = Base.metadata


def _include_object(obj, name, type_, reflected, compare_to):
    # PostGIS' own tables and the spatial indexes GeoAlchemy2 manages are not ours to diff.
    if type_ == "table" and name in ("spatial_ref_sys",):
        return False
    # Tables made only by migrations (trigger-maintained bookkeeping such as layer_changes)
    # have no model; autogenerate must not propose dropping them.
    if type_ == "table" and reflected and compare_to is None:
        return False
    return True


def run() -> None:
    from geoalchemy2 import alembic_helpers

    conn = config.attributes.get("connection")
    opts = dict(target_metadata=target_metadata, include_object=_include_object,
                process_revision_directives=alembic_helpers.writer,
                render_item=alembic_helpers.render_item)
    if conn is not None:
        context.configure(connection=conn, **opts)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(connection=connection, **opts)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run()
