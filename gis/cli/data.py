"""``gridgis import`` and ``gridgis export``: users' files in and out of the PostGIS store."""

from __future__ import annotations

from pathlib import Path

import typer

from gis.cli.app import JsonOpt, app, emit, progress
from gis.errors import InputError

LAYER_HELP = ("admin_units, buildings, address_points, roads, grids, grid_staff, key_places, "
              "incidents, cameras, patrol_points")


def _count_rows(path: Path) -> int | None:
    """Data rows of a CSV (for the progress bar); a fast byte scan, not a parse."""
    if path.suffix.lower() not in (".csv", ".tsv", ".txt") or not path.exists():
        return None
    lines = 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 24):
            lines += block.count(b"\n")
    return max(lines - 1, 0)


@app.command("import")
def import_cmd(
    layer: str = typer.Argument(..., help=f"Target layer: {LAYER_HELP}."),
    file: Path = typer.Argument(..., help="GeoPackage, GeoJSON, Shapefile, FlatGeobuf, "
                                          "GeoParquet, or CSV with lon/lat columns."),
    source_layer: str | None = typer.Option(None, "--layer", help="Layer inside the file."),
    crs: str | None = typer.Option(None, "--crs", help="Source CRS when the file lacks or "
                                   "misstates it: 4326, 4490, EPSG:4547, gcj02, bd09."),
    mapping: list[str] | None = typer.Option(None, "--map", help="SOURCE=FIELD column mapping "
                                             "(repeatable), e.g. --map HOUSING20=households."),
    lon: str | None = typer.Option(None, "--lon", help="CSV longitude column."),
    lat: str | None = typer.Option(None, "--lat", help="CSV latitude column."),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Load the valid rows and "
                                      "write the rejected ones to a report instead of refusing."),
    report: Path | None = typer.Option(None, "--report", help="Rejected-rows report "
                                       "(default FILE.rejected.csv)."),
    replace: bool = typer.Option(False, "--replace", help="Replace the layer's rows."),
    json: bool = JsonOpt,
) -> None:
    """Import a file into a layer, in one transaction: every row is checked first; on any
    bad row nothing is written (unless --skip-invalid)."""
    from gis.io import parse_mapping
    from gis.services import imports
    from gis.settings import Settings

    imports.check_layer(layer)  # an unknown layer fails before the database starts
    if report is not None and not skip_invalid:
        raise InputError("--report only makes sense with --skip-invalid", field="report")
    settings = Settings()
    engine = imports.open_database(settings)
    with progress(f"importing {layer}", _count_rows(file), quiet=json) as advance:
        result = imports.import_file(engine, layer, file, source_layer=source_layer, crs=crs,
                             mapping=parse_mapping(mapping), lon=lon, lat=lat,
                             skip_invalid=skip_invalid, report=report, replace=replace,
                             timezone=settings.timezone, progress=advance,
                             actor="cli", tolerance_m=settings.tolerance_m)
    emit(result.as_dict(), json, f"import {layer}")


@app.command("export")
def export_cmd(
    layer: str = typer.Argument(..., help=f"Layer: {LAYER_HELP}."),
    file: Path = typer.Argument(..., help="Output file; the format follows the suffix "
                                          "(.gpkg .geojson .shp .fgb .parquet .csv)."),
    filters: list[str] | None = typer.Option(None, "--filter", help="FIELD=VALUE "
                                             "(repeatable; the same field twice means either)."),
    bbox: str | None = typer.Option(None, "--bbox", help="minlon,minlat,maxlon,maxlat"),
    crs: str | None = typer.Option(None, "--crs", help="Output CRS (default 4326; gcj02/bd09 "
                                   "apply the web offsets)."),
    json: bool = JsonOpt,
) -> None:
    """Export a layer with gridgis field names (re-importable as is)."""
    from gis.services import imports
    from gis.settings import Settings

    imports.check_layer(layer)
    wanted = _parse_filters(filters)
    box = _parse_bbox(bbox)
    engine = imports.open_database(Settings())
    n = imports.export_layer(engine, layer, file, crs=crs, bbox=box, **wanted)
    emit({"layer": layer, "file": str(file), "rows": n}, json, f"export {layer}")


def _parse_filters(items: list[str] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items or []:
        if "=" not in item:
            raise InputError(f"--filter {item!r} must look like FIELD=VALUE", field="filter")
        name, value = (s.strip() for s in item.split("=", 1))
        out.setdefault(name, []).append(value)
    return out


def _parse_bbox(text: str | None) -> list[float] | None:
    if not text:
        return None
    try:
        box = [float(v) for v in text.split(",")]
    except ValueError:
        box = []
    if len(box) != 4:
        raise InputError(f"--bbox {text!r} must be minlon,minlat,maxlon,maxlat", field="bbox")
    return box
