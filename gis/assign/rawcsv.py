"""CSV in, CSV out, the input rows copied byte for byte with the three results appended.

Parsing every column of a CSV only to write it back costs most of a run: on a million
rows of six columns, pyarrow's threaded parse of all columns takes 0.6 s of CPU and its
writer 0.2 s, against 0.1 s to parse just the coordinate columns. So, when a CSV is
assigned to a CSV, rows are found in the raw bytes and copied as they are:

* a row ends at a line feed outside quotes: with the quote characters' positions, a line
  feed is a row end when an even number of quotes precedes it (RFC 4180; ``""`` inside a
  quoted value counts twice). pyarrow, like most readers, only opens a quoted value at
  the start of a field: a quote elsewhere (``12" pipe``) is text. A chunk holding such a
  quote is *irregular* and the rest of the file goes through the general reader
  (:func:`gis.assign.csvread.batches`), whose rows are written by pyarrow's writer;
* pyarrow parses only the coordinate (and ``--check``) columns of the chunk; its row
  count must equal the rows found (empty lines, skipped by both, aside), else the rest
  of the file again takes the general reader;
* each output row is ``<input row>,<grid>,<true|false>,<candidates>`` with the input's
  own line ending; a chunk starts with the line ending of the row before it, so rows
  are joined to their suffixes in one ``binary_join_element_wise`` call.

Values therefore come back exactly as written (quoting, number formats, ``"007"``), which
the general path only guarantees for values, not bytes.
"""

from __future__ import annotations

import csv
import io
import mmap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from gis.assign.csvread import batches
from gis.assign.index import GridIndex
from gis.assign.locate import Located
from gis.errors import InputError

_LF, _CR, _QUOTE = 10, 13, 34
_MIN_BLOCK, _MAX_BLOCK = 1 << 16, 1 << 26
_EMPTY = pa.scalar(b"", pa.binary())


@dataclass
class RawChunk:
    """Rows of the input as bytes, and their parsed columns.

    ``data`` starts with the line ending of the row before (or of the header) and ends
    with the last row's content; row ``i`` (with the line ending before it) is
    ``data[offsets[i]:offsets[i + 1]]``. ``kept`` marks non-empty rows (None: all), the
    rows of ``columns``.
    """

    data: pa.Buffer
    offsets: np.ndarray
    kept: np.ndarray | None
    columns: pa.Table
    release: Callable[[], None] = lambda: None  # once written: its pages may go

    @property
    def num_rows(self) -> int:
        return self.columns.num_rows


class _Irregular(Exception):
    """The bytes cannot be split into rows as pyarrow reads them (see the module notes)."""


def raw_chunks(path: Path, names: list[str], wanted: list[str], chunk_size: int,
               on_progress: Callable[[int, int], None] | None = None,
               delimiter: str = ",") -> Iterator[RawChunk | pa.Table]:
    """:class:`RawChunk` s of at most ``chunk_size`` rows; after an irregular chunk, tables of
    every column as text from :func:`~gis.assign.csvread.batches` for the rest of the file.

    ``wanted`` names the columns parsed (as text) into each chunk's ``columns``. The file
    is memory-mapped: rows are never copied before the output, and a written chunk's
    pages are dropped from memory (:meth:`RawChunk.release`).
    """
    with open(path, "rb") as fh:
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    size, delim = len(mm), ord(delimiter)
    done = 0  # file offset up to which rows were handed out (a row boundary)
    rows = 0  # rows handed out (error messages count from 1 after the header)
    try:
        done = _header_end(mm, delim)
        block = first_block = _block_size(mm, done, chunk_size)
        while done < size:
            base, end = done, min(done + block, size)
            if on_progress:
                on_progress(end, size)
            view = np.frombuffer(mm, dtype=np.uint8, count=end - base, offset=base)
            ends = _row_ends(view, mm.find(b'"', base, end) >= 0, delim, end == size)
            del view  # no view may outlive the map's use
            if not len(ends):
                if end == size:
                    break
                if block > 64 * first_block:
                    raise _Irregular  # no line feed in sight: CR-only line endings?
                block *= 2  # a row longer than a block
                continue
            for lo, hi in _groups(len(ends), chunk_size):
                chunk = _chunk(mm, base, ends, lo, hi, names, wanted, delimiter,
                               (str(path), rows))
                if chunk is not None:
                    rows += chunk.num_rows
                    yield chunk
                done = base + int(ends[hi - 1])
    except _Irregular:
        yield from batches(path, names, delimiter, chunk_size, on_progress, start=done)


