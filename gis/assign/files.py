"""The file path of ``gridgis assign``: points from a CSV (streamed) or any vector file,
grids from any vector file, results written by suffix.

CSV input is streamed in chunks of ``chunk_size`` rows (:mod:`gis.assign.csvread`) and
the results are written chunk by chunk (:mod:`gis.assign.sinks`), so memory is bounded
by a few chunks whatever the file size. Reading the next chunk, assigning this one and
writing the last overlap in three threads (pyarrow, GEOS and numpy release the GIL).
Only the two coordinate columns are parsed as numbers; empty, non-numeric or zero
coordinates leave the row unassigned, never dropped. The output goes to a temporary
file moved into place at the end (nothing half-written on error).

Neither geopandas nor pandas is imported on the CSV path: together they cost about a
second of start-up, a third of the whole run on a million rows.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyproj import Transformer

from gis.assign import OUTPUT_COLUMNS, lonlat_of, with_results
from gis.assign.csvread import batches, find_column, header, numbers
from gis.assign.index import GridIndex
from gis.assign.keys import reproduced
from gis.assign.locate import Located, locate_lonlat, locate_rest, locate_safe
from gis.assign.rawcsv import RawChunk, raw_chunks, tail
from gis.assign.rawcsv import with_results as raw_rows
from gis.assign.sinks import open_sink
from gis.crs import WGS84, SourceCRS, bd09_to_wgs84, gcj02_to_wgs84, parse_crs
from gis.errors import InputError

# As in gis.io, repeated because importing gis.io loads geopandas (tests keep them equal).
CSV_SUFFIXES = (".csv", ".txt", ".tsv")
LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度", "gps_lon", "point_x")
LAT_NAMES = ("lat", "latitude", "y", "纬度", "gps_lat", "point_y")



@dataclass
class Counts:
    rows: int = 0
    assigned: int = 0
    boundary: int = 0
    unassigned: int = 0
    no_coordinates: int = 0   # missing, non-numeric or (0, 0)
    out_of_range: int = 0     # numbers outside lon/lat range (lat 400, swapped): unassigned
    seconds: float = 0.0
    checked: int = 0          # with --check: geocoded rows with a recorded key
    reproduced: int = 0       # ... whose recorded key is the grid or a candidate
    exact: int = 0            # ... whose recorded key is the assigned grid itself

    def add(self, found: Located, has_xy: np.ndarray, far: np.ndarray | None = None) -> None:
        self.rows += len(found.grid)
        hit = int((found.grid >= 0).sum())
        self.assigned += hit
        self.unassigned += len(found.grid) - hit
        self.boundary += int(found.boundary.sum())
        self.no_coordinates += int((~has_xy).sum())
        self.out_of_range += 0 if far is None else int(far.sum())

    def summary(self) -> dict:
        out = asdict(self)
        if not self.checked:
            out.pop("checked"), out.pop("reproduced"), out.pop("exact")
        else:
            # Two rates, named for what they count: the assigned grid is the recorded one
            # (exact), or the recorded one is the grid or a boundary candidate. The older
            # key reproduced_pct keeps its meaning: the with-candidates rate.
            out["exact_pct"] = round(100.0 * self.exact / self.checked, 3)
            out["with_candidates_pct"] = round(100.0 * self.reproduced / self.checked, 3)
            out["reproduced_pct"] = out["with_candidates_pct"]
        out["seconds"] = round(self.seconds, 3)
        return out


def assign_file(points: str | Path, index: GridIndex | Future, out: str | Path, *,
                lon: str | None = None, lat: str | None = None, crs=None,
                chunk_size: int = 100_000, check: str | None = None,
                on_progress: Callable[[int, int], None] | None = None,
                layer: str | None = None, strict: bool = False) -> dict:
    """Assign the points of a file to ``index``'s grids and write ``out`` (format by suffix).

    Returns the counts (rows, assigned, boundary, unassigned, no_coordinates, seconds; with
    ``check``: ``checked`` geocoded rows with a recorded key in that column, ``exact`` /
    ``exact_pct`` those whose assigned grid is the recorded one, ``reproduced`` /
    ``with_candidates_pct`` those whose recorded key is the grid or a boundary candidate;
    ``reproduced_pct`` is the with-candidates rate, kept under its old name).
    ``on_progress(done, total)`` reports bytes read (CSV) or rows (other formats).
    ``index`` may be a ``Future`` of an index still being built: a CSV starts being read
    and parsed meanwhile. Coordinates outside lon/lat range leave their rows unassigned
    and are counted (``out_of_range``); with ``strict`` the first one refuses the file,
    naming its row and field.
    """
    t0 = time.perf_counter()
    points, out = Path(points), Path(out)
    if not points.exists() or layer is not None:
        from gis.io import split_layer_path  # FILE:LAYER (geopandas only on this path)

        points, layer = split_layer_path(points, layer)
    if not points.exists():
        raise InputError("file not found", file=str(points))
    fmt = _format_of(out)
    if chunk_size < 1:
        raise InputError("chunk size must be at least 1 row", field="chunk-size")
    if points.suffix.lower() in CSV_SUFFIXES:
        counts = _csv_to_file(points, index, out, fmt, lon, lat, crs, chunk_size, check,
                              on_progress, strict=strict)
    elif points.name.lower().endswith(GZ_CSV_SUFFIXES):
        counts = _gz_csv_to_file(points, index, out, fmt, lon, lat, crs, chunk_size, check,
                                 on_progress, strict)
    else:
        counts = _vector_to_file(points, _ready(index), out, crs, check, on_progress,
                                 layer, lon, lat, strict)
    counts.seconds = time.perf_counter() - t0
    return counts.summary()


def _ready(index: GridIndex | Future) -> GridIndex:
    return index.result() if isinstance(index, Future) else index


def _format_of(out: Path) -> str:
    if out.suffix.lower() in CSV_SUFFIXES:
        return "csv"
    from gis.io import format_of

    return format_of(out)


def _vector_to_file(points, index, out, crs, check, on_progress, layer=None, lon=None,
                    lat=None, strict=False) -> Counts:
    """Any other file (vector formats, and gzipped CSV read whole by :func:`read_layer`);
    coordinates outside lon/lat range leave their rows unassigned, counted."""
    from gis.io import is_csv, read_layer, write_layer

    gdf = read_layer(points, crs=crs, layer=layer, bad_coords="raise" if strict else "keep",
                     **({"lon": lon, "lat": lat} if is_csv(points) else {}))
    _check_column(gdf.columns, check, points)
    gdf = gdf.drop(columns=[c for c in OUTPUT_COLUMNS if c in gdf.columns])
    lon, lat = lonlat_of(gdf)
    found = locate_lonlat(index, lon, lat)
    result = with_results(gdf, found, index)
    counts = Counts()
    present = _present(lon, lat)
    far = np.zeros(len(gdf), bool)
    far[np.asarray(gdf.attrs.get("out_of_range_rows", []), dtype=np.int64)] = True
    counts.add(found, present & ~far, far)
    present |= far
    if check:
        _count_check(counts, gdf[check].to_numpy(dtype=object), found, index, present)
    write_layer(result, out)
    if on_progress:
        on_progress(len(gdf), len(gdf))
    return counts


def _present(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Coordinates that are numbers and not (0, 0) (out of range ones included: they are
    geocoded, wrongly, and count against a --check rate)."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(x) & np.isfinite(y) & ~((x == 0) & (y == 0))


def _far(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Numbers outside lon/lat range (after conversion): a latitude of 400, swapped
    columns, a projected file read as lon/lat."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(x) & np.isfinite(y) & ((np.abs(x) > 180) | (np.abs(y) > 90))


def _check_column(columns, check, file) -> None:
    if check is not None and check not in columns:
        raise InputError(f"no column named {check!r} to check against", file=str(file),
                         field=check)


def _count_check(counts: Counts, recorded, found: Located, index: GridIndex,
                 geocoded: np.ndarray) -> None:
    """Count geocoded rows with a recorded key, those whose key is the assigned grid,
    and those whose key is the grid or a candidate."""
    exact = np.zeros(len(found.grid), bool)
    has, ok = reproduced(recorded, index.labels, found.grid, found.candidates,
                         found.dictionary, exact)
    counts.checked += int((has & geocoded).sum())
    counts.reproduced += int((ok & geocoded).sum())
    counts.exact += int((exact & has & geocoded).sum())


# --- CSV ---------------------------------------------------------------------------------

GZ_CSV_SUFFIXES = (".csv.gz", ".txt.gz", ".tsv.gz")


def _gz_csv_to_file(points: Path, index, out: Path, fmt, lon, lat, crs, chunk_size, check,
                    on_progress, strict=False) -> Counts:
    """A gzipped CSV: unpacked as it is read into a temporary file beside the output (the
    streamed CSV path needs a plain file), which is removed afterwards; messages name the
    original file."""
    import gzip
    import shutil
    import tempfile

    out.parent.mkdir(parents=True, exist_ok=True)
    plain_name = points.name[:-3]
    with tempfile.TemporaryDirectory(prefix=".gridgis-gz-", dir=out.parent) as tmp:
        plain = Path(tmp) / plain_name
        try:
            with gzip.open(points, "rb") as src, open(plain, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except (OSError, EOFError) as exc:
            raise InputError(f"cannot unpack gzip: {exc}", file=str(points)) from exc
        try:
            return _csv_to_file(plain, index, out, fmt, lon, lat, crs, chunk_size, check,
                                on_progress, strict=strict)
        except InputError as exc:
            p = exc.problem
            raise InputError(p.reason, file=str(points) if p.file else None, row=p.row,
                             field=p.field) from exc

def _converter(source: SourceCRS):
    """A function from the CSV's x, y to WGS 84 lon/lat (None: already lon/lat)."""
    if source.offset:
        return gcj02_to_wgs84 if source.offset == "gcj02" else bd09_to_wgs84
    if not source.crs.equals(WGS84):
        return Transformer.from_crs(source.crs, WGS84, always_xy=True).transform
    return None


