"""The patrol join on a Dask cluster: how a city beyond one machine runs it.

The same two steps as the single-machine spill (:mod:`gis.patrol.spill`), as Dask tasks:

1. each block of the CSV (``dask.bytes.read_bytes``, cut at line ends, read where it
   lies) is parsed by the same Arrow code and split into ``n`` tables by the CRC-32 of
   the worker name; rows are keyed by block number then position (file order);
2. for each of the ``n`` partitions, a task gathers its tables from every block (Dask
   moves them between machines) and runs the very same
   :func:`gis.patrol.engine.process_batch`.

Every worker's fixes meet in one task and are cleaned and summed exactly as on one
machine, so the results are identical to :func:`gis.patrol.engine.patrol_presence`.
A plain task graph of futures is used instead of a ``dask.dataframe`` shuffle: the
blocks stay Arrow tables from the parser to the join (no pandas conversions).

``scheduler`` is a ``tcp://host:port`` address of a running scheduler, or ``"local"``
(the default) for a :class:`distributed.LocalCluster` on this machine.
"""

from __future__ import annotations

import math
import operator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from gis.crs import WGS84, SourceCRS, parse_crs
from gis.patrol.engine import PatrolParams, PresenceResult, combine, process_batch
from gis.patrol.fixes import Fixes
from gis.patrol.gridindex import GridIndex
from gis.patrol.spill import PART_FIXES, block_table, partition_of
from gis.patrol.tracks import Columns, _missing_columns, _read_block, read_tracks

ROW_BITS = 40  # file-order key: block number in the high bits, row in the low bits
BYTES_PER_FIX = 50  # a CSV line of worker, time, lon, lat: to size the partitions


@contextmanager
def dask_client(scheduler: str | None = "local", *, n_workers: int = 2, processes: bool = True):
    """A :class:`distributed.Client` on ``scheduler``, or on a new LocalCluster of
    ``n_workers`` single-threaded processes (closed on exit); ``processes=False`` runs
    the workers as threads of this process (starts in a second instead of several)."""
    from distributed import Client, LocalCluster

    if scheduler and scheduler != "local":
        with Client(scheduler) as client:
            yield client
        return
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=processes,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def split_table(table: pa.Table, n: int) -> list[pa.Table]:
    """``table``'s rows in ``n`` tables by worker hash (see :func:`partition_of`)."""
    part = partition_of(table["worker"].combine_chunks(), n)
    order = np.argsort(part, kind="stable")
    ends = np.cumsum(np.bincount(part, minlength=n))
    table = table.take(order)
    return [table.slice(int(a), int(b - a)) for a, b in zip(np.r_[0, ends[:-1]], ends)]


def _parse_split(block: bytes, header: bytes, number: int, cols: Columns, crs: str | None,
                 tz: str, n: int) -> list[pa.Table]:
    """Step 1 for one CSV block (the first block carries the header itself)."""
    text = block if number == 0 else header + block
    raw = _read_block(text, cols, Path("tracks.csv"), 1)
    source = (parse_crs(crs) if crs else None) or SourceCRS(WGS84)
    table = block_table(raw, cols, source, tz, None, 1)
    rows = (np.int64(number) << ROW_BITS) + np.arange(1, table.num_rows + 1, dtype=np.int64)
    table = table.set_column(table.column_names.index("row"), "row", pa.array(rows))
    return split_table(table, n)


def _join_part(tables: list[pa.Table], index: GridIndex, params: PatrolParams) -> PresenceResult:
    """Step 2: one partition's tables from every block, cleaned and joined."""
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return combine([])
    return process_batch(Fixes.from_arrow(pa.concat_tables(tables)), index, params)


def _frame_table(fixes: pd.DataFrame) -> pa.Table:
    f = Fixes.from_frame(fixes)
    cols = {"worker": pa.array(np.where(f.code >= 0, f.names[np.maximum(f.code, 0)]
                                        if len(f.names) else None, None), pa.string()),
            "t": f.t, "lon": f.lon, "lat": f.lat, "row": f.row}
    for name in ("accuracy", "flag", "seq"):
        if getattr(f, name) is not None:
            cols[name] = getattr(f, name)
    return pa.table(cols)


def _blocks(client, path: Path, cols: Columns, crs, tz: str, blocksize: str, n: int):
    """Futures of step 1 for every block of a CSV."""
    from dask.bytes import read_bytes

    _missing_columns(path, cols)
    sample, blocks = read_bytes(str(path), delimiter=b"\n", blocksize=blocksize, sample="64 kiB")
    header = sample.split(b"\n", 1)[0] + b"\n"
    crs_text = None if crs is None else str(crs)
    return [client.submit(_parse_split, b, header, i, cols, crs_text, tz, n, pure=False)
            for i, b in enumerate(client.compute(blocks[0]))]


def patrol_presence_dask(tracks: str | Path | pd.DataFrame, index: GridIndex,
                         params: PatrolParams = PatrolParams(), *, cols: Columns = Columns(),
                         crs=None, scheduler: str | None = "local", n_workers: int = 2,
                         blocksize: str = "64MB", processes: bool = True,
                         part_fixes: int = PART_FIXES) -> PresenceResult:
    """Same result as :func:`gis.patrol.engine.patrol_presence`, computed on Dask.

    Parameters
    ----------
    tracks : a tracks file (CSV read in blocks by the cluster, others read here first)
        or a fixes table already in memory.
    index : the grids (broadcast once to every Dask worker).
    scheduler : scheduler address, or ``"local"`` for a LocalCluster of ``n_workers``.
    part_fixes : fixes per partition aimed at (memory of one join task).

    Examples
    --------
    >>> res = patrol_presence_dask("tracks.csv",  # Dask, a file  # doctest: +SKIP
    ...                            GridIndex(grids, "code"))
    """
    csv = not isinstance(tracks, pd.DataFrame) and Path(tracks).suffix.lower() in (".csv", ".txt")
    if not csv and not isinstance(tracks, pd.DataFrame):
        tracks = read_tracks(Path(tracks), cols, crs=crs, tz=params.tz)
    size = Path(tracks).stat().st_size / BYTES_PER_FIX if csv else len(tracks)
    n = max(n_workers, math.ceil(size / part_fixes))
    _ = index.disjoint  # computed here once, shipped with the index
    with dask_client(scheduler, n_workers=n_workers, processes=processes) as client:
        if csv:
            splits = _blocks(client, Path(tracks), cols, crs, params.tz, blocksize, n)
        else:
            splits = [client.scatter(split_table(_frame_table(tracks), n), hash=False)]
        shared = client.scatter(index, broadcast=True)
        parts = [client.submit(_join_part, [client.submit(operator.getitem, s, p) for s in splits],
                               shared, params, pure=False) for p in range(n)]
        results = client.gather(parts)
    return combine(list(results))
