"""The worker's own fixes, once through the existing patrol pipeline: each batch of whole
workers is cleaned and joined to the grids by :mod:`gis.patrol` (the same functions, in
the same order, as :func:`gis.patrol.engine.process_batch`), and the cleaned fixes of
the batch are used twice more before they are let go: to prove 3必到 attendance and to
mark the days with any fix."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gis.assessment.attend import PROOF_COLUMNS, attend_proofs
from gis.assessment.month import Month
from gis.patrol.cleaning import REASONS, clean_arrays
from gis.patrol.engine import BATCH_FIXES, worker_batches
from gis.patrol.fixes import Fixes
from gis.patrol.gridindex import GridIndex
from gis.patrol.join import _empty_presence, presence_arrays
from gis.patrol.windows import Windows


@dataclass
class FixResult:
    presence: pd.DataFrame          # gis.patrol presence: grid, window, worker, seconds, metres
    proofs: pd.DataFrame            # attend.PROOF_COLUMNS
    active: pd.DataFrame            # worker, day (position in the month): days with a kept fix
    fixes_read: int = 0
    dropped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))


def only_workers(f: Fixes, workers) -> tuple[Fixes, int]:
    """The fixes of ``workers`` (names); and how many belonged to someone else."""
    wanted = np.isin(f.names, np.asarray(list(workers), dtype=object))
    keep = (f.code >= 0) & wanted[np.maximum(f.code, 0)] | (f.code < 0)
    other = int((~keep).sum())
    return (f if not other else f.take(np.flatnonzero(keep))), other


def time_order(f: Fixes) -> Fixes:
    """Each worker's fixes in time order, whatever the file's order: an export merged from
    phones that uploaded late is not out of order, so the cleaning's ``out_of_order``
    rule (file order) never fires here; duplicates are still dropped. Done per batch of
    whole workers, so the month's fixes are never copied whole."""
    order = np.lexsort((f.t, f.code))
    g = f.take(order)
    g.row = np.arange(1, len(g) + 1, dtype=np.int64)
    return g


def run_fixes(f: Fixes, index: GridIndex, windows: Windows, month: Month, pairs: pd.DataFrame,
              *, speed_max: float, max_gap_s: float, radius: float,
              batch_fixes: int = BATCH_FIXES, advance=None) -> FixResult:
    """Presence, attendance proofs and active days for every worker in ``f``.

    ``pairs``: ``pair``, ``worker`` (name), ``t0``, ``t1``, ``x``, ``y`` (see
    :func:`gis.assessment.attend.attend_proofs`)."""
    out = FixResult(_empty_presence(), pd.DataFrame({c: [] for c in PROOF_COLUMNS}),
                    pd.DataFrame({"worker": [], "day": []}), len(f))
    pres, proofs, active = [], [], []
    for batch in worker_batches(f, batch_fixes):
        batch = time_order(batch)
        kept = clean_arrays(batch, index.crs, speed_max=speed_max, max_gap_s=max_gap_s)
        for k, v in kept.dropped.items():
            out.dropped[k] += int(v)
        i = kept.index
        code, t = batch.code[i], batch.t[i]
        pres.append(presence_arrays(batch.names, code, t, kept.x, kept.y, index, windows,
                                    speed_max=speed_max, max_gap_s=max_gap_s))
        here = batch.names[np.unique(batch.code[batch.code >= 0])]  # whole workers only
        mine = pairs[pairs["worker"].isin(set(here))]
        mine = mine.assign(code=np.searchsorted(batch.names, mine["worker"].to_numpy(object)))
        proofs.append(attend_proofs(code, t, kept.x, kept.y, batch.lon[i], batch.lat[i], mine,
                                    radius))
        day = month.day_of(t)
        seen = np.unique(code[day >= 0].astype(np.int64) * len(month.day_labels) + day[day >= 0])
        active.append(pd.DataFrame({"worker": batch.names[seen // len(month.day_labels)],
                                    "day": seen % len(month.day_labels)}))
        if advance:
            advance(len(batch))
    if pres:
        out.presence = pd.concat(pres, ignore_index=True)
        out.proofs = pd.concat(proofs, ignore_index=True)
        out.active = pd.concat(active, ignore_index=True)
    return out
