"""``gridgis coverage``: camera coverage, blind spots and new sites from files (no database)."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from gis.cli.app import JsonOpt, app, emit, progress
from gis.errors import InputError, InvalidRows
from gis.io import CSV_SUFFIXES, parse_mapping, read_layer, write_layer


def _read(path: Path | None, crs: str | None, rename=None):
    if path is None:
        return None
    # --crs describes coordinate columns of CSV files; other formats carry their own CRS
    use_crs = crs if Path(path).suffix.lower() in CSV_SUFFIXES else None
    return read_layer(path, crs=use_crs, rename=rename)


def _write_all(layers: dict, out: Path) -> None:
    """All layers into one GeoPackage, moved into place only when complete."""
    if out.suffix.lower() != ".gpkg":
        raise InputError("--out must be a GeoPackage (.gpkg): it holds several layers",
                         file=str(out), field="out")
    tmp = out.with_name(f".{out.stem}.partial.gpkg")
    tmp.unlink(missing_ok=True)
    try:
        first = True
        for name, gdf in layers.items():
            write_layer(gdf, tmp, layer=name, append_layer=not first)
            first = False
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


@app.command("coverage")
def coverage_cmd(
    cameras: Path = typer.Option(..., "--cameras", help="Camera points (type, status, azimuth, "
                                 "fov, range, height; missing values default by type)."),
    buildings: Path = typer.Option(..., "--buildings", help="Building footprints."),
    grids: Path = typer.Option(..., "--grids", help="Grid polygons."),
    out: Path = typer.Option(..., "--out", help="Output GeoPackage."),
    grid_key: str = typer.Option(None, "--grid-key", help="Grid name column (default: code)."),
    roads: Path = typer.Option(None, "--roads", help="Street lines with class or width."),
    incidents: Path = typer.Option(None, "--incidents", help="Incident points."),
    key_places: Path = typer.Option(None, "--key-places", help="Schools, hospitals, stations."),
    mode: str = typer.Option("public", "--mode", help="Target: public | grid | streets."),
    min_area: float = typer.Option(25.0, "--min-area", help="Smallest blind spot listed (m²)."),
    include_offline: bool = typer.Option(False, "--include-offline",
                                         help="Count offline cameras too."),
    mapping: list[str] = typer.Option(None, "--map", help="Camera field mapping SRC=DST "
                                      "(e.g. --map FOV_DEG=fov), repeatable."),
    since: str = typer.Option(None, "--since", help="Count incidents reported from this date."),
    until: str = typer.Option(None, "--until", help="... and before this date."),
    time_field: str = typer.Option("reported_at", "--time-field", help="Incident time column."),
    suggest: int = typer.Option(0, "--suggest", help="Suggest K new camera sites (needs roads)."),
    weight: str = typer.Option("incidents", "--weight", help="Site weight: incidents | area."),
    crs: str = typer.Option(None, "--crs", help="CRS of CSV coordinates (4326, 4490, gcj02...)."),
    scheduler: str = typer.Option(None, "--scheduler", help="Run on Dask, grids partitioned "
                                  "spatially: 'local' (a LocalCluster on this machine) or a "
                                  "scheduler address such as tcp://10.0.0.5:8786."),
    as_json: bool = JsonOpt,
) -> None:
    """Camera coverage of each grid, its blind spots and (with --suggest) new sites."""
    from gis.coverage import coverage, suggest_sites

    if scheduler:
        from functools import partial

        from gis.distributed.coverage import coverage_dask

        coverage = partial(coverage_dask, scheduler=scheduler)  # same arguments, same result

    if suggest and roads is None:
        raise InputError("--suggest needs --roads (sites are chosen along streets)", field="roads")
    with progress("coverage", total=4) as advance:
        cams = _read(cameras, crs, parse_mapping(mapping))
        layers = {name: _read(p, crs) for name, p in (("buildings", buildings), ("grids", grids),
                  ("roads", roads), ("incidents", incidents), ("key_places", key_places))}
        advance(1, description="views and blind spots")
        period = (since, until) if since or until else None
        try:
            res = coverage(cams, layers["buildings"], layers["grids"], grid_key=grid_key,
                           roads=layers["roads"], incidents=layers["incidents"],
                           key_places=layers["key_places"], min_area=min_area, mode=mode,
                           include_offline=include_offline, period=period,
                           time_field=time_field)
        except InvalidRows as exc:  # only camera records are validated row by row
            for problem in exc.problems:
                problem.file = problem.file or str(cameras)
            raise InvalidRows(exc.problems, file=str(cameras)) from exc
        advance(1, description="sites" if suggest else "writing")
        result = {"coverage": res.coverage, "blind_spots": res.blind_spots,
                  "grid_coverage": res.grid_coverage, "views": res.views}
        if res.key_places is not None:
            result["key_places"] = res.key_places
        summary = dict(res.summary)
        if suggest:
            sites = suggest_sites(res.blind_spots, layers["roads"], suggest,
                                  buildings=layers["buildings"], weight=weight)
            result["sites"] = sites
            summary["sites"] = int(len(sites))
            summary["sites_gain_m2"] = round(float(sites["gain_m2"].sum()), 1)
            summary["sites_bound"] = sites.attrs["bound"]
        advance(1, description="writing")
        _write_all(result, out)
        advance(1)
    summary["out"] = str(out)
    emit(summary, as_json, title="coverage")
