"""``gridgis coverage-db``: compute camera coverage of an area from the database and store
it (per-grid figures, blind spots, key places), all in one transaction."""

from __future__ import annotations

from datetime import datetime

import typer

from gis.cli.app import JsonOpt, app, emit, progress
from gis.errors import InputError

_STEPS = {"load": "loading layers", "analyse": "views and blind spots", "store": "storing",
          "done": "done"}


def _when(text: str | None, name: str) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"--{name} must be a date or time like 2025-01-31, not {text!r}",
                         field=name) from None
    return value if value.tzinfo else value.astimezone()  # local time of this machine


@app.command("coverage-db")
def coverage_db(
    area: str = typer.Option(..., "--area", help="Admin unit or grid code (e.g. a township)."),
    mode: str = typer.Option("public", "--mode", help="Target: public | grid | streets."),
    min_area: float = typer.Option(25.0, "--min-area", help="Smallest blind spot listed (m²)."),
    include_offline: bool = typer.Option(False, "--include-offline",
                                         help="Count offline cameras too."),
    stale: bool = typer.Option(False, "--stale", help="Recompute only grids marked stale by "
                               "camera, building or road changes (and never computed ones)."),
    since: str = typer.Option(None, "--since", help="Count incidents reported from this date."),
    until: str = typer.Option(None, "--until", help="... and before this date."),
    as_json: bool = JsonOpt,
) -> None:
    """Compute camera coverage for an area in the database and store it."""
    from gis.services import coverage, imports
    from gis.settings import Settings

    start, end = _when(since, "since"), _when(until, "until")
    opts = coverage.RunOptions(mode=mode, min_area=min_area, include_offline=include_offline,
                               period=(start, end) if start or end else None, only_stale=stale)
    engine = imports.open_database(Settings())
    try:
        with progress(f"coverage {area}", total=len(_STEPS), quiet=as_json,
                      forks=True) as advance:
            summary = coverage.run(engine, area, opts,
                                   on_step=lambda s: advance(1, description=_STEPS[s]))
    finally:
        engine.dispose()
    if not as_json:  # the table stays readable; --json keeps the codes for scripts
        summary.pop("grid_codes", None)
    emit(summary, as_json, f"coverage of {area}")
