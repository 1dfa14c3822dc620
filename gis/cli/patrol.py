"""``gridgis patrol``: half-day patrol compliance from a tracks file and a grids file,
without a database.

The grid × window table can be huge (18,000 grids over three years of half days is 39 M
rows), so it is written in pieces of whole grids as it is computed (CSV, GeoPackage and
GeoParquet stream; other formats are assembled first), and ``--summary`` /
``--worker-summary`` give one row per grid / per worker beside it or instead of it.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import typer

from gis import csvsafe
from gis.cli.app import JsonOpt, app, console, emit, progress
from gis.cli.assess import write_csv
from gis.errors import InputError
from gis.io import (format_of, read_layer, replace_dataset, require_features,
                    with_file, write_layer)
from gis.patrol.cleaning import CYCLING_SPEED
from gis.patrol.compliance import (DEFAULT_MIN_MINUTES, compliance_chunks, compliance_layer,
                                   grid_summary, window_starts, worker_rates)
from gis.patrol.engine import PatrolParams, patrol_presence_file
from gis.patrol.gridindex import GridIndex
from gis.patrol.join import PATROL_SPEED
from gis.patrol.tracks import Columns
from gis.patrol.windows import parse_instant, parse_window

DROP_WARN_SHARE = 0.05  # a run dropping more than this share of its fixes says so loudly
BIG_TABLE_ROWS = 5_000_000  # above this, the full table's size is announced


class TableWriter:
    """Writes the compliance table piece by piece into a temporary file beside ``out``,
    moved into place by :meth:`commit` (nothing half-written under the final name)."""

    def __init__(self, out: Path, grid_gdf, grid_key: str | None):
        self.out, self.fmt = out, format_of(out)
        self.grid_gdf, self.grid_key = grid_gdf, grid_key
        out.parent.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        self.tmp = self.dir / out.name
        self.rows, self._held, self._parquet = 0, [], None

    def write(self, chunk) -> None:
        if self.fmt == "csv":
            csvsafe.to_csv(chunk, self.tmp, mode="a", header=self.rows == 0)
        elif self.fmt == "gpkg":
            import pyogrio

            pyogrio.write_dataframe(self._layer(chunk), self.tmp, layer=self.out.stem,
                                    driver="GPKG", append=self.rows > 0)
        elif self.fmt == "parquet":
            self._write_parquet(self._layer(chunk))
        else:  # GeoJSON, FlatGeobuf, Shapefile: assembled, then written at once
            self._held.append(chunk)
        self.rows += len(chunk)

    def _layer(self, chunk):
        return compliance_layer(chunk, self.grid_gdf, self.grid_key)

    def _write_parquet(self, gdf) -> None:
        import pyarrow.parquet as pq
        from geopandas.io.arrow import _geopandas_to_arrow

        table = _geopandas_to_arrow(gdf)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self.tmp, table.schema)
        self._parquet.write_table(table.cast(self._parquet.schema))

    def commit(self) -> None:
        try:
            if self._parquet is not None:
                self._parquet.close()
            if self.fmt == "csv" and self.rows == 0:
                self._empty().to_csv(self.tmp, index=False)
            elif self._held or (self.rows == 0 and self.fmt != "csv"):
                import pandas as pd

                table = pd.concat(self._held, ignore_index=True) if self._held else self._empty()
                write_layer(self._layer(table), self.tmp)
            replace_dataset(self.tmp, self.out)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    @staticmethod
    def _empty():
        import pandas as pd

        return pd.DataFrame({c: [] for c in ("grid", "window_start", "patrolled", "minutes",
                                             "metres", "entries", "workers")})


def _presence(tracks: Path, index: GridIndex, params: PatrolParams, cols: Columns, crs,
              scheduler: str | None, strict: bool):
    if scheduler:
        from gis.patrol.distributed import patrol_presence_dask

        return patrol_presence_dask(tracks, index, params, cols=cols, crs=crs, scheduler=scheduler)
    with progress("reading fixes by worker", total=None) as advance:
        return patrol_presence_file(tracks, index, params, cols=cols, crs=crs, advance=advance,
                                    strict=strict)


def drop_warnings(fixes_read: int, dropped: dict, excluded: dict) -> list[str]:
    """Loud messages for a run that lost much of its input (counts by reason)."""
    out = []
    lost = sum(dropped.values())
    if fixes_read and lost / fixes_read > DROP_WARN_SHARE:
        reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(dropped.items(), key=lambda kv: -kv[1])
                            if v)
        out.append(f"{lost:,} of {fixes_read:,} fixes dropped ({100 * lost / fixes_read:.1f} %): "
                   f"{reasons}")
    if fixes_read and lost == fixes_read:
        out.append("no fix was kept: check the columns, --crs and --tz")
    if excluded["fixes"] and fixes_read and excluded["fixes"] / fixes_read > DROP_WARN_SHARE:
        out.append(f"{excluded['fixes']:,} track segments ({excluded['minutes']:,.0f} min, "
                   f"{excluded['metres']:,.0f} m) above the patrol speed were not counted")
    return out


def _period(windows, starts, given: bool, window: str) -> dict:
    if not len(starts):
        return {"from": None, "to": None, "windows": 0, "source": "given" if given else "data"}
    end = windows.end_of(starts[-1:])[0]
    return {"from": windows.label(starts[0]), "to": windows.label(end), "windows": len(starts),
            "window": window, "source": "given (--from/--to)" if given else "span of the data"}


@app.command("patrol")
def patrol_cmd(
    tracks: Path = typer.Option(..., "--tracks", help="GPS fixes: CSV (or .csv.gz), GPX, GeoJSON, GeoPackage (FILE:LAYER names a layer)."),
    grids: Path = typer.Option(..., "--grids", help="Grid polygons (any vector format; FILE:LAYER names a layer)."),
    out: Path = typer.Option(None, "--out", help="One row per grid per window (.csv, .gpkg, .parquet stream; .geojson, ...)."),
    summary_out: Path = typer.Option(None, "--summary", help="One row per grid over the period (windows, patrolled, rate, minutes, metres)."),
    worker_out: Path = typer.Option(None, "--worker-summary", help="One row per worker (grid-windows patrolled, windows, rate, minutes, metres)."),
    grid_key: str = typer.Option(None, "--grid-key", help="Column naming each grid (default: row number)."),
    grids_layer: str = typer.Option(None, "--grids-layer", help="Layer of a multi-layer grids file."),
    tracks_layer: str = typer.Option(None, "--tracks-layer", help="Layer of a multi-layer tracks file."),
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
    seq_col: str = typer.Option(None, "--seq-col", help="Column with the device's sequence number: a fix whose time runs backwards against it is dropped as out_of_order."),
    accuracy_max: float = typer.Option(None, "--accuracy-max", help="Drop fixes less accurate than this (metres)."),
    speed_max: float = typer.Option(CYCLING_SPEED, "--speed-max", help="Jumps faster than this (m/s) are dropped as teleports: ~2 walking, ~7 cycling."),
    patrol_speed: float = typer.Option(PATROL_SPEED * 3.6, "--patrol-speed-max", help="km/h: travel faster than this (sustained over about a minute) is not patrol: its time and metres do not count (default 18 km/h suits foot and e-bike patrols; 0 turns the rule off)."),
    max_gap: float = typer.Option(10.0, "--max-gap", help="Minutes of silence that break a track."),
    strict: bool = typer.Option(False, "--strict", help="Refuse the file at the first unreadable or out-of-range value (file, row, field) instead of dropping and counting it."),
    scheduler: str = typer.Option(None, "--scheduler", help="Run on Dask: a scheduler address, or 'local' for a LocalCluster."),
    as_json: bool = JsonOpt,
) -> None:
    """Half-day patrol compliance (半日一巡) per grid: every grid, every window."""
    t0 = time.perf_counter()
    if out is None and summary_out is None and worker_out is None:
        raise InputError("give --out (grid × window table), --summary or --worker-summary",
                         field="out")
    for path in (out, summary_out, worker_out):
        if path is not None:
            format_of(path)  # refuse an unknown output format before any work
    if max_gap * 60 > parse_window(window).total_seconds():
        raise InputError("--max-gap must not exceed the window", field="max-gap")
    if strict and scheduler:
        raise InputError("--strict is not available with --scheduler", field="strict")
    if patrol_speed < 0:
        raise InputError("--patrol-speed-max must be >= 0 km/h", field="patrol-speed-max")
    params = PatrolParams(window=window, tz=tz, speed_max=speed_max, max_gap_s=max_gap * 60,
                          accuracy_max=accuracy_max,
                          patrol_speed_max=patrol_speed / 3.6 if patrol_speed else None)
    windows = params.windows
    cols = Columns(worker_col, time_col, lon_col, lat_col, accuracy_col, seq_col)
    grid_gdf = require_features(read_layer(grids, layer=grids_layer), grids, "grids")
    try:
        index = GridIndex(grid_gdf, grid_key)
    except InputError as exc:
        raise with_file(exc, grids) from exc
    if tracks_layer:
        tracks = Path(f"{tracks}:{tracks_layer}")
    res = _presence(tracks, index, params, cols, crs, scheduler, strict)
    try:
        starts = window_starts(windows, res.first_ns, res.last_ns,
                               parse_instant(start, tz, "from") if start else None,
                               parse_instant(end, tz, "to") if end else None)
    except InputError as exc:
        if res.first_ns is None:  # nothing usable in the tracks: say which file
            raise with_file(exc, tracks) from exc
        raise
    period = _period(windows, starts, bool(start or end), window)
    rows = len(index) * len(starts)
    if not as_json:
        console.print(f"period: {period['from']} to {period['to']}, {len(starts):,} windows "
                      f"of {window} ({period['source']}); {rows:,} grid-window rows")
    if out is not None and rows > BIG_TABLE_ROWS:
        console.print(f"[yellow]writing {rows:,} rows ({len(index):,} grids × {len(starts):,} "
                      "windows) in pieces; --summary gives one row per grid[/yellow]")
    done = _write_outputs(res, index, windows, starts, out, summary_out, worker_out,
                          grid_gdf, grid_key, min_minutes, min_metres)
    excluded = res.excluded_report()
    warnings = drop_warnings(res.fixes_read, res.dropped, excluded)
    for w in warnings:
        console.print(f"[bold red]warning:[/bold red] {w}")
    kept = res.fixes_read - sum(res.dropped.values())
    emit({"fixes_read": res.fixes_read, "fixes_dropped": res.dropped, "fixes_kept": kept,
          "dropped_share": round(1 - kept / res.fixes_read, 4) if res.fixes_read else 0.0,
          "patrol_speed_max_kmh": patrol_speed or None, "excluded_above_patrol_speed": excluded,
          "grids": len(index), "windows": len(starts), "period": period, "rows": done["rows"],
          "patrolled_share": done["share"], "out": str(out) if out else None,
          "summary": str(summary_out) if summary_out else None,
          "worker_summary": str(worker_out) if worker_out else None, "warnings": warnings,
          "seconds": round(time.perf_counter() - t0, 3)}, as_json, title="patrol")


def _write_outputs(res, index, windows, starts, out, summary_out, worker_out, grid_gdf,
                   grid_key, min_minutes, min_metres) -> dict:
    """Stream the table into ``out`` while summing per grid; then the summaries."""
    writer = TableWriter(out, grid_gdf, grid_key) if out is not None else None
    per_grid, hits, total = [], 0, 0
    try:
        with progress("writing grid × window rows", total=len(index) * len(starts)) as advance:
            for chunk in compliance_chunks(res.presence, index.keys, windows, starts,
                                           min_minutes=min_minutes, min_metres=min_metres):
                if writer is not None:
                    writer.write(chunk)
                if summary_out is not None:
                    per_grid.append(grid_summary([chunk]))
                hits, total = hits + int(chunk["patrolled"].sum()), total + len(chunk)
                advance(len(chunk))
        if writer is not None:
            writer.commit()
    except BaseException:
        if writer is not None:
            shutil.rmtree(writer.dir, ignore_errors=True)
        raise
    if summary_out is not None:
        import pandas as pd

        table = pd.concat(per_grid, ignore_index=True) if per_grid else grid_summary([])
        _write_table(table, summary_out)
    if worker_out is not None:
        _write_table(worker_rates(res.presence, starts, min_minutes=min_minutes,
                                  min_metres=min_metres), worker_out)
    return {"rows": total, "share": hits / total if total else 0.0}


def _write_table(table, path: Path) -> None:
    if format_of(path) == "csv":
        write_csv(table, path)
    else:
        raise InputError("summaries are written as CSV (.csv)", file=str(path), field="summary")