def _result_columns(found: Located, index: GridIndex) -> list[pa.Array]:
    # ``take`` from the label texts: twenty times faster than casting a dictionary array.
    grid = pc.take(pa.array(index.labels, pa.string()),
                   pa.array(found.grid, mask=found.grid < 0))
    cand = pc.take(pa.array(np.r_[[""], found.dictionary], pa.string()), found.candidates + 1)
    return [grid, pa.array(found.boundary), cand]


def _csv_to_file(path, index, out, fmt, lon, lat, crs, chunk_size, check, on_progress,
                 encoding: str = "utf8", strict: bool = False) -> Counts:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    names = header(path, delimiter, encoding)
    file = str(path)
    xy_names = (find_column(names, lon, LON_NAMES, file, "lon"),
                find_column(names, lat, LAT_NAMES, file, "lat"))
    _check_column(names, check, path)
    source = parse_crs(crs) or SourceCRS(WGS84)
    keep = [n for n in names if n not in OUTPUT_COLUMNS]  # a re-run replaces old results
    counts = Counts()
    schema = pa.schema([(n, pa.string()) for n in keep]
                       + [("grid", pa.string()), ("boundary", pa.bool_()),
                          ("candidates", pa.string())])
    # CSV to CSV copies the input rows' bytes (gis.assign.rawcsv) unless old results are
    # to be replaced or the names repeat (then columns must be chosen by position).
    raw = (fmt == "csv" and delimiter == "," and keep == names
           and len(set(names)) == len(names))
    if raw:
        wanted = list(dict.fromkeys([*xy_names, *([check] if check else [])]))
        tables = raw_chunks(path, names, wanted, chunk_size, on_progress)
    else:
        tables = batches(path, names, delimiter, chunk_size, on_progress, encoding=encoding)
    sink = open_sink(out, fmt, schema, raw_tail=tail(path) if raw else None)
    # Three stages overlap: reading and parsing the next chunk, the safe-region stage
    # of this one, the exact stage and writing of the last (pyarrow, GEOS and numpy
    # release the GIL); memory holds about three chunks.
    chunks = _prefetch(_parsed(tables, xy_names, source))
    try:
        with ThreadPoolExecutor(1) as finisher:
            finishing = None
            for chunk, x, y in chunks:
                index = _ready(index)
                owner = locate_safe(index, x, y)
                if finishing is not None:
                    finishing.result()
                finishing = finisher.submit(_finish_chunk, chunk, x, y, owner, index, keep,
                                            counts, check, sink,
                                            (file, xy_names) if strict else None)
            if finishing is not None:
                finishing.result()
        sink.commit()
    finally:
        chunks.close()
        sink.close()
    return counts


