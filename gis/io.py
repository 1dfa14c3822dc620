"""Reading and writing vector files as they come: GeoPackage, GeoJSON, Shapefile,
FlatGeobuf, GeoParquet and CSV with coordinate columns.

Every reader returns a GeoDataFrame in EPSG:4326 with ``attrs["source_crs"]`` set,
and raises :class:`gis.errors.InputError` naming the file, row and field when
something is wrong. Column names can be mapped (``rename={"HOUSING20": "households"}``).

Files as they come: ``file.gpkg:layer`` names a layer (as does ``layer=``); a file with
several layers and none named is refused with the list of its layers (never GDAL's
silent first layer); gzipped CSV (``.csv.gz``), zipped shapefiles (``.zip``,
``.shp.zip``), KML/KMZ and OpenStreetMap extracts (``.osm.pbf``, ``.osm``) are read
directly.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
import gzip
import re
import warnings
import shutil
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj

from gis import csvsafe
from gis.crs import WGS84, SourceCRS, check_lonlat, offset_to_wgs84, parse_crs, to_wgs84
from gis.errors import InputError

VECTOR_SUFFIXES = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON",
                   ".shp": "ESRI Shapefile", ".fgb": "FlatGeobuf", ".zip": None}
PARQUET_SUFFIXES = {".parquet", ".geoparquet"}
CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
GZ_CSV_SUFFIXES = (".csv.gz", ".txt.gz", ".tsv.gz")
FORMATS = ("gpkg", "geojson", "shp", "fgb", "parquet", "csv")

LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度", "gps_lon", "point_x")
LAT_NAMES = ("lat", "latitude", "y", "纬度", "gps_lat", "point_y")


def _find_column(columns, wanted: str | None, candidates, file: str, what: str) -> str:
    if wanted:
        if wanted in columns:
            return wanted
        raise InputError(f"no column named {wanted!r} (columns: {', '.join(map(str, columns))})",
                         file=file, field=wanted)
    lower = {str(c).strip().lower(): c for c in columns}
    for name in candidates:
        if name in lower:
            return lower[name]
    raise InputError(f"no {what} column found (tried {', '.join(candidates)}); "
                     f"name it with --{what}", file=file, field=what)


def apply_mapping(df: pd.DataFrame, rename: Mapping[str, str] | None, file: str) -> pd.DataFrame:
    """Rename source columns to gridgis field names; a missing source column is an error."""
    if not rename:
        return df
    missing = [src for src in rename if src not in df.columns]
    if missing:
        raise InputError(f"mapped column(s) not in file: {', '.join(missing)} "
                         f"(columns: {', '.join(map(str, df.columns))})", file=file, field=missing[0])
    return df.rename(columns=dict(rename))


def parse_mapping(items: list[str] | None) -> dict[str, str]:
    """``["HOUSING20=households", ...]`` → ``{"HOUSING20": "households"}``."""
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise InputError(f"field mapping {item!r} must look like SOURCE=TARGET", field="map")
        src, dst = (s.strip() for s in item.split("=", 1))
        out[src] = dst
    return out


def points_from_columns(df: pd.DataFrame, lon: str, lat: str, *, file: str,
                        row_offset: int = 0, strict: bool = False) -> gpd.GeoDataFrame:
    """Build points from coordinate columns. Missing, non-numeric or (0, 0) coordinates
    become empty geometry (``strict=False``) or an :class:`InputError` naming the row."""
    x = pd.to_numeric(df[lon], errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(df[lat], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(x) | ~np.isfinite(y) | ((x == 0) & (y == 0))
    if strict and bad.any():
        i = int(np.flatnonzero(bad)[0])
        field = lon if not np.isfinite(x[i]) else lat
        raise InputError(f"missing or non-numeric coordinate ({df[lon].iloc[i]!r}, "
                         f"{df[lat].iloc[i]!r})", file=file, row=row_offset + i + 1, field=field)
    geoms = gpd.points_from_xy(np.where(bad, 0, x), np.where(bad, 0, y))
    geoms = np.where(bad, None, np.asarray(geoms, dtype=object))
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, index=df.index), crs=None)


def _csv_sep(path: Path) -> str:
    return "\t" if path.name.lower().endswith((".tsv", ".tsv.gz")) else ","


def is_csv(path: str | Path) -> bool:
    """A CSV with coordinate columns, plain or gzipped."""
    name = Path(path).name.lower()
    return Path(name).suffix in CSV_SUFFIXES or name.endswith(GZ_CSV_SUFFIXES)


def open_text(path: str | Path):
    """The file as a binary stream, gunzipped on the fly when it ends in ``.gz``."""
    path = Path(path)
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")


def split_layer_path(path: str | Path, layer: str | None = None) -> tuple[Path, str | None]:
    """``"blocks.gpkg:blocks"`` → ``(Path("blocks.gpkg"), "blocks")`` when that file exists
    (and the whole name does not); any other path is returned as it is with ``layer``."""
    p = Path(path)
    if p.exists() or ":" not in p.name:
        return p, layer
    base, _, name = str(path).rpartition(":")
    if not Path(base).exists():
        return p, layer
    if layer is not None and layer != name:
        raise InputError(f"two layers named: {name!r} in the path and {layer!r} with "
                         "--layer", file=base, field="layer")
    return Path(base), name


def list_layers(path: str | Path) -> list[tuple[str, str]]:
    """``(name, geometry type)`` of every layer of a vector file."""
    try:
        return [(str(n), str(g)) for n, g in pyogrio.list_layers(path)]
    except Exception as exc:  # DataSourceError for unreadable files
        raise InputError(f"cannot read file: {exc}", file=str(path)) from exc


def choose_layer(path: str | Path, layer: str | None = None, prefer=()) -> str | None:
    """The layer to read: ``layer`` if the file has it; else the only one; else the first
    of ``prefer`` the file has; else an error listing the layers (GDAL would silently
    take the first and warn)."""
    layers = list_layers(path)
    names = [n for n, _ in layers]
    shown = ", ".join(f"{n} ({g})" for n, g in layers)
    if layer is not None:
        if layer not in names:
            raise InputError(f"no layer named {layer!r} (layers: {shown})", file=str(path),
                             field="layer")
        return layer
    if len(names) <= 1:
        return names[0] if names else None
    for want in prefer:
        if want in names:
            return want
    raise InputError(f"the file has {len(names)} layers: {shown}; choose one with --layer "
                     f"or as FILE:LAYER (e.g. {Path(path).name}:{names[0]})", file=str(path),
                     field="layer")


def read_layer(path: str | Path, *, layer: str | None = None, crs=None,
               lon: str | None = None, lat: str | None = None,
               rename: Mapping[str, str] | None = None, strict_coords: bool = False,
               columns: list[str] | None = None, prefer=(),
               bad_coords: str = "raise") -> gpd.GeoDataFrame:
    """Read any supported vector file into EPSG:4326.

    Parameters
    ----------
    path : file to read (GeoPackage, GeoJSON, Shapefile, FlatGeobuf, GeoParquet, CSV,
        ``.csv.gz``, zipped shapefile, KML, ``.osm.pbf``); ``file.gpkg:layer`` names a layer.
    layer : layer name for multi-layer files (required when the file has several layers,
        unless one of ``prefer`` is among them).
    crs : overrides the file's CRS: an EPSG code, ``"gcj02"`` or ``"bd09"``. CSV files
        default to EPSG:4326.
    lon, lat : coordinate columns of a CSV (found by common names when omitted).
    rename : mapping from source column names to gridgis field names.
    bad_coords : ``"raise"`` (importers: an out-of-range coordinate refuses the file) or
        ``"keep"`` (cleaning commands: its geometry becomes None and its position is
        listed in ``attrs["out_of_range_rows"]`` for the caller to count).

    Examples
    --------
    >>> grids = read_layer("grids.gpkg")  # reads a file  # doctest: +SKIP
    >>> pts = read_layer("crimes.csv",  # reads a file  # doctest: +SKIP
    ...                  lon="Longitude", lat="Latitude")
    """
    path, layer = split_layer_path(path, layer)
    file = str(path)
    if not path.exists():
        raise InputError("file not found", file=file)
    source = parse_crs(crs) if isinstance(crs, (str, int)) or crs is None else crs
    suffix = path.suffix.lower()
    if is_csv(path):
        df = _read_csv(path, columns)
        lon_c = _find_column(df.columns, lon, LON_NAMES, file, "lon")
        lat_c = _find_column(df.columns, lat, LAT_NAMES, file, "lat")
        gdf = points_from_columns(df, lon_c, lat_c, file=file, strict=strict_coords)
        source = source or SourceCRS(WGS84)
    elif suffix in PARQUET_SUFFIXES:
        gdf = _read_parquet(path, columns)
    else:
        gdf = _read_ogr(path, choose_layer(path, layer, prefer), columns,
                        check_crs=source is None)
    gdf = apply_mapping(gdf, rename, file)
    gdf = _guess_crs(gdf, source, file)
    out = _to_wgs84_checked(gdf, source, file, keep_bad=bad_coords == "keep")
    return out


def _read_csv(path: Path, columns) -> pd.DataFrame:
    try:
        return pd.read_csv(path, sep=_csv_sep(path), usecols=columns, low_memory=False,
                           encoding_errors="replace")
    except pd.errors.EmptyDataError as exc:  # (a ValueError: caught first)
        raise InputError("the file is empty (no header line)", file=str(path)) from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"cannot parse CSV: {exc}", file=str(path)) from exc


def require_features(gdf: gpd.GeoDataFrame, path: str | Path, what: str) -> gpd.GeoDataFrame:
    """Refuse a layer a command cannot work without when it holds no feature with a
    geometry (an empty export, a layer of nulls)."""
    geoms = gdf.geometry
    if not len(gdf) or bool((geoms.isna() | geoms.is_empty).all()):
        raise InputError(f"no {what} in the file ({len(gdf)} rows, none with a geometry)",
                         file=str(path), field="geometry")
    return gdf


def with_file(exc: InputError, path: str | Path) -> InputError:
    """The same error, naming ``path`` when it named no file (domain code checking a
    layer does not know where it came from)."""
    p = exc.problem
    return InputError(p.reason, file=p.file or str(path), row=p.row, field=p.field)


def _read_parquet(path: Path, columns) -> gpd.GeoDataFrame:
    try:
        return gpd.read_parquet(path, columns=columns)
    except Exception as exc:  # pyarrow raises many types for broken files
        raise InputError(f"cannot read GeoParquet: {exc}", file=str(path)) from exc


def _read_ogr(path: Path, layer, columns, check_crs: bool = True) -> gpd.GeoDataFrame:
    if check_crs and path.suffix.lower() in (".geojson", ".json"):
        _check_geojson_crs(path)
    try:
        with warnings.catch_warnings():  # the layer is chosen: no "more than one layer"
            warnings.filterwarnings("ignore", message=".*more than one layer.*")
            return pyogrio.read_dataframe(path, layer=layer, columns=columns, use_arrow=True,
                                          on_invalid="ignore")
    except Exception as exc:  # DataSourceError, DataLayerError, arrow errors...
        raise InputError(f"cannot read file: {exc}", file=str(path)) from exc


_GEOJSON_CRS = re.compile(rb'"crs"\s*:\s*\{[^{}]*"properties"\s*:\s*\{[^{}]*"name"\s*:\s*"([^"]*)"')


def _check_geojson_crs(path: Path) -> None:
    """GDAL reads a GeoJSON ``crs`` member it does not know as WGS 84, silently: a file
    in an unknown CRS would land in the wrong place. Refuse it (``--crs`` overrides)."""
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    found = _GEOJSON_CRS.search(head)
    if not found:
        return
    name = found.group(1).decode("utf-8", "replace")
    try:
        pyproj.CRS.from_user_input(name)
    except pyproj.exceptions.CRSError:
        raise InputError(f"the file declares an unknown CRS {name!r}; give the right one "
                         "with --crs", file=str(path), field="crs") from None


def _guess_crs(gdf: gpd.GeoDataFrame, source: SourceCRS | None, file: str) -> gpd.GeoDataFrame:
    if source is not None or gdf.crs is not None:
        return gdf
    bounds = gdf.geometry.dropna().total_bounds if len(gdf) else np.array([0, 0, 0, 0])
    if np.all(np.isfinite(bounds)) and abs(bounds[[0, 2]]).max() <= 180 and abs(bounds[[1, 3]]).max() <= 90:
        return gdf.set_crs(WGS84)
    raise InputError("the file declares no CRS and its coordinates are not lon/lat; "
                     "give one with --crs", file=file, field="crs")


def _to_wgs84_checked(gdf: gpd.GeoDataFrame, source: SourceCRS | None, file: str,
                      keep_bad: bool = False):
    try:
        out = to_wgs84(gdf, source)
    except InputError as exc:
        exc.problem.file = file
        raise InputError(exc.problem.reason, file=file, field=exc.problem.field) from exc
    if keep_bad:
        return _blank_out_of_range(out)
    _check_range(out, file)
    return out


def _out_of_range(geoms: gpd.GeoSeries) -> np.ndarray:
    """Positions of geometries with a coordinate outside lon/lat range (or not finite)."""
    present = ~(geoms.isna() | geoms.is_empty).to_numpy()
    if not present.any():
        return np.array([], dtype=np.int64)
    b = geoms[present].bounds
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(b.to_numpy()).all(axis=1)
    bad_idx = np.unique(np.concatenate([check_lonlat(b.minx, b.miny), check_lonlat(b.maxx, b.maxy),
                                        np.flatnonzero(~finite)]))
    return np.flatnonzero(present)[bad_idx.astype(np.int64)]


def _blank_out_of_range(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    bad = _out_of_range(gdf.geometry)
    if len(bad):
        gdf = gdf.copy()
        gdf.loc[gdf.index[bad], gdf.geometry.name] = None
    gdf.attrs["out_of_range_rows"] = bad
    return gdf


def _check_range(gdf: gpd.GeoDataFrame, file: str) -> None:
    geoms = gdf.geometry
    present = ~(geoms.isna() | geoms.is_empty)
    if not present.any():
        return
    b = geoms[present].bounds
    bad_idx = np.unique(np.concatenate([check_lonlat(b.minx, b.miny), check_lonlat(b.maxx, b.maxy)]))
    if len(bad_idx):
        pos = int(np.flatnonzero(present.to_numpy())[bad_idx[0]])
        raise InputError("coordinates out of range after conversion to lon/lat "
                         "(wrong --crs?)", file=file, row=pos + 1, field="geometry")


def iter_csv_points(path: str | Path, *, lon: str | None = None, lat: str | None = None,
                    crs=None, chunksize: int = 250_000, columns: list[str] | None = None
                    ) -> Iterator[gpd.GeoDataFrame]:
    """Stream a large CSV as GeoDataFrame chunks in EPSG:4326 (bounded memory).

    Rows with missing, non-numeric or zero coordinates get empty geometry, never dropped;
    each chunk keeps the file's row numbers in ``attrs["first_row"]`` (1-based).
    """
    path = Path(path)
    file = str(path)
    if not path.exists():
        raise InputError("file not found", file=file)
    source = parse_crs(crs) or SourceCRS(WGS84)
    first = 0
    reader = pd.read_csv(path, sep=_csv_sep(path), chunksize=chunksize, usecols=columns,
                         low_memory=False, encoding_errors="replace")
    lon_c = lat_c = None
    for df in reader:
        if lon_c is None:
            lon_c = _find_column(df.columns, lon, LON_NAMES, file, "lon")
            lat_c = _find_column(df.columns, lat, LAT_NAMES, file, "lat")
        gdf = points_from_columns(df, lon_c, lat_c, file=file, row_offset=first)
        gdf = gdf.set_crs(source.crs, allow_override=True)
        if not source.crs.equals(WGS84):
            gdf = gdf.to_crs(WGS84)
        if source.offset:
            gdf = gdf.set_geometry(offset_to_wgs84(gdf.geometry.values, source.offset), crs=WGS84)
        gdf.attrs["first_row"] = first + 1
        gdf.attrs["source_crs"] = source.label
        first += len(df)
        yield gdf


def format_of(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    for fmt, suffixes in {"gpkg": (".gpkg",), "geojson": (".geojson", ".json"),
                          "shp": (".shp",), "fgb": (".fgb",),
                          "parquet": (".parquet", ".geoparquet"),
                          "csv": (".csv", ".tsv", ".txt")}.items():
        if suffix in suffixes:
            return fmt
    raise InputError(f"unknown output format {suffix!r} (use one of "
                     f"{', '.join('.' + f for f in FORMATS)})", file=str(path))


def write_layer(gdf: gpd.GeoDataFrame, path: str | Path, *, layer: str | None = None,
                append_layer: bool = False) -> Path:
    """Write a GeoDataFrame by the file's suffix; CSV gets lon/lat for points, WKT otherwise.

    The file is written next to its destination and moved into place, so a failed
    write never leaves a half-written file under the final name (except for extra
    layers added to an existing GeoPackage with ``append_layer=True``).
    """
    path = Path(path)
    fmt = format_of(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if append_layer:
        pyogrio.write_dataframe(gdf, path, layer=layer, driver="GPKG")
        return path
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    tmp = tmpdir / path.name
    try:
        _write_format(gdf, tmp, fmt, layer or path.stem)
        _remove_dataset(path)
        _move_dataset(tmp, path)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return path


def _write_format(gdf: gpd.GeoDataFrame, tmp: Path, fmt: str, layer: str) -> None:
    if fmt == "parquet":
        gdf.to_parquet(tmp)
    elif fmt == "csv":
        _to_csv(gdf, tmp)
    else:
        driver = {"gpkg": "GPKG", "geojson": "GeoJSON", "shp": "ESRI Shapefile",
                  "fgb": "FlatGeobuf"}[fmt]
        pyogrio.write_dataframe(gdf, tmp, layer=layer, driver=driver)


_SHP_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")


def _siblings(path: Path):
    if path.suffix.lower() == ".shp":
        return [path.with_suffix(s) for s in _SHP_PARTS]
    return [path]


def _remove_dataset(path: Path) -> None:
    for p in _siblings(path):
        p.unlink(missing_ok=True)


def replace_dataset(src: str | Path, dst: str | Path) -> None:
    """Move a finished file (and a shapefile's sidecars) over ``dst``: the last step of
    writing next to the destination first, so nothing is half-written under its name."""
    _remove_dataset(Path(dst))
    _move_dataset(Path(src), Path(dst))


def _move_dataset(src: Path, dst: Path) -> None:
    for s, d in zip(_siblings(src), _siblings(dst)):
        if s.exists():
            s.replace(d)


def _to_csv(gdf: gpd.GeoDataFrame, path: Path) -> None:
    df = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    geoms = gdf.geometry
    if len(gdf) and geoms.dropna().geom_type.eq("Point").all():
        df["lon"] = geoms.x
        df["lat"] = geoms.y
    else:
        df["wkt"] = geoms.to_wkt()
    csvsafe.to_csv(df, path)  # spreadsheet formulas neutralised


FORMULA_START = csvsafe.TRIGGERS


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells a spreadsheet would run as a formula (``=``, ``+``, ``-``,
    ``@``, tab, CR first) start with an apostrophe; numbers stay numbers. The rule is
    :mod:`gis.csvsafe` (one place)."""
    return csvsafe.neutralise_frame(df)
