"""Running the patrol join at scale: in batches of whole workers on one machine, or
partitioned by worker on a Dask cluster. Both paths clean and join each worker's
fixes with the same functions and sum in the same order, so their results are
identical, not merely close.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gis.patrol.cleaning import CYCLING_SPEED, DEFAULT_MAX_GAP_S, REASONS, clean_arrays
from gis.patrol.fixes import Fixes
from gis.patrol.gridindex import GridIndex
from gis.patrol.join import EXCLUDED_KEYS, MICRO, PATROL_SPEED, _empty_presence, presence_arrays
from gis.patrol.spill import PART_FIXES, Spill
from gis.io import split_layer_path
from gis.patrol.tracks import Columns, is_csv, read_tracks
from gis.patrol.windows import DEFAULT_TZ, Windows

BATCH_FIXES = 1_000_000


@dataclass(frozen=True)
class PatrolParams:
    """Everything that decides the result (and nothing about where it runs)."""

    window: str = "12h"
    tz: str = DEFAULT_TZ
    speed_max: float = CYCLING_SPEED
    max_gap_s: float = DEFAULT_MAX_GAP_S
    accuracy_max: float | None = None
    patrol_speed_max: float | None = PATROL_SPEED  # m/s; None: no patrol speed rule

    @property
    def windows(self) -> Windows:
        return Windows.of(self.window, self.tz)


@dataclass
class PresenceResult:
    """Presence per grid/window/worker plus what cleaning dropped."""

    presence: pd.DataFrame
    fixes_read: int = 0
    dropped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    first_ns: int | None = None  # time span of the kept fixes
    last_ns: int | None = None
    # travel left out by the patrol speed rule: segments, seconds and metres (millionths)
    excluded: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EXCLUDED_KEYS, 0))

    def excluded_report(self) -> dict:
        """What the patrol speed rule left out, in fixes (segment ends), minutes, metres."""
        e = self.excluded
        return {"fixes": int(e["segments"]), "minutes": round(e["seconds"] / MICRO / 60, 2),
                "metres": round(e["metres"] / MICRO, 1)}


def process_batch(fixes: pd.DataFrame | Fixes, index: GridIndex, params: PatrolParams
                  ) -> PresenceResult:
    """Clean and join one batch holding *all* fixes of its workers."""
    f = fixes if isinstance(fixes, Fixes) else Fixes.from_frame(fixes)
    kept = clean_arrays(f, index.crs, speed_max=params.speed_max,
                        accuracy_max=params.accuracy_max, max_gap_s=params.max_gap_s)
    i = kept.index
    excluded = dict.fromkeys(EXCLUDED_KEYS, 0)
    pres = presence_arrays(f.names, f.code[i], f.t[i], kept.x, kept.y, index, params.windows,
                           speed_max=params.speed_max, max_gap_s=params.max_gap_s,
                           patrol_speed_max=params.patrol_speed_max, excluded=excluded)
    t = f.t[i]
    return PresenceResult(pres, len(f), kept.dropped, int(t.min()) if len(t) else None,
                          int(t.max()) if len(t) else None, excluded)


def combine(parts: list[PresenceResult]) -> PresenceResult:
    """Merge batch results; each (grid, window, worker) comes from one batch only."""
    tables = [p.presence for p in parts if len(p.presence)]
    pres = pd.concat(tables, ignore_index=True) if tables else _empty_presence()
    pres = pres.sort_values(["grid", "window", "worker"], kind="stable").reset_index(drop=True)
    dropped = dict.fromkeys(REASONS, 0)
    for p in parts:
        for k, v in p.dropped.items():
            dropped[k] += int(v)
    firsts = [p.first_ns for p in parts if p.first_ns is not None]
    lasts = [p.last_ns for p in parts if p.last_ns is not None]
    excluded = {k: sum(int(p.excluded.get(k, 0)) for p in parts) for k in EXCLUDED_KEYS}
    return PresenceResult(pres, sum(p.fixes_read for p in parts), dropped,
                          min(firsts) if firsts else None, max(lasts) if lasts else None,
                          excluded)


def worker_batches(fixes: Fixes, batch_fixes: int = BATCH_FIXES) -> Iterator[Fixes]:
    """Yield parts of ``fixes`` holding whole workers, about ``batch_fixes`` rows each."""
    order = np.argsort(fixes.code, kind="stable")
    c = fixes.code[order]
    bounds = np.flatnonzero(np.r_[True, c[1:] != c[:-1], True])  # worker run edges
    start = 0
    while start < len(c):
        stop = bounds[min(np.searchsorted(bounds, start + batch_fixes), len(bounds) - 1)]
        yield fixes.take(order[start:stop])
        start = stop


def patrol_presence(fixes: pd.DataFrame | Fixes, index: GridIndex,
                    params: PatrolParams = PatrolParams(), *, batch_fixes: int = BATCH_FIXES,
                    advance=None) -> PresenceResult:
    """Single-machine path for fixes already in memory: batches of whole workers.

    Examples
    --------
    >>> res = patrol_presence(read_tracks("t.csv"),  # reads a file  # doctest: +SKIP
    ...                       GridIndex(grids, "code"))
    """
    f = fixes if isinstance(fixes, Fixes) else Fixes.from_frame(fixes)
    parts = []
    for batch in worker_batches(f, batch_fixes):
        parts.append(process_batch(batch, index, params))
        if advance:
            advance(len(batch))
    return combine(parts)


def patrol_presence_file(path: str | Path, index: GridIndex, params: PatrolParams = PatrolParams(),
                         *, cols: Columns = Columns(), crs=None, part_fixes: int = PART_FIXES,
                         tmp_dir: str | Path | None = None, threads: int = 2,
                         advance=None, strict: bool = False,
                         layer: str | None = None) -> PresenceResult:
    """Single-machine path for a tracks file of any size, in bounded memory.

    A CSV is spilled to temporary partition files by worker (:class:`gis.patrol.spill.Spill`)
    and the partitions are cleaned and joined ``threads`` at a time (the heavy steps run
    in numpy, Shapely and PROJ without the GIL); other formats are read whole. Results
    are identical to :func:`patrol_presence` on the same fixes.

    Examples
    --------
    >>> res = patrol_presence_file("tracks.csv",  # reads a file  # doctest: +SKIP
    ...                            GridIndex(grids, "code"))
    """
    path, layer = split_layer_path(path, layer)
    if not is_csv(path):
        return patrol_presence(read_tracks(path, cols, crs=crs, tz=params.tz, strict=strict,
                                           layer=layer), index, params, advance=advance)
    _ = index.disjoint  # once, before the threads share the index
    with tempfile.TemporaryDirectory(prefix="gg-patrol-", dir=tmp_dir) as tmp, \
            Spill.from_csv(path, cols, folder=tmp, crs=crs, tz=params.tz,
                           part_fixes=part_fixes, advance=advance, strict=strict) as spill:
        work = lambda f: process_batch(f, index, params)  # noqa: E731
        if threads <= 1:
            return combine([work(f) for f in spill.partitions()])
        with ThreadPoolExecutor(threads) as pool:
            # at most ``threads`` partitions in memory: map() would read them all ahead
            parts, pending = [], []
            for f in spill.partitions():
                pending.append(pool.submit(work, f))
                if len(pending) >= threads:
                    parts.append(pending.pop(0).result())
            parts += [p.result() for p in pending]
        return combine(parts)
