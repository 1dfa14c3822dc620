"""``gridgis partition``: street-bounded, household-balanced grids from files (no database)."""

from __future__ import annotations

from pathlib import Path

import typer

from gis import csvsafe
from gis.cli.app import JsonOpt, app, emit, progress
from gis.errors import InputError
from gis.geomcheck import checked_polygons
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
    gdf, repaired = checked_polygons(read_layer(path, crs=use), file=str(path))
    for note in repaired:  # said on stderr: --json output on stdout stays one document
        typer.echo(f"{path.name}: {note['feature']}: {note['reason']}: {note['action']}",
                   err=True)
    gdf.attrs["geometries_repaired"] = len(repaired)  # and counted in the report
    return gdf


def _repaired(report: dict, gdf) -> dict:
    """The report with the polygons repaired on reading counted in."""
    done = report.get("geometries_repaired", 0) + gdf.attrs.get("geometries_repaired", 0)
    return {**report, "geometries_repaired": done}


OutCrsOpt = typer.Option(None, "--out-crs", help="CRS to write the grids in (default: the "
                         "input's own CRS; 4326, EPSG:2263, gcj02...).")


def _write_grids(grids, out: Path, target) -> None:
    """Write grids in ``target`` as a valid polygonal coverage (无缝覆盖): reprojected
    vertex by vertex, checked there and cleaned again if a seam broke."""
    from gis.crs import from_wgs84
    from gis.partition import seamless

    frame = from_wgs84(grids, target)
    write_layer(seamless.in_crs(frame, frame.crs), out)


UNIT_FIELDS = ("households", "geometry", "exclusive")


def _naming(path: Path, exc: InputError, fields=UNIT_FIELDS) -> InputError:
    """An error about the units' rows, with the units file named (the analysis does not
    know the file it was handed)."""
    p = exc.problem
    if p.file is None and (p.field in fields or p.row is not None):
        return InputError(p.reason, file=str(path), row=p.row, field=p.field)
    return exc


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
    out_crs: str = OutCrsOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Partition units into grids of --min..--max households and print the quality report."""
    from gis.crs import from_wgs84, output_crs
    from gis.partition import partition

    format_of(out)  # fail before the work on an unknown output format or CRS
    output_crs(out_crs, None)
    if violations is not None:
        format_of(violations)
    _check_code_prefix(code_prefix)
    with progress("partition", total=4) as advance:
        advance(0, description="reading")
        unit_gdf = _read(units, crs)
        road_gdf, parent_gdf = _read(roads, crs), _read(parent, crs)
        advance(1, description="partitioning")
        try:
            res = partition(unit_gdf, households, parent=parent_gdf, roads=road_gdf,
                            min_households=min_households, max_households=max_households,
                            exclusive=exclusive, community_code=code_prefix,
                            code_width=code_width, merge_small=merge_small,
                            progress=lambda done, total: advance(
                                0, description=f"community {done}/{total}"))
        except InputError as exc:
            raise _naming(units, exc, UNIT_FIELDS + (households, exclusive)) from exc
        advance(2, description="writing")
        grids = res.grids[["code", "kind", "households", "community_code", "geometry"]].copy()
        grids["households"] = grids["households"].round().astype("int64")
        target = output_crs(out_crs, unit_gdf.attrs.get("source_crs"))
        _write_grids(grids, out, target)
        if violations is not None:
            write_layer(from_wgs84(res.violations, target), violations)
        advance(1, description="done")
    emit({**_repaired(res.report, unit_gdf), "out": str(out), "out_crs": target.label},
         as_json, title="partition")


GRID_FIELDS = ["code", "kind", "households", "community_code", "geometry"]


@app.command("rebalance")
def rebalance_cmd(
    grids: Path = typer.Option(..., "--grids", help="Current grids with a code field."),
    units: Path = typer.Option(..., "--units", help="Buildings or address points with today's "
                               "household counts."),
    households: str = typer.Option("households", "--households",
                                   help="Household field of the units."),
    out: Path = typer.Option(..., "--out", help="Rebalanced grids to write."),
    roads: Path = typer.Option(None, "--roads", help="Road lines: redrawn grids follow streets."),
    min_households: int = typer.Option(300, "--min", help="Fewest households in a grid."),
    max_households: int = typer.Option(500, "--max", help="Most households in a grid."),
    crs: str = typer.Option(None, "--crs", help="CRS of input files that declare none."),
    code_width: int = typer.Option(4, "--code-width", help="Digits of the grid serial."),
    changes: Path = typer.Option(None, "--changes", help="Also write what changed per code "
                                 "(CSV)."),
    retired: str = typer.Option(None, "--retired", help="Codes retired earlier, never to be "
                                "handed out again: comma-separated, or a text file with "
                                "one code per line."),
    out_crs: str = OutCrsOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Repair grids whose households left --min..--max; only those grids and their
    neighbours change, the others keep geometry and code. New grids take the next free
    serial: never a code in use or retired."""
    from gis.crs import output_crs
    from gis.partition import rebalance

    format_of(out)
    output_crs(out_crs, None)
    with progress("rebalance", total=3) as advance:
        advance(0, description="reading")
        grid_gdf, unit_gdf, road_gdf = _read(grids, crs), _read(units, crs), _read(roads, crs)
        advance(1, description="rebalancing")
        try:
            res = rebalance(grid_gdf, unit_gdf, households, roads=road_gdf,
                            min_households=min_households, max_households=max_households,
                            code_width=code_width, retired_codes=_codes_given(retired))
        except InputError as exc:
            raise _naming(grids if exc.problem.field == "code" else units, exc,
                          UNIT_FIELDS + (households, "code")) from exc
        advance(1, description="writing")
        fields = [c for c in GRID_FIELDS if c in res.grids.columns]
        result = res.grids[fields].copy()
        result["households"] = result["households"].round().astype("int64")
        target = output_crs(out_crs, grid_gdf.attrs.get("source_crs"))
        _write_grids(result, out, target)
        if changes is not None:
            _write_csv(res.changes, changes)
        advance(1, description="done")
    moved = res.changes[res.changes["change"] != "kept"]
    summary = {**_repaired(res.report, unit_gdf), "changes": moved.to_dict("records"),
               "out": str(out),
               "out_crs": target.label}
    emit(summary, as_json, title="rebalance")


