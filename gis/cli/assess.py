"""``gridgis assess``: the monthly 123456 assessment of grid workers from files, without a
database (rules in :mod:`gis.assessment`)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import typer

from gis.cli.app import JsonOpt, app, emit, progress


def write_csv(df, out: Path) -> None:
    """Neutralised (:func:`gis.io.csv_safe`), and atomic: a temporary file beside
    ``out``, then renamed."""
    from gis.io import csv_safe

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    try:
        csv_safe(df).to_csv(tmp, index=False)
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _mapping(items):
    from gis.io import parse_mapping

    return parse_mapping(items)


@app.command("assess")
def assess_cmd(
    tracks: Path = typer.Option(..., "--tracks", help="GPS fixes: CSV (worker, time, lon, lat), GPX, GeoJSON, GeoPackage."),
    grids: Path = typer.Option(..., "--grids", help="Grid polygons (any vector format)."),
    staff: Path = typer.Option(..., "--staff", help="worker, grid: one row per worker and grid."),
    incidents: Path = typer.Option(..., "--incidents", help="category, reported_at, reporter, lon, lat (status / merged / returned if present)."),
    visits: Path = typer.Option(..., "--visits", help="worker, time, household, and building or lon, lat."),
    key_households: Path = typer.Option(..., "--key-households", help="household, kind, and building or lon, lat."),
    month: str = typer.Option(..., "--month", help="The month assessed, YYYY-MM (local time)."),
    out: Path = typer.Option(..., "--out", help="One row per worker (.csv)."),
    tz: str = typer.Option("Asia/Shanghai", "--tz", help="Local time zone of days, windows and times without offset."),
    roster: Path = typer.Option(None, "--roster", help="worker, date, on (on/off): days off are not required."),
    buildings: Path = typer.Option(None, "--buildings", help="Building footprints to match visits to (nearest within --building-distance)."),
    building_key: str = typer.Option(None, "--building-key", help="Column naming each building (default: id, else row number)."),
    grid_key: str = typer.Option(None, "--grid-key", help="Column naming each grid, as in --staff (default: grid, else code)."),
    cases_out: Path = typer.Option(None, "--cases", help="Write every 3必到 case per worker with the proving fix (.csv)."),
    crs: str = typer.Option(None, "--crs", help="CRS of CSV coordinates (all files): 4326 (default), gcj02, bd09, EPSG code."),
    worker_col: str = typer.Option("worker", "--worker-col", help="Tracks: worker column."),
    time_col: str = typer.Option("time", "--time-col", help="Tracks: time column."),
    lon_col: str = typer.Option("lon", "--lon-col", help="Tracks: longitude column."),
    lat_col: str = typer.Option("lat", "--lat-col", help="Tracks: latitude column."),
    staff_map: list[str] = typer.Option(None, "--staff-map", help="SOURCE=TARGET column name (repeat), e.g. 网格员=worker."),
    incidents_map: list[str] = typer.Option(None, "--incidents-map", help="SOURCE=TARGET, e.g. 类别=category, 上报时间=reported_at."),
    visits_map: list[str] = typer.Option(None, "--visits-map", help="SOURCE=TARGET for the visits."),
    key_households_map: list[str] = typer.Option(None, "--key-households-map", help="SOURCE=TARGET for the key households."),
    roster_map: list[str] = typer.Option(None, "--roster-map", help="SOURCE=TARGET for the roster."),
    window: str = typer.Option("12h", "--window", help="Patrol window (12h = half days)."),
    min_minutes: float = typer.Option(5.0, "--min-minutes", help="Minutes inside a grid that make a patrol."),
    min_metres: float = typer.Option(None, "--min-metres", help="Metres walked inside that make a patrol (either suffices)."),
    key_visits: int = typer.Option(2, "--key-visits", help="Days a month each key household must be visited."),
    attend_radius: float = typer.Option(50.0, "--attend-radius", help="Metres from a 3必到 incident that prove attendance."),
    attend_limit_h: float = typer.Option(None, "--attend-limit-h", help="Hours after the report to attend (default: the category's accept limit)."),
    daily_households: int = typer.Option(5, "--daily-households", help="Households to visit a day."),
    weekly_reports: int = typer.Option(6, "--weekly-reports", help="Valid reports a week."),
    building_distance: float = typer.Option(30.0, "--building-distance", help="Metres within which a visit is at a building."),
    as_json: bool = JsonOpt,
) -> None:
    """Assess grid workers by the 123456 method for one month: one row per worker."""
    from gis.assessment import Norms, assess
    from gis.assessment.files import read_fixes, read_points, read_table
    from gis.io import read_layer
    from gis.patrol.tracks import Columns

    t0 = time.perf_counter()
    if out.suffix.lower() != ".csv" or (cases_out and cases_out.suffix.lower() != ".csv"):
        from gis.errors import InputError

        raise InputError("--out and --cases are CSV files (.csv)", field="out")
    norms = Norms(window=window, min_minutes=min_minutes, min_metres=min_metres,
                  key_visits=key_visits, attend_radius_m=attend_radius,
                  attend_limit_h=attend_limit_h, daily_households=daily_households,
                  weekly_reports=weekly_reports, building_match_m=building_distance)
    grid_gdf = read_layer(grids)
    staff_df = read_table(staff, _mapping(staff_map))
    roster_df = read_table(roster, _mapping(roster_map)) if roster else None
    inc = read_points(incidents, _mapping(incidents_map), crs)
    vis = read_points(visits, _mapping(visits_map), crs)
    keyhh = read_points(key_households, _mapping(key_households_map), crs)
    bld = read_layer(buildings) if buildings else None
    if bld is not None and building_key is None and "id" in bld.columns:
        building_key = "id"
    with progress("reading fixes") as advance:
        fixes = read_fixes(tracks, Columns(worker_col, time_col, lon_col, lat_col), crs=crs,
                           tz=tz, advance=advance)
    with progress("assessing workers by batch of fixes", total=len(fixes)) as advance:
        result = assess(fixes, staff_df, grid_gdf, inc, vis, keyhh, month, tz, roster=roster_df,
                        buildings=bld, grid_key=grid_key, building_key=building_key,
                        norms=norms, advance=advance)
    write_csv(result.workers, out)
    if cases_out:
        write_csv(result.cases, cases_out)
    emit(_summary(result, month, out, cases_out, t0), as_json, title="assess")


def _summary(result, month, out, cases_out, t0) -> dict:
    w = result.workers
    return {"month": month, **result.counts, "dropped": result.dropped,
            "stars": {str(s): int((w["stars"] == s).sum()) for s in range(1, 6)},
            "patrol_rate_mean": None if w["patrol_rate"].isna().all() else round(float(w["patrol_rate"].mean()), 4),
            "must_attend_cases": int(w["must_attend_cases"].sum()),
            "must_attend_verified": int(w["must_attend_verified"].sum()),
            "workers_with_notes": int((w["notes"] != "").sum()),
            "out": str(out), "cases_out": str(cases_out) if cases_out else None,
            "seconds": round(time.perf_counter() - t0, 3)}
