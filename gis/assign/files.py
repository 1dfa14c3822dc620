"""The file path of ``gridgis assign``: points from a CSV (streamed) or any vector file,
grids from any vector file, results written by suffix.

CSV input is read with pyarrow's multi-threaded streaming reader, every column as text
so that values are written back exactly as they were ("007" stays "007", odd types stay
odd), in chunks of ``chunk_size`` rows: memory is bounded by one chunk whatever the file
size. Only the two coordinate columns are parsed as numbers; empty, non-numeric or zero
coordinates leave the row unassigned, never dropped. CSV output is streamed too, to a
temporary file moved into place at the end (nothing half-written on error).
"""

from __future__ import annotations

import csv
import io
import os
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from pyproj import Transformer

from gis.assign import OUTPUT_COLUMNS, lonlat_of, with_results
from gis.assign.index import GridIndex
from gis.assign.keys import key_matches
from gis.assign.locate import Located, locate_lonlat
from gis.crs import WGS84, SourceCRS, bd09_to_wgs84, gcj02_to_wgs84, parse_crs
from gis.errors import InputError
from gis.io import CSV_SUFFIXES, LAT_NAMES, LON_NAMES, format_of, read_layer, write_layer

_BLOCK = 8 << 20


@dataclass
class Counts:
    rows: int = 0
    assigned: int = 0
    boundary: int = 0
    unassigned: int = 0
    no_coordinates: int = 0   # missing, non-numeric or (0, 0)
    seconds: float = 0.0
    checked: int = 0          # with --check: geocoded rows with a recorded key
    reproduced: int = 0       # ... whose recorded key is the grid or a candidate

    def add(self, found: Located, has_xy: np.ndarray) -> None:
        self.rows += len(found.grid)
        hit = int((found.grid >= 0).sum())
        self.assigned += hit
        self.unassigned += len(found.grid) - hit
        self.boundary += int(found.boundary.sum())
        self.no_coordinates += int((~has_xy).sum())

    def summary(self) -> dict:
        out = asdict(self)
        if not self.checked:
            out.pop("checked"), out.pop("reproduced")
        else:
            out["reproduced_pct"] = round(100.0 * self.reproduced / self.checked, 3)
        out["seconds"] = round(self.seconds, 3)
        return out


def assign_file(points: str | Path, index: GridIndex, out: str | Path, *,
                lon: str | None = None, lat: str | None = None, crs=None,
                chunk_size: int = 500_000, check: str | None = None,
                on_progress: Callable[[int, int], None] | None = None) -> dict:
    """Assign the points of a file to ``index``'s grids and write ``out`` (format by suffix).

    Returns the counts (rows, assigned, boundary, unassigned, no_coordinates, seconds; with
    ``check``, how many geocoded rows' recorded key in that column is reproduced).
    ``on_progress(done, total)`` reports bytes read (CSV) or rows (other formats).
    """
    t0 = time.perf_counter()
    points, out = Path(points), Path(out)
    if not points.exists():
        raise InputError("file not found", file=str(points))
    fmt = format_of(out)
    if chunk_size < 1:
        raise InputError("chunk size must be at least 1 row", field="chunk-size")
    if points.suffix.lower() in CSV_SUFFIXES:
        counts = _csv_to_file(points, index, out, fmt, lon, lat, crs, chunk_size, check,
                              on_progress)
    else:
        counts = _vector_to_file(points, index, out, crs, check, on_progress)
    counts.seconds = time.perf_counter() - t0
    return counts.summary()


def _vector_to_file(points, index, out, crs, check, on_progress) -> Counts:
    gdf = read_layer(points, crs=crs)
    _check_column(gdf.columns, check, points)
    gdf = gdf.drop(columns=[c for c in OUTPUT_COLUMNS if c in gdf.columns])
    lon, lat = lonlat_of(gdf)
    found = locate_lonlat(index, lon, lat)
    result = with_results(gdf, found, index)
    counts = Counts()
    xy = np.column_stack([lon, lat])
    counts.add(found, _present(xy))
    _count_check(counts, result, check, xy)
    write_layer(result, out)
    if on_progress:
        on_progress(len(gdf), len(gdf))
    return counts


def _present(xy: np.ndarray) -> np.ndarray:
    return np.isfinite(xy).all(axis=1) & ~((xy[:, 0] == 0) & (xy[:, 1] == 0))


def _check_column(columns, check, file) -> None:
    if check is not None and check not in columns:
        raise InputError(f"no column named {check!r} to check against", file=str(file),
                         field=check)


