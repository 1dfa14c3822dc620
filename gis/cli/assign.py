"""``gridgis assign``: points to grids from files, no database (rules in :mod:`gis.assign`)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from gis.cli.app import JsonOpt, app, emit, progress


@app.command("assign")
def assign_command(
    points: Path = typer.Argument(..., help="Points: CSV with coordinate columns (streamed), "
                                  "or any vector file (GeoPackage, GeoJSON, Shapefile...)."),
    grids: Path = typer.Option(..., "--grids", help="Grid polygons (any vector file)."),
    grid_key: str = typer.Option(..., "--grid-key", help="Field of the grids holding the key."),
    out: Path = typer.Option(..., "--out", help="Output file; format by suffix (.csv, .gpkg, "
                             ".parquet, .geojson, .fgb, .shp)."),
    lon: str = typer.Option(None, "--lon", help="Longitude (x) column of a CSV."),
    lat: str = typer.Option(None, "--lat", help="Latitude (y) column of a CSV."),
    crs: str = typer.Option(None, "--crs", help="CRS of the points: EPSG code, gcj02 or bd09 "
                            "(CSV default 4326; vector files: their own)."),
    grids_crs: str = typer.Option(None, "--grids-crs", help="CRS of the grids when the file "
                                  "declares none or a wrong one."),
    tolerance: float = typer.Option(10.0, "--tolerance", help="Metres within which another "
                                    "grid makes a point a boundary case."),
    chunk_size: int = typer.Option(100_000, "--chunk-size", help="CSV rows per chunk "
                                   "(bounds memory)."),
    check: str = typer.Option(None, "--check", help="Column with a recorded grid key: report "
                              "the exact rate (the assigned grid is the recorded one: "
                              "exact_pct) and the with-candidates rate (the grid or a "
                              "boundary candidate: with_candidates_pct, also reproduced_pct)."),
    strict: bool = typer.Option(False, "--strict", help="Refuse the file at the first "
                                "coordinate outside lon/lat range (file, row, field) instead "
                                "of leaving the row unassigned and counting it."),
    layer: str = typer.Option(None, "--layer", help="Layer of a multi-layer points file "
                              "(or POINTS as FILE:LAYER)."),
    grids_layer: str = typer.Option(None, "--grids-layer", help="Layer of a multi-layer "
                                    "grids file (or --grids FILE:LAYER)."),
    scheduler: str = typer.Option(None, "--scheduler", help="Run on Dask, spatially "
                                  "partitioned: 'local' (a LocalCluster on this machine) or "
                                  "a scheduler address such as tcp://10.0.0.5:8786. Reads "
                                  "the points into memory first."),
    as_json: bool = JsonOpt,
) -> None:
    """Assign points to grids: adds grid (empty when outside every grid), boundary
    (true/false) and candidates (keys joined by ';') to every input row."""
    import gc
    import os

    # Before pyarrow loads: its allocator (mimalloc) then returns freed pages at once
    # instead of keeping them for a while, ~50 MB less at peak on a streamed CSV.
    os.environ.setdefault("MIMALLOC_PURGE_DELAY", "0")
    # Before numpy loads: no BLAS is used, and OpenBLAS' idle threads cost 2 % of a run.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # The run makes few reference cycles but many objects (imports, keys): the cyclic
    # collector's passes over them cost ~3 % of a run (perf), so it waits until the end.
    collecting = gc.isenabled()
    gc.disable()
    try:
        _assign(points, grids, grid_key, out, lon, lat, crs, grids_crs, tolerance,
                chunk_size, check, scheduler, as_json, layer, grids_layer, strict)
    finally:
        if collecting:
            gc.enable()


def _assign(points, grids, grid_key, out, lon, lat, crs, grids_crs, tolerance, chunk_size,
            check, scheduler, as_json, layer=None, grids_layer=None, strict=False) -> None:
    from concurrent.futures import ThreadPoolExecutor

    t0 = time.perf_counter()
    if scheduler:
        from gis.io import read_layer

        if strict:
            from gis.errors import InputError

            raise InputError("--strict is not available with --scheduler", field="strict")
        _assign_on_dask(points, read_layer(grids, crs=grids_crs, layer=grids_layer), grid_key, out, lon, lat,
                        crs, tolerance, check, scheduler, as_json, t0)
        return
    if points.suffix.lower() in (".csv", ".txt", ".tsv"):
        _settle_pyarrow_pandas_check()  # first: the grids' reader may import pandas
    from gis.assign import index_polygons
    from gis.assign.grids import read_grids

    with ThreadPoolExecutor(1) as builder:
        # Grids not through geopandas: the CSV path then never imports it (a second of
        # start-up); the index is built while the rest loads and the points are read.
        building = builder.submit(_grid_index, grids, grid_key, grids_crs, grids_layer,
                                  tolerance)
        from gis.assign.files import assign_file

        with progress(f"assigning {points.name}", quiet=as_json) as advance:
            last = [0]

            def on_progress(done: int, total: int) -> None:
                advance(done - last[0], total=total)
                last[0] = done

            summary = assign_file(points, building, out, lon=lon, lat=lat, crs=crs,
                                  chunk_size=chunk_size, check=check, on_progress=on_progress,
                                  layer=layer, strict=strict)
        index = building.result()
    summary["seconds"] = round(time.perf_counter() - t0, 3)  # the whole command
    summary["grids"] = int(len(set(index.labels)))
    summary["out"] = str(out)
    emit(summary, as_json, title="gridgis assign")


def _grid_index(grids, grid_key, grids_crs, grids_layer, tolerance):
    """The grids' index; a problem found in them names the grids file."""
    from gis.assign import index_polygons
    from gis.assign.grids import read_grids
    from gis.errors import InputError

    try:
        return index_polygons(*read_grids(grids, grid_key, grids_crs, grids_layer), tolerance,
                              key=grid_key)
    except InputError as exc:
        p = exc.problem
        raise InputError(p.reason, file=p.file or str(grids), row=p.row, field=p.field) from exc


def _settle_pyarrow_pandas_check() -> None:
    """Keep pyarrow from importing pandas in this process (half a second of CPU).

    pyarrow imports pandas on its first numpy conversion only to recognise pandas
    objects, which the CSV path never hands it. Hidden during that first check, pandas
    stays unimported; pyarrow still imports it if this process later really converts
    to or from pandas. Done only by the command (a process of its own), never when
    pandas is already loaded, e.g. under tests.
    """
    import sys

    if "pandas" in sys.modules:
        return
    import pyarrow as pa

    class _Hidden:
        @staticmethod
        def find_spec(name, path=None, target=None):
            if name == "pandas":
                raise ImportError("pandas hidden from pyarrow's first type check")

    sys.meta_path.insert(0, _Hidden)
    try:
        pa.array([0])
    finally:
        sys.meta_path.remove(_Hidden)


def _assign_on_dask(points, grid_frame, grid_key, out, lon, lat, crs, tolerance, check,
                    scheduler, as_json, t0) -> None:
    from gis.distributed.assign import assign_file_dask
    from gis.errors import InputError

    if check:
        raise InputError("--check is not available with --scheduler", field="check")
    summary = assign_file_dask(points, grid_frame, grid_key, out, lon=lon, lat=lat, crs=crs,
                               tolerance=tolerance, scheduler=scheduler)
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    summary["grids"] = int(grid_frame[grid_key].nunique())
    summary["out"] = str(out)
    emit(summary, as_json, title="gridgis assign (Dask)")