@app.command("crosswalk")
def crosswalk_cmd(
    old: Path = typer.Option(..., "--old", help="The other grid system (e.g. flood-control "
                             "or petition grids)."),
    new: Path = typer.Option(..., "--new", help="The grids to carry records over to."),
    out: Path = typer.Option(..., "--out", help="Crosswalk table to write (.csv)."),
    units: Path = typer.Option(None, "--units", help="Buildings or address points, to share "
                               "households as well as area."),
    households: str = typer.Option("households", "--households",
                                   help="Household field of the units."),
    old_code: str = typer.Option("code", "--old-code", help="Code field of the old grids."),
    new_code: str = typer.Option("code", "--new-code", help="Code field of the new grids."),
    crs: str = typer.Option(None, "--crs", help="CRS of input files that declare none."),
    min_area: float = typer.Option(1.0, "--min-area", help="Pairs sharing less area (m²) and "
                                   "no households are slivers, left out."),
    min_share: float = typer.Option(0.001, "--min-share", help="... or less than this share "
                                    "of the old grid's area."),
    as_json: bool = JsonOpt,
) -> None:
    """Old grid -> new grid pairs with the households and area they share (多网合一)."""
    from gis.cli.app import console
    from gis.partition import crosswalk

    if out.suffix.lower() != ".csv":
        raise InputError(f"--out must be a .csv file (got {out.name})", file=str(out),
                         field="out")
    old_gdf, new_gdf, unit_gdf = _read(old, crs), _read(new, crs), _read(units, crs)
    for gdf, field, path in ((old_gdf, old_code, old), (new_gdf, new_code, new)):
        if not len(gdf):
            raise InputError("the layer has no features", file=str(path), field="geometry")
        if field not in gdf.columns:
            raise InputError(f"no code field {field!r} (columns: "
                             f"{', '.join(map(str, gdf.columns))})", file=str(path), field=field)
    table = crosswalk(old_gdf, new_gdf, unit_gdf, households, old_code=old_code,
                      new_code=new_code, min_area=min_area, min_share=min_share)
    _write_csv(table, out)
    report = table.attrs["report"]
    report["old_rows_repaired"] += old_gdf.attrs.get("geometries_repaired", 0)
    report["new_rows_repaired"] += new_gdf.attrs.get("geometries_repaired", 0)
    for side, path, field in (("old", old, old_code), ("new", new, new_code)):
        rows = report[f"{side}_rows_without_code"]
        if rows:  # kept apart, each under its own name: say so
            console.print(f"warning: {path}: {len(rows)} row(s) without a {field!r} code kept "
                          f"apart as '(no code, row N)': rows {', '.join(map(str, rows[:10]))}"
                          f"{' ...' if len(rows) > 10 else ''}")
    emit({"rows": len(table), "old_grids": int(table["old_code"].nunique()),
          "new_grids": int(table["new_code"].nunique()),
          "households": float(table["households"].sum()), **report, "out": str(out)},
         as_json, title="crosswalk")


def _codes_given(text: str | None) -> list[str]:
    """Codes from ``a,b,c`` or from a file holding one per line."""
    if not text:
        return []
    path = Path(text)
    if path.is_file():
        items = path.read_text(encoding="utf-8").splitlines()
    else:
        items = text.split(",")
    return [c.strip() for c in items if c.strip()]


def _write_csv(frame, path: Path) -> None:
    """Write a table atomically (a temporary file renamed into place)."""
    tmp = path.with_name(f".{path.name}.tmp")
    csvsafe.to_csv(frame, tmp)  # spreadsheet formulas neutralised
    tmp.replace(path)