def _count_check(counts: Counts, frame, check, xy: np.ndarray) -> None:
    if check is None:
        return
    geocoded = _present(xy)
    recorded = np.asarray(frame[check], dtype=object)[geocoded]
    has = np.array([v is not None and v is not pd.NA and str(v).strip() not in ("", "nan")
                    for v in recorded], dtype=bool)
    ok = key_matches(recorded[has], np.asarray(frame["grid"], dtype=object)[geocoded][has],
                     np.asarray(frame["candidates"], dtype=object)[geocoded][has])
    counts.checked += int(has.sum())
    counts.reproduced += int(ok.sum())


# --- CSV -------------------------------------------------------------------------------

def _header(path: Path, delimiter: str, encoding: str) -> list[str]:
    with open(path, encoding=encoding, errors="replace", newline="") as fh:
        first = next(csv.reader(fh, delimiter=delimiter), None)
    if not first:
        raise InputError("the file is empty", file=str(path))
    return [c.lstrip("\ufeff") if i == 0 else c for i, c in enumerate(first)]


def _find(columns: list[str], wanted: str | None, names, file: str, what: str) -> str:
    if wanted:
        if wanted in columns:
            return wanted
        raise InputError(f"no column named {wanted!r} (columns: {', '.join(columns)})",
                         file=file, field=wanted)
    lower = {c.strip().lower(): c for c in columns}
    for name in names:
        if name in lower:
            return lower[name]
    raise InputError(f"no {what} column found (tried {', '.join(names)}); name it with "
                     f"--{what}", file=file, field=what)


def _batches(path: Path, names: list[str], delimiter: str, encoding: str,
             chunk_size: int, on_progress) -> Iterator[pa.Table]:
    """Tables of about ``chunk_size`` rows, every column as text."""
    total = path.stat().st_size
    source = pa.OSFile(str(path), "rb")
    reader = pacsv.open_csv(
        source,
        read_options=pacsv.ReadOptions(block_size=_BLOCK, encoding=encoding, use_threads=True,
                                       column_names=names, skip_rows=1),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                             strings_can_be_null=False, check_utf8=False))
    pending, rows = [], 0
    try:
        for batch in reader:
            pending.append(batch)
            rows += batch.num_rows
            if on_progress:
                on_progress(source.tell(), total)
            if rows >= chunk_size:
                yield pa.Table.from_batches(pending)
                pending, rows = [], 0
    except pa.ArrowInvalid as exc:
        raise InputError(f"cannot parse CSV: {exc}", file=str(path)) from exc
    finally:
        source.close()
    if pending or not rows:
        yield pa.Table.from_batches(pending, schema=reader.schema)


def _numbers(column: pa.ChunkedArray) -> np.ndarray:
    """Text to float; anything that is not a number becomes NaN (the row stays, unassigned)."""
    parts = [_chunk_numbers(pa.concat_arrays([c]) if c.offset else c) for c in column.chunks]
    return np.concatenate(parts) if parts else np.empty(0)


def _chunk_numbers(text: pa.Array) -> np.ndarray:
    # Empty text becomes null by reusing the buffers under a validity bitmap: if_else on
    # text would copy every string and costs twenty times more.
    valid = pc.invert(pc.equal(pc.binary_length(text), 0))
    nullable = pa.StringArray.from_buffers(len(text), text.buffers()[1], text.buffers()[2],
                                           null_bitmap=valid.buffers()[1])
    try:
        return pc.cast(nullable, pa.float64()).to_numpy(zero_copy_only=False).astype(float)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # junk or spaces: slow path
        return pd.to_numeric(pd.Series(text.to_pylist(), dtype=object), errors="coerce") \
            .to_numpy(dtype=float)


def _to_lonlat(x: np.ndarray, y: np.ndarray, source: SourceCRS):
    if source.offset:
        convert = gcj02_to_wgs84 if source.offset == "gcj02" else bd09_to_wgs84
        return convert(x, y)
    if not source.crs.equals(WGS84):
        return Transformer.from_crs(source.crs, WGS84, always_xy=True).transform(x, y)
    return x, y


def _result_columns(found: Located, index: GridIndex) -> list[pa.Array]:
    grid = np.where(found.grid >= 0, found.grid, 0).astype(np.int32)
    grid = pa.DictionaryArray.from_arrays(pa.array(grid, mask=found.grid < 0),
                                          pa.array(index.labels, pa.string()))
    cand = np.where(found.candidates >= 0, found.candidates, 0).astype(np.int32)
    cand = pa.DictionaryArray.from_arrays(pa.array(cand, mask=found.candidates < 0),
                                          pa.array(found.dictionary, pa.string()))
    return [pc.cast(grid, pa.string()), pa.array(found.boundary),
            pc.fill_null(pc.cast(cand, pa.string()), "")]