def _parsed(tables: Iterator[pa.Table | RawChunk], xy_names, source: SourceCRS):
    """Each table (or raw chunk) with its points' WGS 84 lon/lat.

    (0, 0) in the file's own CRS is how many exports write "unknown" (state plane X/Y
    too): those rows get no coordinates, rather than a point off the coast of Africa or
    wherever a projection's origin lies.
    """
    convert = _converter(source)
    for chunk in tables:
        table = chunk.columns if isinstance(chunk, RawChunk) else chunk
        x, y = numbers(table[xy_names[0]]), numbers(table[xy_names[1]])
        zero = (x == 0) & (y == 0)
        if zero.any():
            x, y = np.where(zero, np.nan, x), np.where(zero, np.nan, y)
        yield (chunk, *(convert(x, y) if convert else (x, y)))


def _finish_chunk(chunk, x, y, owner, index, keep, counts: Counts, check, sink,
                  strict=None) -> None:
    """Exact candidates, counts and writing of one chunk (in the finishing thread);
    ``strict`` = (file, (lon, lat) column names) refuses an out-of-range coordinate."""
    far = _far(x, y)
    if strict is not None and far.any():
        i = int(np.flatnonzero(far)[0])
        file, (lon, lat) = strict
        raise InputError(f"coordinate ({x[i]}, {y[i]}) out of range (wrong --crs or swapped "
                         "lon/lat?)", file=file, row=counts.rows + i + 1,
                         field=lat if abs(y[i]) > 90 else lon)
    found = locate_rest(index, x, y, owner)
    present = _present(x, y)
    counts.add(found, present, far)
    if isinstance(chunk, RawChunk):
        if check:
            _count_check(counts, chunk.columns[check], found, index, present)
        sink.write_raw(raw_rows(chunk, found, index))
        chunk.release()
        return
    if check:
        _count_check(counts, chunk[check], found, index, present)
    table = chunk.select(keep)
    for name, col in zip(OUTPUT_COLUMNS, _result_columns(found, index)):
        table = table.append_column(name, col)
    sink.write(table, x, y)


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
            getattr(items, "close", lambda: None)()  # a generator's own clean-up, here
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
