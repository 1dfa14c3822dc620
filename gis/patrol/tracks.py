"""Reading GPS tracks (GPX, CSV, GeoJSON and other vector files) into a *fixes table*.

A fixes table is a plain :class:`pandas.DataFrame`, one row per GPS fix, with columns
``worker`` (str), ``time`` (datetime64[ns, UTC]), ``lon``, ``lat`` (WGS 84, web
offsets removed), ``row`` (1-based row in the source file, used to keep the file's
order and to name rows in errors) and ``accuracy`` (metres) when the source has it.
At ten million fixes a GeoDataFrame of shapely points would cost gigabytes, so the
analyses take coordinates as columns; :func:`fixes_from_frame` accepts a
GeoDataFrame of points and :func:`track_lines` builds the map layer.

Rows with a missing time or coordinate are kept (NaN/NaT) and counted as dropped by
:mod:`gis.patrol.cleaning`; a time that cannot be read or a coordinate outside the
valid range is an input error naming the file, row and field.
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
from gis.io import read_layer
from gis.patrol.windows import DEFAULT_TZ, check_tz

_TZ_SUFFIX = r"(?:Z|[+-]\d\d:?\d\d)\s*$"
FIX_COLUMNS = ("worker", "time", "lon", "lat", "row")


@dataclass(frozen=True)
class Columns:
    """Source column names (CSV and attribute tables); ``accuracy`` is optional."""

    worker: str = "worker"
    time: str = "time"
    lon: str = "lon"
    lat: str = "lat"
    accuracy: str | None = None


def parse_times(values: pd.Series, tz: str, *, file: str | None = None, first_row: int = 1,
                field: str = "time") -> pd.Series:
    """Read fix times as UTC.

    ISO 8601 text with an offset (``+08:00``, ``Z``) is taken as is; without one it is
    local time in ``tz``. Numbers are Unix epoch seconds (milliseconds when > 1e11).
    Empty values become NaT; anything else unreadable is an :class:`InputError`.
    """
    s = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(s):
        out = s.dt.tz_localize(tz) if s.dt.tz is None else s
        return out.dt.tz_convert("UTC").dt.as_unit("ns")
    if pd.api.types.is_numeric_dtype(s):
        num = s.astype(float)
        unit = "ms" if np.nanmax(np.abs(num.to_numpy()), initial=0) > 1e11 else "s"
        return pd.to_datetime(num, unit=unit, utc=True).dt.as_unit("ns")
    fast = _parse_text_arrow(s, tz)
    if fast is not None:
        return fast
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
    bad = np.flatnonzero(out.isna().to_numpy() & ~empty.to_numpy(dtype=bool))
    if len(bad):
        i = int(bad[0])
        raise InputError(f"cannot read time {s.iloc[i]!r} (use ISO 8601 or epoch seconds)",
                         file=file, row=first_row + i, field=field)
    return out


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
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        fast = _parse_text_arrow(arr, tz)
        if fast is None:
            fast = parse_times(arr.to_pandas(), tz, file=file, first_row=first_row, field=field)
    else:
        fast = parse_times(arr.to_pandas(), tz, file=file, first_row=first_row, field=field)
    return np.asarray(pd.DatetimeIndex(fast).as_unit("ns").asi8)


def _coords(lon: np.ndarray, lat: np.ndarray, cols: Columns, source: SourceCRS,
            file: str | None, first_row: int) -> tuple[np.ndarray, np.ndarray]:
    """Check the range (lon/lat sources) and convert to WGS 84; NaN stays NaN."""
    bad = check_lonlat(np.nan_to_num(lon), np.nan_to_num(lat)) if source.offset or \
        source.crs.equals(WGS84) else np.array([], dtype=int)
    if len(bad):
        i = int(bad[0])
        field = cols.lon if abs(lon[i]) > 180 else cols.lat
        raise InputError(f"coordinate ({lon[i]}, {lat[i]}) out of range (wrong --crs or "
                         "swapped lon/lat?)", file=file, row=first_row + i, field=field)
    x, y = _to_wgs84_xy(lon, lat, source)
    return np.asarray(x, float), np.asarray(y, float)


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
                     tz: str = DEFAULT_TZ, file: str | None = None, first_row: int = 1
                     ) -> pd.DataFrame:
    """Normalise a table of fixes (coordinate columns, or a GeoDataFrame of points already
    in EPSG:4326) into a fixes table.

    Examples
    --------
    >>> df = pd.DataFrame({"worker": ["w1"], "time": ["2026-10-30 08:00"],
    ...                    "lon": [113.0], "lat": [28.0]})
    >>> fixes_from_frame(df)["time"].iloc[0].isoformat()
    '2026-10-30T00:00:00+00:00'
    """
    for name in (cols.worker, cols.time):
        if name not in df.columns:
            raise InputError(f"no column named {name!r} (columns: {', '.join(map(str, df.columns))})",
                             file=file, field=name)
    if isinstance(df, gpd.GeoDataFrame) and cols.lon not in df.columns:
        geoms = df.geometry.to_numpy()
        lon, lat = shapely.get_x(geoms), shapely.get_y(geoms)
    else:
        for name in (cols.lon, cols.lat):
            if name not in df.columns:
                raise InputError(f"no column named {name!r}; name it with --lon-col/--lat-col",
                                 file=file, field=name)
        lon, lat = _coords(_numbers(df[cols.lon]), _numbers(df[cols.lat]), cols,
                           source or SourceCRS(WGS84), file, first_row)
    out = pd.DataFrame({
        "worker": df[cols.worker].astype("str").to_numpy(),
        "time": parse_times(df[cols.time], tz, file=file, first_row=first_row, field=cols.time),
        "lon": np.asarray(lon, dtype=float), "lat": np.asarray(lat, dtype=float),
        "row": np.arange(first_row, first_row + len(df), dtype=np.int64)})
    if cols.accuracy:
        if cols.accuracy not in df.columns:
            raise InputError(f"no accuracy column named {cols.accuracy!r}", file=file,
                             field=cols.accuracy)
        out["accuracy"] = pd.to_numeric(df[cols.accuracy], errors="coerce").to_numpy(dtype=float)
    return out


def _csv_options(cols: Columns) -> pacsv.ConvertOptions:
    wanted = [c for c in (cols.worker, cols.time, cols.lon, cols.lat, cols.accuracy) if c]
    types = {cols.worker: pa.string(), cols.time: pa.string()}
    types.update({c: pa.float64() for c in (cols.lon, cols.lat)})
    return pacsv.ConvertOptions(include_columns=wanted, column_types=types)


def csv_batches(path: str | Path, cols: Columns = Columns(), *, block_mb: int = 32
                ) -> Iterator[tuple[int, pa.Table]]:
    """``(first row number, raw Arrow table)`` for blocks of about ``block_mb`` of text.

    The file is cut at line ends and each block (with the header line) goes to Arrow's
    multithreaded ``read_csv``, four times faster than its serial streaming reader. As
    with Arrow's own readers, a quoted value must not contain a line break."""
    path = Path(path)
    opts = _csv_options(cols)
    first, carry = 1, b""
    with open(path, "rb") as fh:
        header = fh.readline()
        while True:
            chunk = fh.read(block_mb << 20)
            data = carry + chunk
            cut = len(data) if not chunk else data.rfind(b"\n") + 1
            block, carry = data[:cut], data[cut:]
            if block.strip():
                try:
                    table = pacsv.read_csv(io.BytesIO(header + block), convert_options=opts)
                except (pa.ArrowInvalid, pa.ArrowKeyError) as exc:
                    raise InputError(f"cannot parse CSV after row {first}: {exc}",
                                     file=str(path)) from exc
                yield first, table
                first += table.num_rows
            if not chunk:
                return


