"""Writing assigned rows batch by batch, in bounded memory, into a file moved into place
only when complete (nothing half-written under the final name on error).

* CSV: pyarrow's CSV writer, one call per chunk;
* GeoParquet: a ``pyarrow.parquet.ParquetWriter`` (one row group per chunk), WKB points
  and the ``geo`` metadata of GeoParquet 1.1;
* GeoPackage, FlatGeobuf, GeoJSON, Shapefile: one ``pyogrio.write_arrow`` call on a stream
  of record batches fed from a bounded queue, so GDAL writes each chunk as it comes.

Each chunk is a ``pyarrow.Table`` of the input columns (text) plus the results, with the
points' lon/lat arrays; a point without usable coordinates gets a null geometry.
"""

from __future__ import annotations

import csv
import io
import json
import os
import queue
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

_OGR_DRIVERS = {"gpkg": "GPKG", "fgb": "FlatGeobuf", "geojson": "GeoJSON",
                "shp": "ESRI Shapefile"}
_SPECIAL = (b'"', b",", b"\r", b"\n")
_POINT = np.dtype([("order", "u1"), ("kind", "<u4"), ("x", "<f8"), ("y", "<f8")])  # 21 bytes


def open_sink(out: Path, fmt: str, schema: pa.Schema, raw_tail: bytes | None = None) -> "Sink":
    """A sink writing ``out`` in format ``fmt`` (``gis.io.format_of``) for ``schema``.

    ``raw_tail``: a CSV sink that also takes rows as raw bytes (:meth:`CsvSink.write_raw`),
    closed by this line ending.
    """
    if fmt == "csv":
        return CsvSink(out, schema, raw_tail)
    if fmt == "parquet":
        return ParquetSink(out, schema)
    return OgrSink(out, schema, _OGR_DRIVERS[fmt])


def point_wkb(x: np.ndarray, y: np.ndarray) -> pa.Array:
    """WKB points of lon/lat arrays, null where a coordinate is missing or both are 0."""
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(x) & np.isfinite(y) & ~((x == 0) & (y == 0))
    rec = np.zeros(len(x), dtype=_POINT)
    rec["order"], rec["kind"], rec["x"], rec["y"] = 1, 1, x, y
    offsets = np.arange(len(x) + 1, dtype=np.int32) * _POINT.itemsize
    valid = pa.array(ok).buffers()[1]
    return pa.Array.from_buffers(pa.binary(), len(x), [valid, pa.py_buffer(offsets),
                                                       pa.py_buffer(rec.tobytes())])


