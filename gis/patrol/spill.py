"""Sorting a big tracks file by worker without holding it: one streaming pass over the
CSV parses each block (times to UTC nanoseconds, coordinates to WGS 84, file row
numbers) and appends its rows to one of ``n`` temporary Arrow IPC files chosen by a
hash of the worker name; every worker's fixes then sit in one file, so the files can
be cleaned and joined one at a time with memory bounded by the largest file.

The hash is CRC-32 of the UTF-8 name (stable across processes and machines, unlike
Python's ``hash``), so the same file always splits the same way.
"""

from __future__ import annotations

import math
import os
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gis.crs import WGS84, SourceCRS, parse_crs
from gis.patrol.fixes import Fixes
from gis.patrol.fixes import OUT_OF_RANGE, UNREADABLE
from gis.patrol.tracks import (Columns, _missing_columns, coord_values, coords_flagged,
                               csv_batches, parse_time_array, time_array)
from gis.patrol.windows import DEFAULT_TZ, check_tz

PART_FIXES = 500_000  # fixes per partition file aimed at (~300 MB while joined)


def block_table(batch: pa.RecordBatch | pa.Table, cols: Columns, source: SourceCRS, tz: str,
                file: str | None, first_row: int, *, strict: bool = False) -> pa.Table:
    """One raw CSV batch as an Arrow table ``worker, t, lon, lat, row, flag[, accuracy,
    seq]``: times as int64 UTC ns (NaT for empty), coordinates in WGS 84 (NaN for empty),
    ``flag`` marking unreadable and out-of-range rows (see :mod:`gis.patrol.fixes`);
    with ``strict`` those are an error naming the row and field instead."""
    col = lambda name: batch.column(batch.schema.get_field_index(name))  # noqa: E731
    where = dict(strict=strict, file=file, first_row=first_row)
    if strict:
        t, bad_t = parse_time_array(col(cols.time), tz, file=file, first_row=first_row,
                                    field=cols.time), np.zeros(batch.num_rows, bool)
    else:
        t, bad_t = time_array(col(cols.time), tz)
    lon, bad_x = coord_values(col(cols.lon), field=cols.lon, **where)
    lat, bad_y = coord_values(col(cols.lat), field=cols.lat, **where)
    lon, lat, far = coords_flagged(lon, lat, cols, source, file, first_row, strict=strict)
    flag = np.where(far, OUT_OF_RANGE, 0).astype(np.int8)
    flag[bad_x | bad_y | (bad_t & ~far)] = UNREADABLE
    out = {"worker": pc.cast(col(cols.worker), pa.string()), "t": t, "lon": lon, "lat": lat,
           "row": np.arange(first_row, first_row + batch.num_rows, dtype=np.int64),
           "flag": flag}
    if cols.accuracy:
        out["accuracy"] = coord_values(col(cols.accuracy))[0]
    if cols.seq:
        out["seq"] = coord_values(col(cols.seq))[0]
    return pa.table(out)


def partition_of(worker: pa.Array, n: int) -> np.ndarray:
    """Partition number of each row: CRC-32 of the worker name modulo ``n`` (nulls: 0)."""
    enc = pc.dictionary_encode(worker)
    names = enc.dictionary.to_pylist()  # only the distinct names of the block
    h = np.array([zlib.crc32(s.encode("utf-8")) % n for s in names], dtype=np.int16)
    idx = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    return np.where(idx >= 0, h[np.maximum(idx, 0)] if len(h) else 0, 0).astype(np.int16)


class Spill:
    """Temporary partition files of one tracks file, grouped by worker hash.

    Examples
    --------
    >>> with Spill.from_csv("tracks.csv", folder=tmp) as spill:  # reads a file  # doctest: +SKIP
    ...     for fixes in spill.partitions():
    ...         ...
    """

    def __init__(self, folder: Path, n_parts: int):
        self.folder, self.n_parts = Path(folder), n_parts
        self.paths = [self.folder / f"part-{i:04d}.arrow" for i in range(n_parts)]
        self._writers: list[pa.ipc.RecordBatchFileWriter | None] = [None] * n_parts
        self.rows = 0

    def add(self, table: pa.Table) -> None:
        """Append a block's rows to their partitions (one stable sort by partition)."""
        part = partition_of(table["worker"].combine_chunks(), self.n_parts)
        order = np.argsort(part, kind="stable")
        counts = np.bincount(part, minlength=self.n_parts)
        table = table.take(order)
        start = 0
        for p in np.flatnonzero(counts):
            if self._writers[p] is None:
                self._writers[p] = pa.ipc.new_file(self.paths[p], table.schema)
            self._writers[p].write_table(table.slice(start, int(counts[p])))
            start += int(counts[p])
        self.rows += table.num_rows

    def close(self) -> None:
        for w in self._writers:
            if w is not None:
                w.close()
        self._writers = [None] * self.n_parts

    def partitions(self) -> Iterator[Fixes]:
        """Each partition as :class:`Fixes`, read back through a memory map; the file is
        deleted once read."""
        self.close()
        for path in self.paths:
            if path.exists():
                with pa.memory_map(str(path)) as src:
                    table = pa.ipc.open_file(src).read_all()
                fixes = Fixes.from_arrow(table)
                del table
                path.unlink()
                yield fixes

    def __enter__(self) -> "Spill":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
        for path in self.paths:
            path.unlink(missing_ok=True)

    @classmethod
    def from_csv(cls, path: str | Path, cols: Columns = Columns(), *, folder: str | Path,
                 crs=None, tz: str = DEFAULT_TZ, part_fixes: int = PART_FIXES,
                 block_mb: int = 16, advance=None, strict: bool = False) -> "Spill":
        """Stream a CSV of fixes into partition files in ``folder`` (see module docstring);
        the number of partitions is estimated from the file size and the first block."""
        path = Path(path)
        check_tz(tz)
        _missing_columns(path, cols)
        source = parse_crs(crs) or SourceCRS(WGS84)
        size = os.path.getsize(path)
        spill = None
        try:
            for first, batch in csv_batches(path, cols, block_mb=block_mb):
                if spill is None:
                    est = size * batch.num_rows / max(min(block_mb << 20, size), 1)
                    spill = cls(folder, max(1, math.ceil(est / part_fixes)))
                spill.add(block_table(batch, cols, source, tz, str(path), first, strict=strict))
                if advance:
                    advance(batch.num_rows)
        except BaseException:
            if spill is not None:
                spill.__exit__(None, None, None)
            raise
        return spill if spill is not None else cls(folder, 1)