def tail(path: Path) -> bytes:
    """The line ending that closes the output: the input's last one, else a line feed."""
    with open(path, "rb") as fh:
        fh.seek(max(path.stat().st_size - 2, 0))
        last = fh.read()
    return b"\r\n" if last.endswith(b"\r\n") else b"\n"


def _header_end(mm: mmap.mmap, delim: int) -> int:
    """Offset of the end of the header's content (its line ending follows)."""
    end = min(len(mm), _MIN_BLOCK)
    while True:
        view = np.frombuffer(mm, dtype=np.uint8, count=end)
        ends = _row_ends(view, mm.find(b'"', 0, end) >= 0, delim, end == len(mm), first=True)
        if len(ends) or end == len(mm):
            return int(ends[0]) if len(ends) else end
        end = min(len(mm), 2 * end)


def _block_size(mm: mmap.mmap, start: int, chunk_size: int) -> int:
    """Bytes holding about ``chunk_size`` rows, from the rows of a sample."""
    sample = mm[start: start + _MIN_BLOCK]
    per_row = max(len(sample), 1) / max(sample.count(b"\n"), 1)
    return int(min(max(chunk_size * per_row, _MIN_BLOCK), _MAX_BLOCK))


def _groups(n: int, size: int):
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)]


def _row_ends(a: np.ndarray, quotes: bool, delim: int, eof: bool,
              first: bool = False) -> np.ndarray:
    """Content ends (a CR before the LF excluded) of the complete rows in the bytes ``a``.

    ``a`` starts at a row boundary (a line ending, or the file's start when ``first``);
    ``quotes``: whether it holds any; at ``eof`` an unterminated last row counts.
    """
    lf = np.flatnonzero(a == _LF)
    if quotes:
        q = np.flatnonzero(a == _QUOTE)
        _check_quotes(a, q, delim)
        lf = lf[(np.searchsorted(q, lf) & 1) == 0]
    skip = 0 if first else (2 if len(a) > 1 and a[0] == _CR and a[1] == _LF else 1)
    unterminated = eof and len(a) > skip and a[-1] != _LF
    lf = lf[lf >= skip]  # the leading line ending ends the row before
    ends = lf - (a[np.maximum(lf - 1, 0)] == _CR) * (lf > 0)
    if unterminated:
        ends = np.r_[ends, len(a) - (a[-1] == _CR)]
    return ends.astype(np.int64)


def _check_quotes(a: np.ndarray, q: np.ndarray, delim: int) -> None:
    """Raise :class:`_Irregular` unless every quote opens a field, closes one, or is
    doubled inside one (the only quotes whose parity tells rows apart)."""
    n = len(a)
    opening, closing = q[0::2], q[1::2]
    before = a[np.maximum(opening - 1, 0)]
    doubled = np.zeros(len(opening), dtype=bool)
    doubled[1:] = closing[: len(opening) - 1] == opening[1:] - 1
    ok = (opening == 0) | (before == delim) | (before == _LF) | (before == _CR) | doubled
    after = a[np.minimum(closing + 1, n - 1)]
    reopened = np.zeros(len(closing), dtype=bool)
    nxt = opening[1: len(closing) + 1]
    reopened[: len(nxt)] = nxt == closing[: len(nxt)] + 1
    ok_close = ((closing == n - 1) | (after == delim) | (after == _LF) | (after == _CR)
                | reopened)
    if not (ok.all() and ok_close.all()):
        raise _Irregular


def _chunk(mm: mmap.mmap, base: int, ends: np.ndarray, lo: int, hi: int, names, wanted,
           delimiter: str, where: tuple[str, int]) -> RawChunk | None:
    """Rows ``lo:hi`` of those ending at ``ends`` (offsets from ``base``)."""
    start, stop = base + (int(ends[lo - 1]) if lo else 0), base + int(ends[hi - 1])
    offsets = np.r_[start, base + ends[lo:hi]] - start
    a = np.frombuffer(mm, dtype=np.uint8, count=stop - start, offset=start)
    # Row i's content starts after the LF that ends row i - 1: empty when nothing follows.
    lf_before = offsets[:-1] + (a[offsets[:-1]] == _CR)
    empty = offsets[1:] == lf_before + 1
    del a
    data = pa.py_buffer(memoryview(mm)[start:stop])
    columns = _parse(data, names, wanted, delimiter, where)
    kept = ~empty if empty.any() else None
    if columns.num_rows != len(offsets) - 1 - int(empty.sum()):
        raise _Irregular
    if columns.num_rows == 0:
        return None
    return RawChunk(data, offsets.astype(np.int32), kept, columns,
                    lambda: _drop(mm, start, stop))