class Sink:
    """Base: a temporary folder beside ``out``; ``commit`` moves the result into place."""

    def __init__(self, out: Path, schema: pa.Schema):
        self.out, self.schema = out, schema
        out.parent.mkdir(parents=True, exist_ok=True)
        self.tmpdir = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        self.tmp = self.tmpdir / out.name

    def write(self, table: pa.Table, x: np.ndarray, y: np.ndarray) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Flush and close the temporary file."""

    def commit(self) -> None:
        self.finish()
        for part in self.tmpdir.iterdir():  # a shapefile is several files
            os.replace(part, self.out.with_name(self.out.stem + part.name[len(self.tmp.stem):]))

    def close(self) -> None:
        shutil.rmtree(self.tmpdir, ignore_errors=True)


class CsvSink(Sink):
    """Rows from tables (pyarrow's writer) or, with a ``raw_tail``, as bytes that start with
    the line ending of the row before (:mod:`gis.assign.rawcsv`): the last line then stays
    open until the next table or the end."""

    def __init__(self, out: Path, schema: pa.Schema, raw_tail: bytes | None = None):
        super().__init__(out, schema)
        self.fh = pa.OSFile(str(self.tmp), "wb")
        self.tail = raw_tail
        head = io.StringIO()
        csv.writer(head, lineterminator="" if raw_tail else "\n").writerow(schema.names)
        self.fh.write(head.getvalue().encode("utf8"))
        self.open_line = raw_tail is not None

    def write(self, table, x, y) -> None:
        if self.open_line:
            self.fh.write(b"\n")
            self.open_line = False
        # Arrow's "needed" style quotes every text value; most chunks need no quotes.
        style = "needed" if _needs_quotes(table) else "none"
        pacsv.write_csv(table, self.fh, write_options=pacsv.WriteOptions(
            include_header=False, quoting_style=style))

    def write_raw(self, data: pa.Buffer) -> None:
        """Rows as bytes, the line ending of the row before first."""
        self.fh.write(data)

    def finish(self) -> None:
        if not self.fh.closed:
            if self.open_line:
                self.fh.write(self.tail)
            self.fh.close()

    def close(self) -> None:
        self.finish()
        super().close()


def _needs_quotes(table: pa.Table) -> bool:
    """Whether a text value holds a delimiter, quote or line break (seen in the raw bytes;
    ``bytes.find`` is a memchr, ten times faster than comparing numpy arrays)."""
    for col in table.columns:
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            continue
        for chunk in col.chunks:
            data = chunk.buffers()[2]
            raw = data.to_pybytes() if data is not None else b""
            if any(raw.find(c) >= 0 for c in _SPECIAL):
                return True
    return False


def _with_geometry(table: pa.Table, x, y) -> pa.Table:
    return table.append_column("geometry", point_wkb(x, y))


class ParquetSink(Sink):
    def __init__(self, out: Path, schema: pa.Schema):
        import pyarrow.parquet as pq
        from pyproj import CRS

        super().__init__(out, schema)
        geo = {"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": {
            "encoding": "WKB", "geometry_types": ["Point"],
            "crs": CRS.from_epsg(4326).to_json_dict()}}}
        full = schema.append(pa.field("geometry", pa.binary()))
        full = full.with_metadata({b"geo": json.dumps(geo).encode("utf8")})
        self.writer = pq.ParquetWriter(str(self.tmp), full)

    def write(self, table, x, y) -> None:
        self.writer.write_table(_with_geometry(table, x, y).replace_schema_metadata(
            self.writer.schema.metadata))

    def finish(self) -> None:
        self.writer.close()

    def close(self) -> None:
        self.writer.close()
        super().close()


class OgrSink(Sink):
    """GDAL pulls record batches from a queue in its own thread (``pyogrio.write_arrow``)."""

    _END = object()

    def __init__(self, out: Path, schema: pa.Schema, driver: str):
        super().__init__(out, schema)
        self.driver = driver
        self.queue: queue.Queue = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        import pyogrio

        full = self.schema.append(pa.field("geometry", pa.binary()))
        stream = pa.RecordBatchReader.from_batches(full, self._batches())
        try:
            # FlatGeobuf's spatial index cannot hold the null geometries of rows without
            # coordinates (kept, never dropped): that format is written without one.
            options = {"SPATIAL_INDEX": "NO"} if self.driver == "FlatGeobuf" else None
            pyogrio.write_arrow(stream, self.tmp, layer=self.out.stem, driver=self.driver,
                                geometry_name="geometry", geometry_type="Point",
                                crs="EPSG:4326", layer_options=options)
        except BaseException as exc:  # raised in the caller's thread by write/finish
            self.error = exc
            self._drain()

    def _batches(self):
        while (item := self.queue.get()) is not self._END:
            yield from item.to_batches()

    def _drain(self) -> None:
        # After a failure keep taking chunks, so that write() never blocks on a full queue.
        while self.queue.get() is not self._END:
            pass

    def write(self, table, x, y) -> None:
        self._raise()
        self.queue.put(_with_geometry(table, x, y))

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def finish(self) -> None:
        if self.thread.is_alive():
            self.queue.put(self._END)
            self.thread.join()
        self._raise()

    def close(self) -> None:
        if self.thread.is_alive():
            self.queue.put(self._END)
            self.thread.join()
        super().close()
