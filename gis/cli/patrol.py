"""``gridgis patrol``: half-day patrol compliance from a tracks file and a grids file,
without a database."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import typer

from gis import csvsafe
from gis.cli.app import JsonOpt, app, emit, progress
from gis.errors import InputError
from gis.io import format_of, read_layer, write_layer
from gis.patrol.cleaning import CYCLING_SPEED
from gis.patrol.compliance import DEFAULT_MIN_MINUTES, compliance_layer, compliance_table, window_starts
from gis.patrol.engine import PatrolParams, patrol_presence_file
from gis.patrol.gridindex import GridIndex
from gis.patrol.tracks import Columns
from gis.patrol.windows import parse_instant, parse_window


def _write_csv(table, out: Path) -> None:
    """Atomic CSV write: a temporary file in the same folder, then rename."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    try:
        csvsafe.to_csv(table, tmp)  # spreadsheet formulas neutralised
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _presence(tracks: Path, index: GridIndex, params: PatrolParams, cols: Columns, crs,
              scheduler: str | None):
    if scheduler:
        from gis.patrol.distributed import patrol_presence_dask

        return patrol_presence_dask(tracks, index, params, cols=cols, crs=crs, scheduler=scheduler)
    with progress("reading fixes by worker", total=None) as advance:
        return patrol_presence_file(tracks, index, params, cols=cols, crs=crs, advance=advance)


@app.command("patrol")
def patrol_cmd(
    tracks: Path = typer.Option(..., "--tracks", help="GPS fixes: CSV, GPX, GeoJSON, GeoPackage."),
    grids: Path = typer.Option(..., "--grids", help="Grid polygons (any vector format)."),
    out: Path = typer.Option(..., "--out", help="One row per grid per window (.csv, .gpkg, ...)."),
    grid_key: str = typer.Option(None, "--grid-key", help="Column naming each grid (default: row number)."),
    crs: str = typer.Option(None, "--crs", help="CRS of the track coordinates: 4326 (default), gcj02, bd09, EPSG code."),
    start: str = typer.Option(None, "--from", help="Period start (ISO; local time if no offset). Default: first fix."),
    end: str = typer.Option(None, "--to", help="Period end, exclusive. Default: last fix."),
    window: str = typer.Option("12h", "--window", help="Window length anchored at local midnight (12h = half days)."),
    tz: str = typer.Option("Asia/Shanghai", "--tz", help="Local time zone of windows and of times without offset."),
    min_minutes: float = typer.Option(DEFAULT_MIN_MINUTES, "--min-minutes", help="Minutes inside that count as a patrol."),
    min_metres: float = typer.Option(None, "--min-metres", help="Metres walked inside that count as a patrol (either threshold suffices)."),
    worker_col: str = typer.Option("worker", "--worker-col"),
    time_col: str = typer.Option("time", "--time-col"),
    lon_col: str = typer.Option("lon", "--lon-col"),
    lat_col: str = typer.Option("lat", "--lat-col"),
    accuracy_col: str = typer.Option(None, "--accuracy-col", help="Column with the fix accuracy in metres."),
    accuracy_max: float = typer.Option(None, "--accuracy-max", help="Drop fixes less accurate than this (metres)."),
    speed_max: float = typer.Option(CYCLING_SPEED, "--speed-max", help="Jumps faster than this (m/s) are dropped: ~2 walking, ~7 cycling."),
    max_gap: float = typer.Option(10.0, "--max-gap", help="Minutes of silence that break a track."),
    scheduler: str = typer.Option(None, "--scheduler", help="Run on Dask: a scheduler address, or 'local' for a LocalCluster."),
    as_json: bool = JsonOpt,
) -> None:
    """Half-day patrol compliance (半日一巡) per grid: every grid, every window."""
    t0 = time.perf_counter()
    format_of(out)  # refuse an unknown output format before any work
    if max_gap * 60 > parse_window(window).total_seconds():
        raise InputError("--max-gap must not exceed the window", field="max-gap")
    params = PatrolParams(window=window, tz=tz, speed_max=speed_max, max_gap_s=max_gap * 60,
                          accuracy_max=accuracy_max)
    windows = params.windows
    cols = Columns(worker_col, time_col, lon_col, lat_col, accuracy_col)
    grid_gdf = read_layer(grids)
    index = GridIndex(grid_gdf, grid_key)
    res = _presence(tracks, index, params, cols, crs, scheduler)
    starts = window_starts(windows, res.first_ns, res.last_ns,
                           parse_instant(start, tz, "from") if start else None,
                           parse_instant(end, tz, "to") if end else None)
    table = compliance_table(res.presence, index.keys, windows, starts,
                             min_minutes=min_minutes, min_metres=min_metres)
    if format_of(out) == "csv":
        _write_csv(table, out)
    else:
        write_layer(compliance_layer(table, grid_gdf, grid_key), out)
    emit({"fixes_read": res.fixes_read, "fixes_dropped": res.dropped,
          "fixes_kept": res.fixes_read - sum(res.dropped.values()), "grids": len(index),
          "windows": len(starts), "patrolled_share": float(table["patrolled"].mean()) if len(table) else 0.0,
          "out": str(out), "seconds": round(time.perf_counter() - t0, 3)}, as_json, title="patrol")