def iter_csv_fixes(path: str | Path, cols: Columns = Columns(), *, crs=None, tz: str = DEFAULT_TZ,
                   block_mb: int = 16) -> Iterator[pd.DataFrame]:
    """Stream a CSV of fixes as fixes tables of about ``block_mb`` of text each."""
    source = parse_crs(crs) or SourceCRS(WGS84)
    for first, batch in csv_batches(path, cols, block_mb=block_mb):
        yield fixes_from_frame(batch.to_pandas(), cols, source=source, tz=tz, file=str(path),
                               first_row=first)


def _missing_columns(path: Path, cols: Columns) -> None:
    header = pd.read_csv(path, nrows=0).columns
    missing = [c for c in (cols.worker, cols.time, cols.lon, cols.lat, cols.accuracy)
               if c and c not in header]
    if missing:
        raise InputError(f"no column named {missing[0]!r} (columns: {', '.join(header)}); "
                         "name it with --worker-col/--time-col/--lon-col/--lat-col",
                         file=str(path), field=missing[0])


def read_gpx(path: str | Path, *, tz: str = DEFAULT_TZ, crs=None, worker: str | None = None
             ) -> pd.DataFrame:
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
                            source=source, tz=tz, file=str(path))


def read_tracks(path: str | Path, cols: Columns = Columns(), *, crs=None, tz: str = DEFAULT_TZ
                ) -> pd.DataFrame:
    """Read a whole tracks file (CSV streamed in blocks, GPX, GeoJSON, GeoPackage...).

    Parameters
    ----------
    path : the tracks file.
    cols : source column names (worker, time, lon, lat, accuracy).
    crs : the coordinates' CRS: ``None``/4326 for WGS 84, ``"gcj02"`` or ``"bd09"`` for
        phone map SDK coordinates, or any EPSG code.
    tz : time zone of times written without an offset.

    Returns
    -------
    DataFrame : the fixes table (see module docstring), in file order.

    Examples
    --------
    >>> fixes = read_tracks("tracks.csv", crs="gcj02")  # reads a file  # doctest: +SKIP
    """
    path = Path(path)
    check_tz(tz)
    if not path.exists():
        raise InputError("file not found", file=str(path))
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        _missing_columns(path, cols)
        parts = list(iter_csv_fixes(path, cols, crs=crs, tz=tz))
        return pd.concat(parts, ignore_index=True) if parts else _empty(cols)
    if suffix == ".gpx":
        return read_gpx(path, tz=tz, crs=crs)
    gdf = read_layer(path, crs=crs)
    return fixes_from_frame(gdf, cols, tz=tz, file=str(path))


def _empty(cols: Columns) -> pd.DataFrame:
    out = pd.DataFrame({"worker": pd.Series([], dtype="str"),
                        "time": pd.Series([], dtype="datetime64[ns, UTC]"),
                        "lon": [], "lat": [], "row": pd.Series([], dtype=np.int64)})
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
