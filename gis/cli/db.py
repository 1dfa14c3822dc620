"""``gridgis db ...``: the embedded cluster's life cycle, migrations and versions."""

from __future__ import annotations

import typer

from gis.cli.app import JsonOpt, app, console, emit
from gis.settings import Settings

db_app = typer.Typer(help="The PostGIS database: embedded cluster life cycle and migrations.",
                     no_args_is_help=True)
app.add_typer(db_app, name="db")


def _cluster(settings: Settings):
    from gis.store.embedded import EmbeddedCluster

    if not settings.embedded:
        console.print("GRIDGIS_DATABASE_URL is set: gridgis uses that server, not its own.")
        raise typer.Exit(1)
    return EmbeddedCluster(settings.data_dir)


@db_app.command("start")
def start(json: bool = JsonOpt) -> None:
    """Initialise (first time) and start the embedded PostGIS, then apply migrations."""
    from gis.store.db import open_engine, versions

    settings = Settings()
    engine = open_engine(settings)
    info = {"database": "embedded" if settings.embedded else "external", **versions(engine)}
    if settings.embedded:
        info["data_dir"] = str(settings.data_dir)
    emit(info, json, "database")


@db_app.command("stop")
def stop(json: bool = JsonOpt) -> None:
    """Stop the embedded cluster (its data stays for the next start)."""
    stopped = _cluster(Settings()).stop()
    emit({"stopped": stopped}, json)


@db_app.command("status")
def status(json: bool = JsonOpt) -> None:
    """Whether the embedded cluster exists and runs, or which external database is used."""
    settings = Settings()
    if not settings.embedded:
        emit({"database": "external"}, json)
        return
    cluster = _cluster(settings)
    emit({"database": "embedded", "data_dir": str(settings.data_dir),
          "initialised": cluster.initialised, "running": cluster.running(),
          "bin_dir": str(cluster.bin_dir), "server_user": cluster.user or "(current user)"}, json)


@db_app.command("url")
def url() -> None:
    """Print the SQLAlchemy URL (starting the embedded cluster if needed)."""
    from gis.store.db import database_url

    print(database_url(Settings()))


@app.command("backup")
def backup_cmd(file: str = typer.Argument(..., help="Dump file to write (pg_dump custom format)."),
               json: bool = JsonOpt) -> None:
    """Back up the whole database (embedded or external) with pg_dump."""
    from pathlib import Path

    from gis.store.backup import backup
    from gis.store.db import database_url

    path = backup(database_url(Settings()), file)
    emit({"backup": str(path), "bytes": Path(path).stat().st_size}, json)


@app.command("restore")
def restore_cmd(file: str = typer.Argument(..., help="A dump written by 'gridgis backup'."),
                json: bool = JsonOpt) -> None:
    """Restore a backup, replacing the database's contents (all or nothing)."""
    from gis.store.backup import restore
    from gis.store.db import database_url

    restore(database_url(Settings()), file)
    emit({"restored": file}, json)