def _csv_to_file(path, index, out, fmt, lon, lat, crs, chunk_size, check, on_progress,
                 encoding: str = "utf8") -> Counts:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    names = _header(path, delimiter, encoding)
    file = str(path)
    xy_names = (_find(names, lon, LON_NAMES, file, "lon"), _find(names, lat, LAT_NAMES, file, "lat"))
    _check_column(names, check, path)
    source = parse_crs(crs) or SourceCRS(WGS84)
    keep = [n for n in names if n not in OUTPUT_COLUMNS]  # a re-run replaces old results
    counts = Counts()
    sink = _Sink(out, fmt, keep + list(OUTPUT_COLUMNS))
    # Three stages overlap: reading the next chunk, assigning this one, writing the last
    # (pyarrow and shapely release the GIL); memory holds about three chunks.
    chunks = _prefetch(_batches(path, names, delimiter, encoding, chunk_size, on_progress))
    try:
        with ThreadPoolExecutor(1) as writer:
            writing = None
            for table in chunks:
                table, x, y = _assign_chunk(table, index, xy_names, source, keep, counts, check)
                if writing is not None:
                    writing.result()
                writing = writer.submit(sink.write, table, x, y)
            if writing is not None:
                writing.result()
        sink.commit()
    finally:
        chunks.close()
        sink.close()
    return counts


def _assign_chunk(table, index, xy_names, source, keep, counts: Counts, check):
    x, y = _to_lonlat(_numbers(table[xy_names[0]]), _numbers(table[xy_names[1]]), source)
    found = locate_lonlat(index, x, y)
    counts.add(found, _present(np.column_stack([x, y])))
    table = table.select(keep)
    for name, col in zip(OUTPUT_COLUMNS, _result_columns(found, index)):
        table = table.append_column(name, col)
    if check:
        _count_check(counts, _frame_for_check(table, check), check, np.column_stack([x, y]))
    return table, x, y


class _Failed:
    def __init__(self, exc: BaseException):
        self.exc = exc


def _prefetch(items: Iterator, depth: int = 1) -> Iterator:
    """Iterate ``items`` in a thread, ``depth`` items ahead of the consumer."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def work():
        try:
            for item in items:
                q.put(item)
                if stop.is_set():
                    break
        except BaseException as exc:  # handed to the consumer, raised there
            q.put(_Failed(exc))
        finally:
            q.put(end)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        while (item := q.get()) is not end:
            if isinstance(item, _Failed):
                raise item.exc
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get(timeout=0.05)
            except queue.Empty:
                pass


def _frame_for_check(table: pa.Table, check: str) -> dict:
    return {name: table[name].to_numpy(zero_copy_only=False)
            for name in (check, "grid", "candidates")}


_SPECIAL = tuple(map(ord, '",\r\n'))


def _needs_quotes(table: pa.Table) -> bool:
    """Whether a text value holds a delimiter, quote or line break (seen in the raw bytes)."""
    for col in table.columns:
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            continue
        for chunk in col.chunks:
            data = chunk.buffers()[2]
            raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.empty(0)
            if any((raw == c).any() for c in _SPECIAL):
                return True
    return False


class _Sink:
    """CSV streamed to a temporary file; other formats gathered and written at the end."""

    def __init__(self, out: Path, fmt: str, names: list[str]):
        self.out, self.fmt = out, fmt
        out.parent.mkdir(parents=True, exist_ok=True)
        self.tmpdir = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        self.tables: list[tuple[pa.Table, np.ndarray, np.ndarray]] = []
        if fmt == "csv":
            self.fh = pa.OSFile(str(self.tmpdir / out.name), "wb")
            head = io.StringIO()
            csv.writer(head, lineterminator="\n").writerow(names)
            self.fh.write(head.getvalue().encode("utf8"))

    def write(self, table: pa.Table, x: np.ndarray, y: np.ndarray) -> None:
        if self.fmt != "csv":
            self.tables.append((table, x, y))
            return
        # Arrow's "needed" style quotes every text value; most chunks need no quotes.
        style = "needed" if _needs_quotes(table) else "none"
        pacsv.write_csv(table, self.fh, write_options=pacsv.WriteOptions(
            include_header=False, quoting_style=style))

    def commit(self) -> None:
        if self.fmt == "csv":
            self.fh.close()
            os.replace(self.tmpdir / self.out.name, self.out)
            return
        frames = [t.to_pandas() for t, _, _ in self.tables]
        df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        x = np.concatenate([x for _, x, _ in self.tables]) if self.tables else np.empty(0)
        y = np.concatenate([y for _, _, y in self.tables]) if self.tables else np.empty(0)
        ok = _present(np.column_stack([x, y]))
        geoms = gpd.points_from_xy(np.where(ok, x, 0), np.where(ok, y, 0))
        geoms = np.where(ok, np.asarray(geoms, dtype=object), None)
        write_layer(gpd.GeoDataFrame(df, geometry=list(geoms), crs=WGS84), self.out)

    def close(self) -> None:
        if self.fmt == "csv" and not self.fh.closed:
            self.fh.close()
        shutil.rmtree(self.tmpdir, ignore_errors=True)
