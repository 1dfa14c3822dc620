"""``gridgis db months``, ``gridgis db retention`` and ``gridgis db optimize``: the month tables (PostgreSQL monthly
partitions) of patrol points and incident events (migration 0004). ``gridgis db partitions``
is the old, hidden name of ``db months``. ``db optimize`` writes the incidents in place order
(:mod:`gis.store.place_order`)."""

from __future__ import annotations

import typer

from gis.cli.app import JsonOpt, emit
from gis.cli.db import db_app
from gis.settings import Settings


@db_app.command("months")
@db_app.command("partitions", hidden=True)  # the old name, kept for existing cron jobs
def months_cmd(months_ahead: int = typer.Option(3, "--months-ahead", help="Months to "
                                                "create from the current one."),
               json: bool = JsonOpt) -> None:
    """Create month tables ahead (run monthly, e.g. from cron) and count rows in each."""
    from gis.services import imports

    emit(imports.monthly_tables(imports.open_database(Settings()), months_ahead), json,
         "months")


@db_app.command("optimize")
def optimize_cmd(json: bool = JsonOpt) -> None:
    """Rewrite the incidents in place order (map neighbours on the same disk pages), so a
    cold tile reads few pages. Locks the table while it runs (about 2 s per 200,000
    incidents): run it after a bulk import and e.g. nightly from cron."""
    from gis.services import imports

    emit(imports.optimize(imports.open_database(Settings())), json, "optimize")


@db_app.command("retention")
def retention_cmd(keep_months: int = typer.Option(..., "--keep-months", help="Months kept: "
                                                  "the current one and N-1 before it."),
                  json: bool = JsonOpt) -> None:
    """Drop patrol points and incident events older than the kept months (whole
    partitions detached and dropped; one transaction)."""
    from gis.services import imports

    emit(imports.retention(imports.open_database(Settings()), keep_months), json, "retention")
