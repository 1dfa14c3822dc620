"""Fixes as plain column arrays: what the cleaning and the join work on at scale.

A fixes table (:mod:`gis.patrol.tracks`) is convenient but its string and datetime
columns cost pandas overhead at ten million rows; :class:`Fixes` holds the same data as
numpy arrays, with workers as integer codes that follow the order of their names (so
sorting by code sorts by name, and every partitioning of the work gives the same codes
order). Missing values: code ``-1``, time :data:`NAT`, coordinates NaN.

``flag`` says why a reader could not use a row it kept (so that cleaning counts it
instead of the reader aborting the run): :data:`OK`, :data:`OUT_OF_RANGE` (a coordinate
outside lon/lat range, e.g. a latitude of 400 or swapped columns) or :data:`UNREADABLE`
(a time or coordinate that is not a time or a number). ``seq`` is the device's own
sequence number when the file has one (NaN when a row lacks it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

NAT = np.iinfo(np.int64).min  # pandas' NaT as int64 nanoseconds
OK, OUT_OF_RANGE, UNREADABLE = 0, 1, 2  # values of ``Fixes.flag``


@dataclass
class Fixes:
    """Column arrays of a fixes table (see module docstring)."""

    names: np.ndarray           # worker names (object), sorted, unique
    code: np.ndarray            # int32 position in ``names``; -1 = missing worker
    t: np.ndarray               # int64 UTC ns; NAT = missing
    lon: np.ndarray             # float64 WGS 84
    lat: np.ndarray
    row: np.ndarray             # int64, file order
    accuracy: np.ndarray | None = None
    flag: np.ndarray | None = None     # int8, see module docstring
    seq: np.ndarray | None = None      # float64 device sequence number

    def __len__(self) -> int:
        return len(self.t)

    def take(self, idx: np.ndarray) -> "Fixes":
        pick = lambda a: None if a is None else a[idx]  # noqa: E731
        return Fixes(self.names, self.code[idx], self.t[idx], self.lon[idx], self.lat[idx],
                     self.row[idx], pick(self.accuracy), pick(self.flag), pick(self.seq))

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> "Fixes":
        """From a fixes table (columns worker, time, lon, lat, row[, accuracy, flag, seq]),
        or the same with the times as int64 UTC ns in a column ``t`` instead of ``time``."""
        worker = pa.array(df["worker"].astype(object), type=pa.string(), from_pandas=True)
        t = df["t"].to_numpy(np.int64) if "t" in df else \
            np.asarray(pd.DatetimeIndex(df["time"]).as_unit("ns").asi8)
        opt = lambda name: _floats(df[name]) if name in df else None  # noqa: E731
        return cls.from_columns(worker, t, _floats(df["lon"]), _floats(df["lat"]),
                                df["row"].to_numpy(np.int64), opt("accuracy"),
                                df["flag"].to_numpy(np.int8) if "flag" in df else None,
                                opt("seq"))

    @classmethod
    def from_columns(cls, worker: pa.Array | pa.ChunkedArray, t, lon, lat, row,
                     accuracy=None, flag=None, seq=None) -> "Fixes":
        """From an Arrow string (or dictionary) array of workers and numpy columns."""
        names, code = worker_codes(worker)
        return cls(names, code, np.asarray(t, np.int64), np.asarray(lon, float),
                   np.asarray(lat, float), np.asarray(row, np.int64),
                   None if accuracy is None else np.asarray(accuracy, float),
                   None if flag is None else np.asarray(flag, np.int8),
                   None if seq is None else np.asarray(seq, float))

    @classmethod
    def from_arrow(cls, table: pa.Table) -> "Fixes":
        """From an Arrow table with columns worker, t (int64 ns), lon, lat, row[, accuracy,
        flag, seq]."""
        col = lambda name: table[name].to_numpy()  # noqa: E731
        opt = lambda name: col(name) if name in table.column_names else None  # noqa: E731
        return cls.from_columns(table["worker"], col("t"), col("lon"), col("lat"), col("row"),
                                opt("accuracy"), opt("flag"), opt("seq"))


def _floats(s: pd.Series) -> np.ndarray:
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def worker_codes(worker: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted unique names, int32 code per row, -1 for null) without converting every
    row to a Python string: Arrow dictionary-encodes, only the distinct names are sorted."""
    if isinstance(worker, pa.ChunkedArray):
        worker = worker.combine_chunks() if worker.num_chunks else pa.array([], pa.string())
    enc = worker if pa.types.is_dictionary(worker.type) else pc.dictionary_encode(worker)
    if pa.types.is_dictionary(enc.type) and enc.dictionary.null_count:
        enc = pc.dictionary_encode(enc.cast(pa.string()))
    names = np.asarray(enc.dictionary.to_pylist(), dtype=object)
    order = np.argsort(names, kind="stable") if len(names) else np.array([], np.int64)
    rank = np.empty(len(names), np.int32)
    rank[order] = np.arange(len(names), dtype=np.int32)
    idx = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    code = np.where(idx >= 0, rank[np.maximum(idx, 0)] if len(rank) else -1, -1).astype(np.int32)
    # a dictionary may hold names no row uses (a filtered Arrow slice): drop them
    used = np.unique(code[code >= 0])
    if len(used) < len(names):
        remap = np.full(len(names), -1, np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        code = np.where(code >= 0, remap[np.maximum(code, 0)], -1).astype(np.int32)
        return names[order][used], code
    return names[order], code
