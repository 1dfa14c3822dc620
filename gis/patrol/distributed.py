"""The patrol join on a Dask cluster: how a city beyond one machine runs it.

The tracks are read in parallel (``dask.dataframe.read_csv`` blocks for CSV), each
fix tagged with a file-order key, shuffled so that every worker's fixes land in one
partition, and each partition goes through the very same
:func:`gis.patrol.engine.process_batch` as the single-machine path. Results are
therefore identical to :func:`gis.patrol.engine.patrol_presence`.

``scheduler`` is a ``tcp://host:port`` address of a running scheduler, or ``"local"``
(the default) for a :class:`distributed.LocalCluster` on this machine.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

import pyarrow as pa

from gis.crs import WGS84, SourceCRS, parse_crs
from gis.patrol.engine import PatrolParams, PresenceResult, combine, process_batch
from gis.patrol.gridindex import GridIndex
from gis.patrol.spill import block_table
from gis.patrol.tracks import Columns, _missing_columns, read_tracks

ROW_BITS = 40  # file-order key: partition number in the high bits, row in the low bits


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


def _csv_partition(df: pd.DataFrame, cols: Columns, crs: str | None, tz: str,
                   partition_info=None) -> pd.DataFrame:
    """One CSV block parsed by the same Arrow code as the single-machine spill (times as
    int64 UTC ns in ``t``), rows keyed by partition number then position."""
    number = (partition_info or {}).get("number", 0)
    source = (parse_crs(crs) if crs else None) or SourceCRS(WGS84)
    batch = pa.Table.from_pandas(df, preserve_index=False)
    out = block_table(batch, cols, source, tz, None, 1).to_pandas()
    out["row"] = (np.int64(number) << ROW_BITS) + np.arange(1, len(out) + 1, dtype=np.int64)
    return out


def _meta(cols: Columns) -> pd.DataFrame:
    meta = {"worker": pd.Series([], dtype="str"), "t": pd.Series([], dtype=np.int64),
            "lon": pd.Series([], dtype=float), "lat": pd.Series([], dtype=float),
            "row": pd.Series([], dtype=np.int64)}
    if cols.accuracy:
        meta["accuracy"] = pd.Series([], dtype=float)
    return pd.DataFrame(meta)


def _read(path: Path, cols: Columns, crs, tz: str, blocksize: str):
    import dask.dataframe as dd

    if path.suffix.lower() not in (".csv", ".txt"):
        fixes = read_tracks(path, cols, crs=crs, tz=tz)
        return dd.from_pandas(fixes, npartitions=max(1, len(fixes) // 1_000_000 + 1))
    _missing_columns(path, cols)
    wanted = [c for c in (cols.worker, cols.time, cols.lon, cols.lat, cols.accuracy) if c]
    types = {cols.worker: "string", cols.time: "string", cols.lon: "float64",
             cols.lat: "float64"}
    raw = dd.read_csv(str(path), blocksize=blocksize, usecols=wanted, dtype=types)
    return raw.map_partitions(_csv_partition, cols, None if crs is None else str(crs), tz,
                              meta=_meta(cols))


def patrol_presence_dask(tracks: str | Path | pd.DataFrame, index: GridIndex,
                         params: PatrolParams = PatrolParams(), *, cols: Columns = Columns(),
                         crs=None, scheduler: str | None = "local", n_workers: int = 2,
                         blocksize: str = "64MB", processes: bool = True) -> PresenceResult:
    """Same result as :func:`gis.patrol.engine.patrol_presence`, computed on Dask.

    Parameters
    ----------
    tracks : a tracks file (CSV read by the cluster, others read here first) or a
        fixes table already in memory.
    index : the grids (broadcast once to every Dask worker).
    scheduler : scheduler address, or ``"local"`` for a LocalCluster of ``n_workers``.

    Examples
    --------
    >>> res = patrol_presence_dask("tracks.csv", GridIndex(grids, "code"))  # doctest: +SKIP
    """
    import dask.dataframe as dd

    if isinstance(tracks, pd.DataFrame):
        ddf = dd.from_pandas(tracks, npartitions=max(2, len(tracks) // 1_000_000 + 1))
    else:
        ddf = _read(Path(tracks), cols, crs, params.tz, blocksize)
    with dask_client(scheduler, n_workers=n_workers, processes=processes) as client:
        by_worker = ddf.shuffle(on="worker", npartitions=max(ddf.npartitions, n_workers))
        parts = client.compute(by_worker.to_delayed())
        _ = index.disjoint  # computed here once, shipped with the index
        shared = client.scatter(index, broadcast=True)
        futures = client.map(process_batch, parts, index=shared, params=params, pure=False)
        results = client.gather(futures)
    return combine(list(results))
