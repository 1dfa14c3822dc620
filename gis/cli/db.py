"""``gridgis db ...``: the embedded cluster's life cycle, migrations and versions."""

from __future__ import annotations

import typer

from gis.cli.app import JsonOpt, app, console, emit
from gis.settings import Settings

db_app = typer.Typer(help="The PostGIS database: embedded cluster life cycle and migrations.",
                     no_args_is_help=True)
app.add_typer(db_app, name="db")


def _cluster(settings: Settings):
    from gis.services import imports

    if not settings.embedded:
        console.print("GRIDGIS_DATABASE_URL is set: gridgis uses that server, not its own.")
        raise typer.Exit(1)
    return imports.embedded_cluster(settings)


@db_app.command("start")
def start(json: bool = JsonOpt) -> None:
    """Initialise (first time) and start the embedded PostGIS, then apply migrations."""
    from gis.services import imports

    settings = Settings()
    engine = imports.open_database(settings)
    info = {"database": "embedded" if settings.embedded else "external",
            **imports.database_versions(engine)}
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
    from gis.services import imports

    print(imports.url(Settings()))


@app.command("backup")
def backup_cmd(file: str = typer.Argument(..., help="Dump file to write (pg_dump custom format)."),
               json: bool = JsonOpt) -> None:
    """Back up the whole database (embedded or external) with pg_dump."""
    from pathlib import Path

    from gis.services import imports

    path = imports.backup(Settings(), file)
    emit({"backup": str(path), "bytes": Path(path).stat().st_size}, json)


@app.command("restore")
def restore_cmd(file: str = typer.Argument(..., help="A dump written by 'gridgis backup'."),
                json: bool = JsonOpt) -> None:
    """Restore a backup, replacing the database's contents (all or nothing)."""
    from gis.services import imports

    imports.restore(Settings(), file)
    emit({"restored": file}, json)
