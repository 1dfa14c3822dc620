"""``gridgis key-households import F``: the key-household register (重点家庭/特殊群体, issue
18) from a CSV or vector file, all or nothing, as an administrator (audited as 'cli')."""

from __future__ import annotations

from pathlib import Path

import typer

from gis.cli.app import JsonOpt, app, emit

kh_app = typer.Typer(help="The key-household register (重点家庭/特殊群体).", no_args_is_help=True)
app.add_typer(kh_app, name="key-households")


@kh_app.command("import")
def import_(file: Path = typer.Argument(..., help="CSV or vector file: household, kind, and "
                                        "building or lon, lat; responsible_worker optional. "
                                        "No other column (names, ID numbers, phones) is accepted."),
            crs: str = typer.Option(None, "--crs", help="CRS of CSV lon/lat: 4326 (default), "
                                    "gcj02, bd09, an EPSG code."),
            json: bool = JsonOpt) -> None:
    """Import key households, all or nothing: every bad row is listed by row and field."""
    from gis.services import imports, key_households
    from gis.services.accounts import Principal
    from gis.settings import Settings

    engine = imports.open_database(Settings())
    emit(key_households.import_file(engine, Principal(0, "cli", "admin", None), file, crs=crs),
         json, "key-households import")
