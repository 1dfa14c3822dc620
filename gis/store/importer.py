"""Importing users' files into the PostGIS tables, as ONE transaction per import.

Files are read in chunks (:func:`read_chunks`); every chunk is validated and checked
against the database before anything is written, by the staged loader
(:mod:`gis.store.staged_loader`: a TEMP stage, one ``INSERT ... SELECT`` at the end) or,
for incidents, the one-pass loader (:mod:`gis.store.incident_loader`: checked, located on
the grids, binary COPY). On any rejected row nothing is written, unless ``skip_invalid``
is set: then the rejected rows go to a CSV report (row, field, reason + the original
values) and the rest is loaded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import geopandas as gpd
import pandas as pd
from sqlalchemy.orm import Session

from gis.crs import WGS84, to_wgs84
from gis.errors import InputError
from gis.io import CSV_SUFFIXES, apply_mapping, iter_csv_points, read_layer
from gis.store.incident_loader import IncidentLoader
from gis.store.registry import Layer, get_layer
from gis.store.staged_loader import ImportReport, _Loader

__all__ = ["ImportReport", "count_rows", "import_frame", "load_file", "read_chunks"]


def read_chunks(path: Path, layer: Layer, *, source_layer: str | None = None, crs=None,
                lon: str | None = None, lat: str | None = None,
                mapping: Mapping[str, str] | None = None,
                chunksize: int = 200_000) -> Iterator[tuple[pd.DataFrame, int]]:
    """Yield ``(chunk, first_row)``: CSV files streamed in chunks, other formats whole."""
    file = str(path)
    if not path.exists():
        raise InputError("file not found", file=file)
    try:
        if path.suffix.lower() in CSV_SUFFIXES:
            chunks = _csv_chunks(path, layer, crs=crs, lon=lon, lat=lat, chunksize=chunksize)
            for chunk in chunks:
                yield apply_mapping(chunk, mapping, file), chunk.attrs["first_row"]
        else:
            gdf = read_layer(path, layer=source_layer, crs=crs, rename=mapping)
            yield gdf, 1
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        reason = "the file is empty" if isinstance(exc, pd.errors.EmptyDataError) \
            else f"cannot parse CSV: {exc}"
        raise InputError(reason, file=file) from exc


def _csv_chunks(path: Path, layer: Layer, *, crs, lon, lat, chunksize):
    if layer.geometry is not None:
        yield from iter_csv_points(path, lon=lon, lat=lat, crs=crs, chunksize=chunksize)
        return
    first = 1
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    for df in pd.read_csv(path, sep=sep, chunksize=chunksize, dtype=str,
                          encoding_errors="replace"):
        df.attrs["first_row"] = first
        first += len(df)
        yield df


def _loader(session: Session, spec: Layer, expected_rows: int | None, **kwargs) -> _Loader:
    """Incidents take their own one-pass loader (:mod:`gis.store.incident_loader`)."""
    if spec.table == "incidents":
        return IncidentLoader(session, spec, expected_rows=expected_rows, **kwargs)
    return _Loader(session, spec, **kwargs)


def count_rows(path: Path) -> int:
    """Data rows of a CSV file, counted by line ends (an estimate: a quoted field may hold
    a line end), to choose a bulk load before reading the file."""
    lines, last = 0, b"\n"
    with open(path, "rb") as fh:
        while block := fh.read(1 << 24):
            lines += block.count(b"\n")
            last = block[-1:]
    return max(lines - 1 + (last != b"\n"), 0)


def load_file(session: Session, layer: str, path: str | Path, *,
              source_layer: str | None = None, crs=None, mapping: Mapping[str, str] | None = None,
              lon: str | None = None, lat: str | None = None, skip_invalid: bool = False,
              report: str | Path | None = None, replace: bool = False,
              timezone: str = "Asia/Shanghai", chunksize: int = 200_000,
              progress: Callable[[int], None] | None = None, actor: str | None = None,
              tolerance_m: float = 10.0) -> ImportReport:
    """Load a file into a layer's table inside the caller's transaction (flushed, not
    committed: :func:`gis.services.imports.import_file` is the use case that commits).

    Parameters
    ----------
    session : the open transaction.
    layer : one of :data:`gis.store.registry.LAYERS` (``incidents``, ``buildings``, ...).
    path : GeoPackage, GeoJSON, Shapefile, FlatGeobuf, GeoParquet or CSV (lon/lat columns).
    source_layer : layer name inside a multi-layer file.
    crs : source CRS overriding the file's: EPSG code, ``"gcj02"`` or ``"bd09"``.
    mapping : source column -> gridgis field, for names the aliases do not know.
    skip_invalid : load the good rows and write the rejected ones to ``report``
        (default ``<file>.rejected.csv``) instead of refusing the whole file.
    replace : delete the layer's rows first (same transaction).

    Raises
    ------
    InvalidRows : some rows were rejected (and ``skip_invalid`` is not set); nothing written.
    InputError : the file cannot be read or lacks a required column.
    """
    started = time.perf_counter()
    spec, path = get_layer(layer), Path(path)
    report_path = Path(report) if report else path.with_name(path.name + ".rejected.csv")
    csv_source = path.suffix.lower() in CSV_SUFFIXES
    loader = _loader(session, spec, count_rows(path) if csv_source else None, file=str(path),
                     skip_invalid=skip_invalid, replace=replace, timezone=timezone,
                     report_path=report_path, csv_source=csv_source, actor=actor,
                     tolerance_m=tolerance_m)
    try:
        for chunk, first_row in read_chunks(path, spec, source_layer=source_layer, crs=crs,
                                            lon=lon, lat=lat, mapping=mapping,
                                            chunksize=chunksize):
            loader.add(chunk, first_row)
            if progress:
                progress(len(chunk))
        result = loader.finish()
    except BaseException:
        loader.abandon()  # e.g. a later chunk cannot be parsed: nothing runs on
        raise
    result.seconds = time.perf_counter() - started
    return result


def import_frame(session: Session, layer: str, gdf: pd.DataFrame, *, skip_invalid: bool = False,
                 replace: bool = False, file: str | None = None, report: str | Path | None = None,
                 timezone: str = "Asia/Shanghai", actor: str | None = None,
                 tolerance_m: float = 10.0) -> ImportReport:
    """Import a (Geo)DataFrame with gridgis (or alias) column names into a layer's table,
    inside the caller's transaction (the caller commits). A GeoDataFrame in another CRS is
    converted to EPSG:4326; ``attrs["source_crs"]`` is recorded where the table keeps it.

    Examples
    --------
    >>> with unit_of_work(engine) as s:                         # doctest: +SKIP
    ...     import_frame(s, "cameras", cameras_gdf)
    """
    started = time.perf_counter()
    spec = get_layer(layer)
    if isinstance(gdf, gpd.GeoDataFrame) and spec.geometry is not None:
        source = gdf.attrs.get("source_crs")
        if gdf.crs is None or not gdf.crs.equals(WGS84):
            gdf = to_wgs84(gdf)
        gdf.attrs["source_crs"] = source or gdf.attrs.get("source_crs")
    elif spec.geometry is not None:
        raise InputError(f"layer {layer} needs geometry (a GeoDataFrame)", file=file)
    loader = _loader(session, spec, len(gdf), file=file, skip_invalid=skip_invalid,
                     replace=replace, timezone=timezone,
                     report_path=Path(report) if report else None, csv_source=False,
                     actor=actor, tolerance_m=tolerance_m)
    loader.add(gdf.reset_index(drop=True), 1)
    result = loader.finish()
    result.seconds = time.perf_counter() - started
    return result
