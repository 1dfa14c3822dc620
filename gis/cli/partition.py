"""``gridgis partition``: street-bounded, household-balanced grids from files (no database)."""

from __future__ import annotations

from pathlib import Path

import typer

from gis.cli.app import JsonOpt, app, emit, progress
from gis.errors import InputError
from gis.io import CSV_SUFFIXES, PARQUET_SUFFIXES, format_of, read_layer, write_layer


def _declares_crs(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return False
    if suffix in PARQUET_SUFFIXES:
        return True
    import pyogrio

    try:
        return pyogrio.read_info(path).get("crs") is not None
    except Exception:  # unreadable: read_layer reports it with the file name
        return True


def _read(path: Path | None, crs: str | None):
    """Read a layer; ``--crs`` applies to files that carry no CRS of their own (CSV,
    shapefiles without .prj), never overriding one a file declares."""
    if path is None:
        return None
    use = crs if crs and path.exists() and not _declares_crs(path) else None
    return read_layer(path, crs=use)


def _check_code_prefix(prefix: str | None) -> None:
    if prefix and not (prefix.isdigit() and len(prefix) == 12):
        raise InputError(f"--code-prefix must be the community's 12-digit admin code "
                         f"(got {prefix!r})", field="code-prefix")


@app.command("partition")
def partition_cmd(
    units: Path = typer.Option(..., "--units", help="Buildings, address points or blocks "
                               "(e.g. census blocks) with a household field."),
    households: str = typer.Option("households", "--households",
                                   help="Household field of the units (e.g. HOUSING20)."),
    out: Path = typer.Option(..., "--out", help="Grids to write (.gpkg, .geojson, .shp, ...)."),
    roads: Path = typer.Option(None, "--roads", help="Road lines: grids follow streets."),
    parent: Path = typer.Option(None, "--parent", help="Community polygon(s); several rows "
                                "with a code column are partitioned separately. Default: "
                                "the union of the units."),
    min_households: int = typer.Option(300, "--min", help="Fewest households in a grid."),
    max_households: int = typer.Option(500, "--max", help="Most households in a grid."),
    crs: str = typer.Option(None, "--crs", help="CRS of input files that declare none "
                            "(4326, 4490, EPSG:4547, gcj02, bd09)."),
    code_prefix: str = typer.Option(None, "--code-prefix",
                                    help="The community's 12-digit admin code."),
    code_width: int = typer.Option(4, "--code-width", help="Digits of the grid serial."),
    exclusive: str = typer.Option(None, "--exclusive", help="Units field naming compounds "
                                  "kept whole as exclusive grids."),
    merge_small: bool = typer.Option(False, "--merge-small",
                                     help="Merge grids below --min into a neighbour."),
    violations: Path = typer.Option(None, "--violations",
                                    help="Also write the violations layer to this file."),
    as_json: bool = JsonOpt,
) -> None:
    """Partition units into grids of --min..--max households and print the quality report."""
    from gis.partition import partition

    format_of(out)  # fail before the work on an unknown output format
    if violations is not None:
        format_of(violations)
    _check_code_prefix(code_prefix)
    with progress("partition", total=4) as advance:
        advance(0, description="reading")
        unit_gdf = _read(units, crs)
        road_gdf, parent_gdf = _read(roads, crs), _read(parent, crs)
        advance(1, description="partitioning")
        res = partition(unit_gdf, households, parent=parent_gdf, roads=road_gdf,
                        min_households=min_households, max_households=max_households,
                        exclusive=exclusive, community_code=code_prefix,
                        code_width=code_width, merge_small=merge_small,
                        progress=lambda done, total: advance(0, description=f"community "
                                                             f"{done}/{total}"))
        advance(2, description="writing")
        grids = res.grids[["code", "kind", "households", "community_code", "geometry"]].copy()
        grids["households"] = grids["households"].round().astype("int64")
        write_layer(grids, out)
        if violations is not None:
            write_layer(res.violations, violations)
        advance(1, description="done")
    emit({**res.report, "out": str(out)}, as_json, title="partition")
