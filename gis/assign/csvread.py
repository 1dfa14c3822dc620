"""Streaming a large CSV of points in bounded memory, every column kept as written.

Every column is read as text, so that values are written back exactly as they were
("007" stays "007", odd types stay odd; an empty field is a null, written back empty);
only the two coordinate columns are parsed as numbers, and anything that is not a
number leaves its row unassigned, never dropped.

pyarrow's streaming CSV reader parses blocks on several threads but reads the input as
far ahead as it can: a 265 MB file was in memory before the first rows were assigned.
:class:`_Throttled` hands it the file through a window of a few blocks past what the
consumer has taken, so memory stays bounded by the chunk size whatever the file size.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from gis.errors import InputError

BLOCK = 1 << 20   # bytes per parsed block (pyarrow holds ~20x a block in flight)
WINDOW = 3        # blocks the reader may read past those already handed out
_STALL_S = 1.0    # a reader waiting this long while the consumer waits gets one more block
_NUMBER = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"


def header(path: Path, delimiter: str, encoding: str = "utf8") -> list[str]:
    """Column names of a CSV file (a UTF-8 byte-order mark dropped)."""
    with open(path, encoding=encoding, errors="replace", newline="") as fh:
        first = next(csv.reader(fh, delimiter=delimiter), None)
    if not first:
        raise InputError("the file is empty", file=str(path))
    return [c.lstrip("\ufeff") if i == 0 else c for i, c in enumerate(first)]


def find_column(columns: list[str], wanted: str | None, names, file: str, what: str) -> str:
    """``wanted`` if given (and present), else the first column with a usual name."""
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


class _Throttled(io.RawIOBase):
    """A file that lets its reader get at most ``WINDOW`` blocks past what was granted."""

    def __init__(self, path: Path, block: int, start: int = 0):
        self._fh = open(path, "rb", buffering=0)
        self._fh.seek(start)
        self._block = block
        self._allowed = start + WINDOW * block
        self.pos = start
        self.waiting = False  # the consumer is waiting for rows
        self._cond = threading.Condition()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        with self._cond:
            while self.pos >= self._allowed:
                # Never deadlock: should the parser need more than the window to finish a
                # batch (a huge quoted value), it gets more while the consumer waits.
                if not self._cond.wait(_STALL_S) and self.waiting:
                    self._allowed += self._block
        n = self._fh.readinto(buffer)
        self.pos += n
        return n

    def grant(self, nbytes: float) -> None:
        with self._cond:
            self._allowed += nbytes
            self._cond.notify_all()

    def close(self) -> None:
        self.grant(float("inf"))  # release a read-ahead thread blocked in readinto
        self._fh.close()
        super().close()


def batches(path: Path, names: list[str], delimiter: str, chunk_size: int,
            on_progress: Callable[[int, int], None] | None = None, *,
            encoding: str = "utf8", block: int = BLOCK, start: int = 0) -> Iterator[pa.Table]:
    """Tables of about ``chunk_size`` rows (at least one table), every column as text.

    ``start``: a file offset at a row boundary to read from (0: the start, past the header).
    """
    total = path.stat().st_size
    source = _Throttled(path, block, start)
    try:
        reader = pacsv.open_csv(
            source,
            read_options=pacsv.ReadOptions(block_size=block, encoding=encoding,
                                           use_threads=True, column_names=names,
                                           skip_rows=0 if start else 1),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            # Empty fields as nulls: written back empty, and numbers parse without a pass
            # to blank them out (parsing and casting both twice as fast).
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=True,
                null_values=[""], check_utf8=False))
        pending, rows, yielded = [], 0, False
        while (batch := _next(reader, source)) is not None:
            source.grant(block)  # about one block of input per batch
            pending.append(batch)
            rows += batch.num_rows
            if on_progress:
                on_progress(min(source.pos, total), total)
            if rows >= chunk_size:
                yield pa.Table.from_batches(pending)
                pending, rows, yielded = [], 0, True
        if pending or not yielded:
            yield pa.Table.from_batches(pending, schema=reader.schema)
    except pa.ArrowInvalid as exc:
        raise InputError(f"cannot parse CSV: {exc}", file=str(path)) from exc
    finally:
        source.close()


def _next(reader, source: _Throttled):
    source.waiting = True
    try:
        return reader.read_next_batch()
    except StopIteration:
        return None
    finally:
        source.waiting = False


def numbers(column: pa.ChunkedArray) -> np.ndarray:
    """Text to float; anything that is not a number becomes NaN (the row stays, unassigned)."""
    try:
        parsed = pc.cast(column, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # junk or spaces: slower path
        good = pc.fill_null(pc.match_substring_regex(column, _NUMBER), False)
        kept = pc.if_else(good, pc.utf8_trim_whitespace(column), pa.scalar(None, pa.string()))
        parsed = pc.cast(kept, pa.float64())
    return parsed.to_numpy() if parsed.num_chunks else np.empty(0)