def _drop(mm: mmap.mmap, start: int, stop: int) -> None:
    """Drop written pages from this process' memory (read back from the file if touched)."""
    if hasattr(mm, "madvise") and not mm.closed:
        first = start - start % mmap.PAGESIZE
        mm.madvise(mmap.MADV_DONTNEED, first, stop - first)


def _parse(data: pa.Buffer, names, wanted, delimiter: str, where) -> pa.Table:
    try:
        return pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False,
                                           block_size=1 << 20),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                include_columns=wanted, column_types={n: pa.string() for n in wanted},
                strings_can_be_null=True, null_values=[""], check_utf8=False))
    except pa.ArrowInvalid as exc:
        file, before = where
        raise InputError(f"cannot parse CSV: {exc}", file=file,
                         row=_bad_row(data, len(names), delimiter, before)) from exc


def _bad_row(data: pa.Buffer, width: int, delimiter: str, before: int) -> int | None:
    """The file row (from 1 after the header) of the first row that does not have
    ``width`` fields, when one does (only run on a chunk that failed to parse)."""
    text = io.StringIO(data.to_pybytes().decode("utf8", errors="replace"), newline="")
    fields = (r for r in csv.reader(text, delimiter=delimiter) if r)
    return next((before + i + 1 for i, r in enumerate(fields) if len(r) != width), None)


# --- output ------------------------------------------------------------------------------

def csv_field(text: str) -> str:
    """``text`` as one CSV field (quoted when it holds a comma, quote or line break)."""
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def with_results(chunk: RawChunk, found: Located, index: GridIndex) -> pa.Buffer:
    """The chunk's bytes with ``,grid,boundary,candidates`` after each (non-empty) row."""
    rows = pa.Array.from_buffers(pa.binary(), len(chunk.offsets) - 1,
                                 [None, pa.py_buffer(chunk.offsets), chunk.data])
    if chunk.kept is not None:
        rows = rows.filter(pa.array(chunk.kept))
    out = pc.binary_join_element_wise(rows, _suffixes(found, index), _EMPTY)
    values = out.buffers()[2]
    return values if values is not None else pa.py_buffer(b"")


def _suffixes(found: Located, index: GridIndex) -> pa.Array:
    """Per row ``,grid,false,grid`` from a table made once per index, or for the flagged
    rows ``,grid,true,candidates``."""
    plain, labels, quoted = _suffix_table(index)
    n = len(index.labels)
    code = np.where(found.grid >= 0, found.grid, n)
    flagged = np.flatnonzero(found.boundary)
    table = plain
    if len(flagged):
        lists = found.dictionary[n:]  # labels joined by ";": quoted only if a label is
        extra = (pa.array([csv_field(t).encode("utf8") for t in lists], pa.binary())
                 if quoted else pa.array(lists, pa.string()).view(pa.binary()))
        cands = pa.concat_arrays([labels.slice(0, n), extra])
        built = pc.binary_join_element_wise(
            _EMPTY, pc.take(labels, code[flagged]), pa.scalar(b"true"),
            pc.take(cands, found.candidates[flagged]), pa.scalar(b","))
        table = pa.concat_arrays([plain, built])
        code[flagged] = n + 1 + np.arange(len(flagged))
    return pc.take(table, code)


def _suffix_table(index: GridIndex) -> tuple[pa.Array, pa.Array, bool]:
    """Cached on the index: each grid's unflagged suffix (and one for no grid), the grid
    labels as CSV fields (with an empty one for no grid), and whether any is quoted."""
    cached = index.__dict__.get("_csv_suffixes")
    if cached is None:
        texts = [str(v) for v in index.labels]
        fields = [csv_field(t).encode("utf8") for t in texts]
        plain = [b"," + f + b",false," + f for f in fields] + [b",,false,"]
        cached = (pa.array(plain, pa.binary()), pa.array(fields + [b""], pa.binary()),
                  any(f != t.encode("utf8") for f, t in zip(fields, texts)))
        index.__dict__["_csv_suffixes"] = cached
    return cached
