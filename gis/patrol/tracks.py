"""Reading GPS tracks (GPX, CSV, GeoJSON and other vector files) into a *fixes table*.

A fixes table is a plain :class:`pandas.DataFrame`, one row per GPS fix, with columns
``worker`` (str), ``time`` (datetime64[ns, UTC]), ``lon``, ``lat`` (WGS 84, web
offsets removed), ``row`` (1-based row in the source file, used to keep the file's
order and to name rows in errors) and ``accuracy`` (metres) when the source has it.
At ten million fixes a GeoDataFrame of shapely points would cost gigabytes, so the
analyses take coordinates as columns; :func:`fixes_from_frame` accepts a
GeoDataFrame of points and :func:`track_lines` builds the map layer.

Rows with a missing time or coordinate are kept (NaN/NaT) and counted as dropped by
:mod:`gis.patrol.cleaning`. So are, by default, a time that cannot be read and a
coordinate that is not a number or lies outside the lon/lat range (a latitude of 400,
swapped columns): the row is kept with a ``flag`` (:data:`gis.patrol.fixes.OUT_OF_RANGE`,
:data:`gis.patrol.fixes.UNREADABLE`) and cleaning counts it, because one bad fix in half
a million must not abort a run. With ``strict=True`` such a row is an input error naming
the file, row and field instead.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyogrio
import shapely

from gis.crs import WGS84, SourceCRS, check_lonlat, parse_crs
from gis.crs import bd09_to_wgs84, gcj02_to_wgs84
from gis.errors import InputError
from gis.io import open_text, read_layer, split_layer_path
from gis.patrol.fixes import OK, OUT_OF_RANGE, UNREADABLE
from gis.patrol.windows import DEFAULT_TZ, check_tz

_TZ_SUFFIX = r"(?:Z|[+-]\d\d:?\d\d)\s*$"
FIX_COLUMNS = ("worker", "time", "lon", "lat", "row")


@dataclass(frozen=True)
class Columns:
    """Source column names (CSV and attribute tables); ``accuracy`` and ``seq`` (the
    device's own sequence number, which says when a fix really came after another)
    are optional."""

    worker: str = "worker"
    time: str = "time"
    lon: str = "lon"
    lat: str = "lat"
    accuracy: str | None = None
    seq: str | None = None

    def wanted(self) -> list[str]:
        return [c for c in (self.worker, self.time, self.lon, self.lat, self.accuracy,
                            self.seq) if c]


def parse_times(values: pd.Series, tz: str, *, file: str | None = None, first_row: int = 1,
                field: str = "time") -> pd.Series:
    """Read fix times as UTC.

    ISO 8601 text with an offset (``+08:00``, ``Z``) is taken as is; without one it is
    local time in ``tz``. Numbers are Unix epoch seconds (milliseconds when > 1e11).
    Empty values become NaT; anything else unreadable is an :class:`InputError`
    (:func:`read_times` keeps it as NaT and says which rows).
    """
    out, bad = read_times(values, tz)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"cannot read time {pd.Series(values).iloc[i]!r} (use ISO 8601 or "
                         "epoch seconds)", file=file, row=first_row + i, field=field)
    return out


def read_times(values: pd.Series, tz: str) -> tuple[pd.Series, np.ndarray]:
    """:func:`parse_times` without raising: (UTC times with NaT where unreadable, mask of
    the rows that held something that is not a time)."""
    s = pd.Series(values).reset_index(drop=True)
    none = np.zeros(len(s), bool)
    if pd.api.types.is_datetime64_any_dtype(s):
        out = s.dt.tz_localize(tz) if s.dt.tz is None else s
        return out.dt.tz_convert("UTC").dt.as_unit("ns"), none
    if pd.api.types.is_numeric_dtype(s):
        num = s.astype(float)
        unit = "ms" if np.nanmax(np.abs(num.to_numpy()), initial=0) > 1e11 else "s"
        return pd.to_datetime(num, unit=unit, utc=True, errors="coerce").dt.as_unit("ns"), none
    fast = _parse_text_arrow(s, tz)
    if fast is not None:
        return fast, none
    text = s.astype("string").str.strip()
    empty = text.isna() | (text == "")
    aware = text.str.contains(_TZ_SUFFIX, regex=True).fillna(False).to_numpy(dtype=bool)
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")
    if aware.any():
        out[aware] = pd.to_datetime(text[aware], format="ISO8601", utc=True, errors="coerce")
    naive = ~aware & ~empty.to_numpy(dtype=bool)
    if naive.any():
        local = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
        out[naive] = local.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    return out, out.isna().to_numpy() & ~empty.to_numpy(dtype=bool)


def _parse_text_arrow(s: pd.Series | pa.Array, tz: str) -> pd.Series | None:
    """Fast path (Arrow's C++ parser) for clean ISO text all with, or all without, an
    offset; ``None`` sends anything unusual to the slower pandas path, which names the
    bad row. Arrow refuses an offset when casting to a naive timestamp and its absence
    when casting to an aware one, so two casts tell the cases apart without a regex."""
    arr = s if isinstance(s, (pa.Array, pa.ChunkedArray)) else \
        pa.array(s.astype(object), type=pa.string(), from_pandas=True)
    if len(arr) - arr.null_count and pc.min(pc.utf8_length(arr)).as_py() == 0:
        arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
    for attempt in (arr, None):
        if attempt is None:  # stray spaces: trim once and retry
            attempt = pc.utf8_trim_whitespace(arr)
            attempt = pc.if_else(pc.equal(attempt, ""), pa.scalar(None, pa.string()), attempt)
        try:
            wall = pc.cast(attempt, pa.timestamp("ns")).to_pandas().reset_index(drop=True)
            return wall.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        try:
            utc = pc.cast(attempt, pa.timestamp("ns", tz="UTC")).to_pandas()
            return utc.reset_index(drop=True).dt.tz_convert("UTC")
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    return None


def parse_time_array(arr: pa.Array, tz: str, *, file: str | None = None, first_row: int = 1,
                     field: str = "time") -> np.ndarray:
    """:func:`parse_times` for an Arrow column, as int64 UTC nanoseconds (NaT for empty)."""
    t, bad = time_array(arr, tz)
    if bad.any():
        parse_times(arr.to_pandas(), tz, file=file, first_row=first_row, field=field)
    return t


def time_array(arr: pa.Array, tz: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`read_times` for an Arrow column: (int64 UTC ns, unreadable mask)."""
    fast, bad = None, np.zeros(len(arr), bool)
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        fast = _parse_text_arrow(arr, tz)
    if fast is None:
        fast, bad = read_times(arr.to_pandas(), tz)
    return np.asarray(pd.DatetimeIndex(fast).as_unit("ns").asi8), bad


def _coords(lon: np.ndarray, lat: np.ndarray, cols: Columns, source: SourceCRS,
            file: str | None, first_row: int) -> tuple[np.ndarray, np.ndarray]:
    """Check the range (lon/lat sources) and convert to WGS 84; NaN stays NaN."""
    x, y, _ = coords_flagged(lon, lat, cols, source, file, first_row, strict=True)
    return x, y


def coords_flagged(lon: np.ndarray, lat: np.ndarray, cols: Columns, source: SourceCRS,
                   file: str | None, first_row: int, *, strict: bool = False):
    """Convert to WGS 84: ``(lon, lat, out_of_range mask)``. A coordinate outside the
    valid range (before conversion for lon/lat sources, after it for any CRS) becomes NaN
    and is flagged, or with ``strict`` is an :class:`InputError` naming the row and field."""
    lonlat = bool(source.offset) or source.crs.equals(WGS84)
    bad = np.zeros(len(lon), bool)
    if lonlat:
        bad[check_lonlat(np.nan_to_num(lon), np.nan_to_num(lat))] = True
    if strict and bad.any():
        _range_error(lon, lat, int(np.flatnonzero(bad)[0]), cols, file, first_row)
    lon, lat = np.where(bad, np.nan, lon), np.where(bad, np.nan, lat)
    with np.errstate(invalid="ignore"):
        x, y = (np.asarray(v, float) for v in _to_wgs84_xy(lon, lat, source))
    given = ~np.isnan(lon) & ~np.isnan(lat)
    after = given & ~(np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180) & (np.abs(y) <= 90))
    if after.any():
        if strict:
            _range_error(lon, lat, int(np.flatnonzero(after)[0]), cols, file, first_row)
        bad |= after
        x, y = np.where(after, np.nan, x), np.where(after, np.nan, y)
    return x, y, bad


def _range_error(lon, lat, i: int, cols: Columns, file, first_row: int):
    field = cols.lon if not abs(lon[i]) <= 180 else cols.lat
    raise InputError(f"coordinate ({lon[i]}, {lat[i]}) out of range (wrong --crs or "
                     "swapped lon/lat?)", file=file, row=first_row + i, field=field)


def coord_values(values, *, strict: bool = False, file: str | None = None,
                 first_row: int = 1, field: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Numbers of a coordinate (or sequence) column: ``(float values, unreadable mask)``;
    text that is not a number is NaN and flagged (an error with ``strict``)."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        if pa.types.is_floating(values.type) or pa.types.is_integer(values.type):
            return values.to_numpy(zero_copy_only=False).astype(float), np.zeros(len(values), bool)
        values = values.to_pandas()
    s = pd.Series(values).reset_index(drop=True)
    num = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    text = s.astype("string").str.strip()
    bad = np.isnan(num) & ~(text.isna() | (text == "")).to_numpy(dtype=bool)
    if strict and bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{s.iloc[i]!r} is not a number", file=file, row=first_row + i,
                         field=field)
    return num, bad


def _numbers(values) -> np.ndarray:
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _to_wgs84_xy(lon: np.ndarray, lat: np.ndarray, source: SourceCRS):
    if source.offset == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if source.offset == "bd09":
        return bd09_to_wgs84(lon, lat)
    if not source.crs.equals(WGS84):
        from pyproj import Transformer

        return Transformer.from_crs(source.crs, WGS84, always_xy=True).transform(lon, lat)
    return lon, lat


def fixes_from_frame(df: pd.DataFrame, cols: Columns = Columns(), *, source: SourceCRS | None = None,
                     tz: str = DEFAULT_TZ, file: str | None = None, first_row: int = 1,
                     strict: bool = False) -> pd.DataFrame:
    """Normalise a table of fixes (coordinate columns, or a GeoDataFrame of points already
    in EPSG:4326) into a fixes table. Unreadable or out-of-range values are flagged for
    cleaning to count, or with ``strict`` refused naming the row and field.

    Examples
    --------
    >>> df = pd.DataFrame({"worker": ["w1"], "time": ["2026-10-30 08:00"],
    ...                    "lon": [113.0], "lat": [28.0]})
    >>> fixes_from_frame(df)["time"].iloc[0].isoformat()
    '2026-10-30T00:00:00+00:00'
    """
    for name in (cols.worker, cols.time, cols.seq):
        if name and name not in df.columns:
            raise InputError(f"no column named {name!r} (columns: {', '.join(map(str, df.columns))})",
                             file=file, field=name)
    flag = np.zeros(len(df), np.int8)
    if isinstance(df, gpd.GeoDataFrame) and cols.lon not in df.columns:
        geoms = df.geometry.to_numpy()
        lon, lat = shapely.get_x(geoms), shapely.get_y(geoms)
        flag[np.asarray(df.attrs.get("out_of_range_rows", []), dtype=np.int64)] = OUT_OF_RANGE
    else:
        for name in (cols.lon, cols.lat):
            if name not in df.columns:
                raise InputError(f"no column named {name!r}; name it with --lon-col/--lat-col",
                                 file=file, field=name)
        where = dict(strict=strict, file=file, first_row=first_row)
        (x, bx), (y, by) = coord_values(df[cols.lon], field=cols.lon, **where), \
            coord_values(df[cols.lat], field=cols.lat, **where)
        lon, lat, bad = coords_flagged(x, y, cols, source or SourceCRS(WGS84), file, first_row,
                                       strict=strict)
        flag[bad] = OUT_OF_RANGE
        flag[bx | by] = UNREADABLE
    if strict:
        times = parse_times(df[cols.time], tz, file=file, first_row=first_row, field=cols.time)
    else:
        times, bad_t = read_times(df[cols.time], tz)
        flag[bad_t & (flag == OK)] = UNREADABLE
    out = pd.DataFrame({
        "worker": df[cols.worker].astype("str").where(df[cols.worker].notna(), None).to_numpy(),
        "time": times, "lon": np.asarray(lon, dtype=float), "lat": np.asarray(lat, dtype=float),
        "row": np.arange(first_row, first_row + len(df), dtype=np.int64), "flag": flag})
    if cols.accuracy:
        if cols.accuracy not in df.columns:
            raise InputError(f"no accuracy column named {cols.accuracy!r}", file=file,
                             field=cols.accuracy)
        out["accuracy"] = pd.to_numeric(df[cols.accuracy], errors="coerce").to_numpy(dtype=float)
    if cols.seq:
        out["seq"] = coord_values(df[cols.seq])[0]
    return out


def _csv_options(cols: Columns, *, numbers: bool = True) -> pacsv.ConvertOptions:
    """Only the wanted columns; coordinates as numbers (fast) or, for a block where some
    are not numbers, as text to be read row by row."""
    types = {cols.worker: pa.string(), cols.time: pa.string()}
    types.update({c: (pa.float64() if numbers else pa.string())
                  for c in (cols.lon, cols.lat, cols.accuracy, cols.seq) if c})
    return pacsv.ConvertOptions(include_columns=cols.wanted(), column_types=types)


def csv_batches(path: str | Path, cols: Columns = Columns(), *, block_mb: int = 32
                ) -> Iterator[tuple[int, pa.Table]]:
    """``(first row number, raw Arrow table)`` for blocks of about ``block_mb`` of text.

    The file (plain or gzipped) is cut at line ends and each block (with the header
    line) goes to Arrow's multithreaded ``read_csv``, four times faster than its serial
    streaming reader. As with Arrow's own readers, a quoted value must not contain a
    line break."""
    path = Path(path)
    first, carry = 1, b""
    with open_text(path) as fh:
        header = fh.readline()
        while True:
            chunk = fh.read(block_mb << 20)
            data = carry + chunk
            cut = len(data) if not chunk else data.rfind(b"\n") + 1
            block, carry = data[:cut], data[cut:]
            if block.strip():
                table = _read_block(header + block, cols, path, first)
                yield first, table
                first += table.num_rows
            if not chunk:
                return


def _read_block(text: bytes, cols: Columns, path: Path, first: int) -> pa.Table:
    for numbers in (True, False):
        try:
            return pacsv.read_csv(io.BytesIO(text), convert_options=_csv_options(cols, numbers=numbers))
        except (pa.ArrowInvalid, pa.ArrowKeyError) as exc:
            if not numbers or "CSV conversion error" not in str(exc):
                raise InputError(f"cannot parse CSV after row {first}: {exc}",
                                 file=str(path)) from exc
    raise AssertionError("unreachable")


def iter_csv_fixes(path: str | Path, cols: Columns = Columns(), *, crs=None, tz: str = DEFAULT_TZ,
                   block_mb: int = 16, strict: bool = False) -> Iterator[pd.DataFrame]:
    """Stream a CSV of fixes as fixes tables of about ``block_mb`` of text each."""
    source = parse_crs(crs) or SourceCRS(WGS84)
    for first, batch in csv_batches(path, cols, block_mb=block_mb):
        yield fixes_from_frame(batch.to_pandas(), cols, source=source, tz=tz, file=str(path),
                               first_row=first, strict=strict)


def _missing_columns(path: Path, cols: Columns) -> None:
    try:
        header = pd.read_csv(path, nrows=0).columns
    except pd.errors.EmptyDataError as exc:
        raise InputError("the file is empty (no header line)", file=str(path)) from exc
    missing = [c for c in cols.wanted() if c not in header]
    if missing:
        raise InputError(f"no column named {missing[0]!r} (columns: {', '.join(header)}); "
                         "name it with --worker-col/--time-col/--lon-col/--lat-col",
                         file=str(path), field=missing[0])


def read_gpx(path: str | Path, *, tz: str = DEFAULT_TZ, crs=None, worker: str | None = None,
             strict: bool = False) -> pd.DataFrame:
    """Track points of a GPX file; the worker is the track's ``<name>`` (or ``worker``,
    or the file name)."""
    path = Path(path)
    try:
        pts = pyogrio.read_dataframe(path, layer="track_points")
        names = pyogrio.read_dataframe(path, layer="tracks", read_geometry=False)
    except Exception as exc:  # pyogrio raises DataSourceError/DataLayerError
        raise InputError(f"cannot read GPX track points: {exc}", file=str(path)) from exc
    label = worker or path.stem
    by_fid = dict(enumerate(names["name"].fillna(label))) if "name" in names else {}
    pts["worker"] = pts["track_fid"].map(by_fid).fillna(label) if worker is None else worker
    geoms = pts.geometry.to_numpy()
    pts["lon"], pts["lat"] = shapely.get_x(geoms), shapely.get_y(geoms)
    source = parse_crs(crs) or SourceCRS(WGS84)
    return fixes_from_frame(pd.DataFrame(pts.drop(columns="geometry")), Columns(),
                            source=source, tz=tz, file=str(path), strict=strict)


def is_csv(path: str | Path) -> bool:
    """A CSV of fixes, plain or gzipped (``.csv``, ``.csv.gz``, ``.tsv``...)."""
    name = Path(path).name.lower()
    return name.endswith((".csv", ".txt", ".tsv", ".csv.gz", ".txt.gz", ".tsv.gz"))


def read_tracks(path: str | Path, cols: Columns = Columns(), *, crs=None, tz: str = DEFAULT_TZ,
                strict: bool = False, layer: str | None = None) -> pd.DataFrame:
    """Read a whole tracks file (CSV streamed in blocks, GPX, GeoJSON, GeoPackage...).

    Parameters
    ----------
    path : the tracks file (``file.gpkg:layer`` names a layer).
    cols : source column names (worker, time, lon, lat, accuracy, seq).
    crs : the coordinates' CRS: ``None``/4326 for WGS 84, ``"gcj02"`` or ``"bd09"`` for
        phone map SDK coordinates, or any EPSG code.
    tz : time zone of times written without an offset.
    strict : refuse the file at the first unreadable or out-of-range value (naming
        file, row and field) instead of flagging the row for cleaning to count.
    layer : the layer of a multi-layer file.

    Returns
    -------
    DataFrame : the fixes table (see module docstring), in file order.

    Examples
    --------
    >>> fixes = read_tracks("tracks.csv", crs="gcj02")  # reads a file  # doctest: +SKIP
    """
    path, layer = split_layer_path(path, layer)
    check_tz(tz)
    if not path.exists():
        raise InputError("file not found", file=str(path))
    if is_csv(path):
        _missing_columns(path, cols)
        parts = list(iter_csv_fixes(path, cols, crs=crs, tz=tz, strict=strict))
        return pd.concat(parts, ignore_index=True) if parts else _empty(cols)
    if path.suffix.lower() == ".gpx":
        return read_gpx(path, tz=tz, crs=crs, strict=strict)
    gdf = read_layer(path, crs=crs, layer=layer, bad_coords="raise" if strict else "keep")
    return fixes_from_frame(gdf, cols, tz=tz, file=str(path), strict=strict)


def _empty(cols: Columns) -> pd.DataFrame:
    out = pd.DataFrame({"worker": pd.Series([], dtype="str"),
                        "time": pd.Series([], dtype="datetime64[ns, UTC]"),
                        "lon": [], "lat": [], "row": pd.Series([], dtype=np.int64),
                        "flag": pd.Series([], dtype=np.int8)})
    if cols.accuracy:
        out["accuracy"] = []
    return out


def track_lines(fixes: pd.DataFrame, *, tz: str = DEFAULT_TZ) -> gpd.GeoDataFrame:
    """The tracks layer: one LineString per worker per local day, in EPSG:4326
    (columns ``worker``, ``day``, ``start``, ``end``, ``fixes``)."""
    f = fixes.dropna(subset=["time", "lon", "lat"]).sort_values(["worker", "time"], kind="stable")
    day = f["time"].dt.tz_convert(tz).dt.strftime("%Y-%m-%d")
    key = pd.MultiIndex.from_arrays([f["worker"], day]).factorize()[0]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    counts = np.diff(np.r_[starts, len(f)])
    ok = counts >= 2  # a line needs two fixes
    coords = np.column_stack([f["lon"].to_numpy(), f["lat"].to_numpy()])
    index = np.repeat(np.arange(len(starts)), counts)
    lines = shapely.linestrings(coords[np.repeat(ok, counts)], indices=index[np.repeat(ok, counts)])
    first, last = starts[ok], starts[ok] + counts[ok] - 1
    return gpd.GeoDataFrame({
        "worker": f["worker"].to_numpy()[first], "day": day.to_numpy()[first],
        "start": f["time"].to_numpy()[first], "end": f["time"].to_numpy()[last],
        "fixes": counts[ok]}, geometry=lines, crs=WGS84)
