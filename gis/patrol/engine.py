"""Running the patrol join at scale: in batches of whole workers on one machine, or
partitioned by worker on a Dask cluster. Both paths clean and join each worker's
fixes with the same functions and sum in the same order, so their results are
identical, not merely close.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gis.patrol.cleaning import CYCLING_SPEED, DEFAULT_MAX_GAP_S, REASONS, clean_fixes
from gis.patrol.join import GridIndex, _empty_presence, presence
from gis.patrol.windows import to_ns
from gis.patrol.tracks import Columns, fixes_from_frame, read_tracks
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


def process_batch(fixes: pd.DataFrame, index: GridIndex, params: PatrolParams) -> PresenceResult:
    """Clean and join one batch holding *all* fixes of its workers."""
    clean, dropped = clean_fixes(fixes, index.crs, speed_max=params.speed_max,
                                 accuracy_max=params.accuracy_max, max_gap_s=params.max_gap_s)
    pres = presence(clean, index, params.windows, speed_max=params.speed_max,
                    max_gap_s=params.max_gap_s)
    t = to_ns(clean["time"])
    return PresenceResult(pres, len(fixes), dropped, int(t.min()) if len(t) else None,
                          int(t.max()) if len(t) else None)


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
    return PresenceResult(pres, sum(p.fixes_read for p in parts), dropped,
                          min(firsts) if firsts else None, max(lasts) if lasts else None)


def worker_batches(fixes: pd.DataFrame, batch_fixes: int = BATCH_FIXES):
    """Yield slices of ``fixes`` holding whole workers, about ``batch_fixes`` rows each."""
    codes, _ = pd.factorize(fixes["worker"], sort=True, use_na_sentinel=True)
    order = np.argsort(codes, kind="stable")
    c = codes[order]
    bounds = np.flatnonzero(np.r_[True, c[1:] != c[:-1], True])  # worker run edges
    start = 0
    while start < len(c):
        stop = bounds[min(np.searchsorted(bounds, start + batch_fixes), len(bounds) - 1)]
        yield fixes.iloc[order[start:stop]]
        start = stop


def patrol_presence(fixes: pd.DataFrame, index: GridIndex, params: PatrolParams = PatrolParams(),
                    *, batch_fixes: int = BATCH_FIXES, advance=None) -> PresenceResult:
    """Single-machine path: batches of whole workers, bounded memory per batch.

    Examples
    --------
    >>> res = patrol_presence(read_tracks("t.csv"), GridIndex(grids, "code"))  # doctest: +SKIP
    """
    parts = []
    for batch in worker_batches(fixes, batch_fixes):
        parts.append(process_batch(batch, index, params))
        if advance:
            advance(len(batch))
    return combine(parts)
