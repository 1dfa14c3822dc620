"""PostgreSQL's binary ``COPY`` format, built column by column with numpy.

A bulk load spends less on both sides in binary: nothing is printed as text in Python and
nothing parsed back on the server (times, floats, hex EWKB were most of an import's COPY).
Each column becomes a :class:`Column` (the byte length of every row's value, -1 for NULL,
and where its bytes are); :func:`encode` interleaves them into rows in a few numpy
scatters, never a Python loop over rows.

Format (PostgreSQL docs, "COPY ... Binary Format"): a 19-byte header, then per row an
int16 field count and per field an int32 byte length (-1: NULL) and the value in the
type's binary send format (network byte order); an int16 -1 ends the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
PG_EPOCH_NS = 946_684_800 * 10**9  # 2000-01-01 UTC, the origin of timestamptz
TEXT_OID = 25


@dataclass
class Column:
    """One column of ``n`` rows: ``lengths`` (-1: NULL); non-NULL row ``i`` has its value at
    ``data[starts[i]:starts[i] + lengths[i]]``."""

    lengths: np.ndarray
    data: np.ndarray
    starts: np.ndarray


def encode(columns: list[Column]) -> bytes:
    """The rows of ``columns`` (all of one length) as a complete binary COPY stream."""
    n = len(columns[0].lengths)
    sizes = np.full(n, 2, dtype=np.int64)
    for col in columns:
        sizes += 4 + np.maximum(col.lengths, 0)
    starts = len(HEADER) + np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    out = np.empty(len(HEADER) + int(sizes.sum()) + len(TRAILER), dtype=np.uint8)
    out[:len(HEADER)] = np.frombuffer(HEADER, np.uint8)
    out[len(out) - len(TRAILER):] = np.frombuffer(TRAILER, np.uint8)
    _put(out, starts, np.full(n, len(columns)), ">i2")
    pos = starts + 2
    for col in columns:
        _put(out, pos, col.lengths, ">i4")
        _scatter(out, pos + 4, col)
        pos += 4 + np.maximum(col.lengths, 0)
    return out.tobytes()


def _put(out: np.ndarray, pos: np.ndarray, values: np.ndarray, dtype: str) -> None:
    raw = np.asarray(values).astype(dtype).view(np.uint8).reshape(len(pos), -1)
    out[pos[:, None] + np.arange(raw.shape[1])] = raw


def _scatter(out: np.ndarray, dest: np.ndarray, col: Column) -> None:
    keep = col.lengths > 0
    lengths, dest, src = col.lengths[keep], dest[keep], col.starts[keep]
    if not len(lengths):
        return
    width = int(lengths[0])
    if (lengths == width).all():  # fixed width: one 2-D gather
        ramp = np.arange(width)
        out[dest[:, None] + ramp] = col.data[src[:, None] + ramp]
        return
    ramp = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    out[np.repeat(dest, lengths) + ramp] = col.data[np.repeat(src, lengths) + ramp]


def fixed(values: np.ndarray, dtype: str, null: np.ndarray | None = None) -> Column:
    """Fixed-width numbers (``">f8"``, ``"?"``...) in network byte order."""
    raw = np.ascontiguousarray(np.asarray(values).astype(dtype)).view(np.uint8)
    width = np.dtype(dtype).itemsize
    n = len(values)
    lengths = np.full(n, width, dtype=np.int64)
    if null is not None:
        lengths[np.asarray(null, dtype=bool)] = -1
    return Column(lengths, raw, np.arange(n, dtype=np.int64) * width)


def constant(value: bytes | None, n: int) -> Column:
    """The same value (or NULL) in every row."""
    if value is None:
        return Column(np.full(n, -1, dtype=np.int64), np.empty(0, np.uint8),
                      np.zeros(n, dtype=np.int64))
    return Column(np.full(n, len(value), dtype=np.int64), np.frombuffer(value, np.uint8),
                  np.zeros(n, dtype=np.int64))


def text(values) -> Column:
    """UTF-8 text from a pandas Series, an array of str/None or an Arrow string array."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        arr = values
    elif isinstance(values, pd.Series) and values.dtype != object:
        arr = pa.array(values, from_pandas=True)  # Arrow-backed strings: no copy
    else:
        arr = pa.array(values, pa.string(), from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.large_string())
    n = len(arr)
    _, offsets, data = arr.buffers()
    offsets = np.frombuffer(offsets, np.int64)[arr.offset:arr.offset + n + 1]
    lengths = np.diff(offsets)
    if arr.null_count:
        lengths[arr.is_null().to_numpy(zero_copy_only=False)] = -1
    data = np.frombuffer(data, np.uint8) if data is not None else np.empty(0, np.uint8)
    return Column(lengths.astype(np.int64), data, offsets[:-1].astype(np.int64))


def timestamptz(values: pd.Series) -> Column:
    """Times (tz-aware, NaT = NULL) as microseconds since 2000-01-01 UTC, rounded from
    nanoseconds half to even as the server rounds the text it parses."""
    when = pd.to_datetime(values, utc=True).dt.as_unit("ns")
    null = when.isna().to_numpy()
    ns = when.array.asi8.copy()
    ns[null] = PG_EPOCH_NS
    us, rest = np.divmod(ns - PG_EPOCH_NS, 1000)
    us += (rest > 500) | ((rest == 500) & (us % 2 == 1))
    return fixed(us, ">i8", null)


def points(x: np.ndarray, y: np.ndarray, srid: int = 4326) -> Column:
    """Points as EWKB with their SRID (PostGIS' binary input takes EWKB)."""
    rec = np.empty(len(x), dtype=np.dtype([("order", "u1"), ("type", "<u4"), ("srid", "<u4"),
                                            ("x", "<f8"), ("y", "<f8")], align=False))
    rec["order"], rec["type"], rec["srid"] = 1, 0x20000001, srid  # little endian, has SRID
    rec["x"], rec["y"] = x, y
    n = len(x)
    return Column(np.full(n, 25, dtype=np.int64), rec.view(np.uint8),
                  np.arange(n, dtype=np.int64) * 25)


def text_arrays(lists: list[list[str] | None], picks: np.ndarray) -> Column:
    """``text[]`` values: row ``i`` holds ``lists[picks[i]]`` (NULL where ``picks`` < 0 or
    the list is None). Each distinct list is encoded once."""
    encoded = [_text_array(v) for v in lists]
    sizes = np.array([-1 if e is None else len(e) for e in encoded] or [0], dtype=np.int64)
    data = np.frombuffer(b"".join(e for e in encoded if e is not None), np.uint8)
    offsets = np.concatenate([[0], np.cumsum(np.maximum(sizes, 0))[:-1]]).astype(np.int64)
    picks = np.asarray(picks, dtype=np.int64)
    hit = picks >= 0
    lengths = np.full(len(picks), -1, dtype=np.int64)
    lengths[hit] = sizes[picks[hit]]
    starts = np.zeros(len(picks), dtype=np.int64)
    starts[hit] = offsets[picks[hit]]
    return Column(lengths, data, starts)


def _text_array(values: list[str] | None) -> bytes | None:
    if values is None:
        return None
    parts = [np.array([1, 0, TEXT_OID, len(values), 1], ">i4").tobytes()]
    for v in values:
        raw = v.encode()
        parts.append(np.array([len(raw)], ">i4").tobytes() + raw)
    return b"".join(parts)
