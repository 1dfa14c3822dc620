"""Files in and out of the database, and its upkeep: import a file into a layer (one
transaction, committed before the call returns), export a layer, back up and restore,
month tables and retention, the database's versions. The loaders and SQL are
:mod:`gis.store.importer`, :mod:`gis.store.exporter`, :mod:`gis.store.backup`,
:mod:`gis.store.month_tables` and :mod:`gis.store.db`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from sqlalchemy import Engine

from gis.services.uow import unit_of_work
from gis.settings import Settings
from gis.store import backup as dumps
from gis.store import exporter, month_tables
from gis.store.db import database_url, open_engine, versions
from gis.store.importer import ImportReport, load_file
from gis.store.registry import IMPORTABLE as LAYERS  # the importable layers
from gis.store.registry import get_layer

__all__ = ["LAYERS", "ImportReport", "backup", "check_layer", "database_versions",
           "embedded_cluster", "export_layer", "import_file", "monthly_tables", "open_database",
           "restore", "retention", "url"]


def embedded_cluster(settings: Settings):
    """The embedded PostGIS cluster under the data directory (its life cycle: start, stop,
    status)."""
    from gis.store.embedded import EmbeddedCluster

    return EmbeddedCluster(settings.data_dir)


def url(settings: Settings) -> str:
    """The SQLAlchemy URL of the database (starting the embedded cluster if it is the one)."""
    return database_url(settings)


def open_database(settings: Settings) -> Engine:
    """The configured database (the embedded cluster started if it is the one), migrated."""
    return open_engine(settings)


def check_layer(layer: str) -> None:
    """Refuse an unknown layer name before any database is started."""
    get_layer(layer)


def import_file(engine: Engine, layer: str, path: str | Path, *, source_layer: str | None = None,
                crs=None, mapping: Mapping[str, str] | None = None, lon: str | None = None,
                lat: str | None = None, skip_invalid: bool = False,
                report: str | Path | None = None, replace: bool = False,
                timezone: str = "Asia/Shanghai", chunksize: int = 200_000,
                progress: Callable[[int], None] | None = None, actor: str | None = None,
                tolerance_m: float = 10.0) -> ImportReport:
    """Import a file into a layer's table in one transaction, committed before this returns
    (see :func:`gis.store.importer.load_file` for the parameters). On any rejected row
    nothing is written unless ``skip_invalid``; a refused commit writes nothing either.

    Examples
    --------
    >>> import_file(engine, "incidents", "events.csv", crs="gcj02")  # doctest: +SKIP
    """
    with unit_of_work(engine) as session:
        return load_file(session, layer, path, source_layer=source_layer, crs=crs,
                         mapping=mapping, lon=lon, lat=lat, skip_invalid=skip_invalid,
                         report=report, replace=replace, timezone=timezone,
                         chunksize=chunksize, progress=progress, actor=actor,
                         tolerance_m=tolerance_m)


def export_layer(engine: Engine, layer: str, path: str | Path, *, crs=None,
                 bbox: Sequence[float] | None = None, **filters) -> int:
    """Write a layer to ``path`` (format by suffix) with gridgis field names; rows written."""
    return exporter.export_layer(engine, layer, path, crs=crs, bbox=bbox, **filters)


def database_versions(engine: Engine) -> dict[str, str]:
    """PostgreSQL, PostGIS and schema versions of the database."""
    return versions(engine)


def backup(settings: Settings, path: str | Path) -> Path:
    """A pg_dump of the whole database (embedded or external), and beside it
    ``PATH.attachments.tar`` with the stored photos (issue 16) when there are any."""
    from gis import attachments

    out = dumps.backup(database_url(settings), path)
    attachments.archive_path(out).unlink(missing_ok=True)   # never an older run's photos
    attachments.archive(settings.data_dir, attachments.archive_path(out))
    return out


def restore(settings: Settings, path: str | Path) -> None:
    """Replace the database's contents with a dump, all or nothing; then put back the
    photos of ``PATH.attachments.tar`` if the backup has them (files named by their
    content: restoring over existing ones changes nothing)."""
    from gis import attachments

    dumps.restore(database_url(settings), path)
    photos = attachments.archive_path(path)
    if photos.exists():
        attachments.unarchive(photos, settings.data_dir)


def monthly_tables(engine: Engine, months_ahead: int = 3) -> dict:
    """Create the monthly tables ahead; return those created and the rows per table."""
    with unit_of_work(engine) as session:
        created = month_tables.ensure_months(session, months_ahead)
        rows = month_tables.rows_per_month(session)
    return {"created": created, "rows": rows}


def optimize(engine: Engine) -> dict:
    """Rewrite the incidents in place order so that a tile reads few pages (one
    transaction; it locks the table while it runs: a maintenance step)."""
    from gis.store import place_order

    with unit_of_work(engine) as session:
        return {"place_ordered": place_order.order_by_place(session)}


def retention(engine: Engine, keep_months: int) -> dict:
    """Drop patrol points and incident events older than the kept months, and idempotency
    keys older than 7 days (one transaction)."""
    from gis.store import idempotency

    with unit_of_work(engine) as session:
        dropped = month_tables.apply_retention(session, keep_months)
        keys = idempotency.purge(session, 7.0)
    return {"cutoff": month_tables.cutoff_for(keep_months).isoformat(), "dropped": dropped,
            "idempotency_keys": keys}
