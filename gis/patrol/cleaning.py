"""Cleaning GPS fixes: what a supervisor would throw away by eye, done by rule.

Fixes are first ordered by worker and time, whatever the order of the file: phones
upload in batches, so rows arrive shuffled, and the order of a file says nothing about
the order of the fixes. Rules, applied per worker, in this order (each dropped fix is
counted under one reason):

``unreadable``     a time or coordinate that is not a time or a number.
``out_of_range``   a coordinate outside lon/lat range (a latitude of 400, swapped columns).
``missing``        no worker, time or coordinate (or no sequence number when one is used).
``poor_accuracy``  the fix reports an accuracy radius above ``accuracy_max`` metres.
``duplicate``      same worker and same time as another fix (the first in the file is kept).
``out_of_order``   only with the device's sequence number (``seq``): a fix whose time is
                   earlier than that of a fix with a lower sequence number of the same
                   worker (a clock jumping back). Without ``seq`` nothing is out of order.
``too_fast``       a "teleport": reaching the fix needs a speed above ``speed_max`` and so
                   does leaving it (or, at the end of a track, reaching it from a plausible
                   fix). Removal is repeated until no such fix remains, so a run of bad
                   fixes goes too.

After cleaning, each worker's fixes are strictly increasing in time and the table is
sorted by worker then time; the result does not depend on the order of the rows. Speeds are measured in the metric CRS given by the caller
(see :func:`gis.crs.metric_crs`), so the single-machine and Dask paths agree exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from pyproj import CRS, Transformer

from gis.patrol.fixes import NAT, OK, OUT_OF_RANGE, UNREADABLE, Fixes

WALKING_SPEED = 2.0   # m/s: a brisk walk plus GPS noise
CYCLING_SPEED = 7.0   # m/s: an e-bike in town
DEFAULT_MAX_GAP_S = 600.0  # a longer silence breaks the track: no time is assumed inside
REASONS = ("unreadable", "out_of_range", "missing", "poor_accuracy", "duplicate",
           "out_of_order", "too_fast")


@lru_cache(maxsize=8)
def _transformer(crs_wkt: str) -> Transformer:
    return Transformer.from_crs(CRS.from_epsg(4326), CRS.from_wkt(crs_wkt), always_xy=True)


def to_metric(lon: np.ndarray, lat: np.ndarray, crs: CRS) -> tuple[np.ndarray, np.ndarray]:
    """Project lon/lat to the metric CRS (vectorised PROJ call)."""
    x, y = _transformer(CRS(crs).to_wkt()).transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.asarray(x), np.asarray(y)


def _time_order(codes: np.ndarray, t: np.ndarray, row: np.ndarray):
    """Order by worker, time and file row; duplicate flags (same worker and time as the
    fix before in that order, so the first in the file is kept)."""
    key = _worker_time_key(codes.astype(np.int64), t)
    presorted = len(row) < 2 or bool(np.all(row[1:] > row[:-1]))
    order = np.argsort(key, kind="stable") if presorted else np.lexsort((row, key))
    k = key[order]
    dup = np.zeros(len(t), bool)
    dup[order[1:]] = k[1:] == k[:-1]
    return dup, order


def _file_order_flags(codes: np.ndarray, t: np.ndarray, row: np.ndarray):
    """Duplicate / out-of-order flags against the running latest time of each worker,
    reading the fixes in ``row`` order (the device's sequence numbers); also the
    (worker, row) order used.

    One int64 key per fix, worker-major then time (``code * span + time``, or time ranks
    when that would overflow), turns the per-worker running maximum into a plain
    ``np.maximum.accumulate``: any key of a later worker exceeds every key of an earlier
    one, so no per-group Python is needed."""
    presorted = len(row) < 2 or bool(np.all(row[1:] > row[:-1]))
    if presorted:  # file order already: a stable sort of small ints is a radix sort
        small = codes.astype(np.int16) if len(codes) and codes.max() < 2**15 else codes
        order = np.argsort(small, kind="stable")
    else:
        order = np.lexsort((row, codes))
    c, tt = codes[order].astype(np.int64), t[order]
    key = _worker_time_key(c, tt)
    latest = np.maximum.accumulate(key) if len(key) else key
    prev = np.r_[np.iinfo(np.int64).min, latest[:-1]] if len(key) else key
    by_key = np.argsort(key, kind="stable")  # ties stay in file order: the first is kept
    repeat = np.zeros(len(key), bool)
    repeat[by_key[1:]] = key[by_key[1:]] == key[by_key[:-1]]
    ooo_sorted = (key < prev) & ~repeat  # a worker's first fix: prev belongs to a lower key
    dup, ooo = np.zeros(len(t), bool), np.zeros(len(t), bool)
    dup[order], ooo[order] = repeat, ooo_sorted
    return dup, ooo, order


def _worker_time_key(c: np.ndarray, t: np.ndarray) -> np.ndarray:
    if not len(t):
        return t.astype(np.int64)
    t0 = int(t.min())
    span = int(t.max()) - t0 + 1
    if (int(c.max()) + 1) * span < 2**62:
        return c * np.int64(span) + (t - t0)
    uniq, rank = np.unique(t, return_inverse=True)  # years of data: ranks keep order
    return c * np.int64(len(uniq)) + rank.astype(np.int64)


def _speed_flags(codes, t, x, y, speed_max: float, max_gap_ns: int) -> np.ndarray:
    """One pass of the teleport rule over sorted fixes; True = drop."""
    n = len(t)
    link = (codes[1:] == codes[:-1]) & (t[1:] - t[:-1] <= max_gap_ns)
    dt = (t[1:] - t[:-1]) / 1e9
    v = np.hypot(x[1:] - x[:-1], y[1:] - y[:-1]) / np.where(dt > 0, dt, np.nan)
    fast = link & (v > speed_max)
    fast_in, fast_out = np.r_[False, fast], np.r_[fast, False]
    has_in, has_out = np.r_[False, link], np.r_[link, False]
    spike = fast_in & fast_out
    if spike.any() or n < 2:
        return spike
    prev_fast_in = np.r_[False, fast_in[:-1]]
    next_fast_out, next_has_out = np.r_[fast_out[1:], False], np.r_[has_out[1:], False]
    last = fast_in & ~has_out & ~prev_fast_in
    first = fast_out & ~has_in & next_has_out & ~next_fast_out
    return last | first


def clean_fixes(fixes: pd.DataFrame, crs: CRS, *, speed_max: float = CYCLING_SPEED,
                accuracy_max: float | None = None, max_gap_s: float = DEFAULT_MAX_GAP_S
                ) -> tuple[pd.DataFrame, dict[str, int]]:
    """Drop implausible fixes and sort the rest by worker and time.

    Parameters
    ----------
    fixes : fixes table (see :mod:`gis.patrol.tracks`).
    crs : metric CRS used to measure speeds; ``x``/``y`` in it are added to the output.
    speed_max : metres per second above which a jump is a teleport
        (:data:`WALKING_SPEED` 2 m/s, :data:`CYCLING_SPEED` 7 m/s).
    accuracy_max : drop fixes whose ``accuracy`` column is above this (metres).
    max_gap_s : fixes further apart in time are not compared (the track broke).

    Returns
    -------
    (DataFrame, dict) : the kept fixes (columns of ``fixes`` plus ``x``, ``y``) and the
        number dropped per reason (every reason in :data:`REASONS` present).

    Examples
    --------
    >>> from gis.crs import metric_crs
    >>> crs = metric_crs((113, 28, 113.1, 28.1))
    >>> clean, dropped = clean_fixes(fixes, crs)  # fixes come from a file  # doctest: +SKIP
    """
    kept = clean_arrays(Fixes.from_frame(fixes), crs, speed_max=speed_max,
                        accuracy_max=accuracy_max, max_gap_s=max_gap_s)
    out = fixes.iloc[kept.index].reset_index(drop=True)
    out["x"], out["y"] = kept.x, kept.y
    return out, kept.dropped


@dataclass
class Cleaned:
    """What :func:`clean_arrays` keeps: positions into the input (sorted by worker and
    time), their metric coordinates, and the number dropped per reason."""

    index: np.ndarray
    x: np.ndarray
    y: np.ndarray
    dropped: dict[str, int]


def clean_arrays(f: Fixes, crs: CRS, *, speed_max: float = CYCLING_SPEED,
                 accuracy_max: float | None = None, max_gap_s: float = DEFAULT_MAX_GAP_S
                 ) -> Cleaned:
    """:func:`clean_fixes` on column arrays (the rules in the module docstring)."""
    counts = dict.fromkeys(REASONS, 0)
    flag = f.flag if f.flag is not None else np.zeros(len(f), np.int8)
    counts["unreadable"] = int((flag == UNREADABLE).sum())
    counts["out_of_range"] = int((flag == OUT_OF_RANGE).sum())
    keep = flag == OK
    present = (f.code >= 0) & (f.t != NAT) & ~np.isnan(f.lon) & ~np.isnan(f.lat)
    if f.seq is not None:
        present &= ~np.isnan(f.seq)
    counts["missing"], keep = int((keep & ~present).sum()), keep & present
    if accuracy_max is not None and f.accuracy is not None:
        poor = keep & (f.accuracy > accuracy_max)
        counts["poor_accuracy"], keep = int(poor.sum()), keep & ~poor
    idx = np.flatnonzero(keep)
    codes, t = f.code[idx], f.t[idx]
    if f.seq is not None:  # the device says which fix came first: trust it over the clock
        seq_rank = np.lexsort((f.row[idx], f.seq[idx]))
        rank = np.empty(len(idx), np.int64)
        rank[seq_rank] = np.arange(len(idx))
        dup, ooo, by_worker = _file_order_flags(codes, t, rank)
    else:
        (dup, by_worker), ooo = _time_order(codes, t, f.row[idx]), np.zeros(len(idx), bool)
    counts["duplicate"], counts["out_of_order"] = int(dup.sum()), int(ooo.sum())
    # the kept fixes in that order are strictly increasing in time: no second sort
    order = by_worker[~(dup | ooo)[by_worker]]
    x, y = to_metric(f.lon[idx[order]], f.lat[idx[order]], crs)
    alive = _drop_teleports(codes[order], t[order], x, y, speed_max, int(max_gap_s * 1e9))
    counts["too_fast"] = int((~alive).sum())
    return Cleaned(idx[order[alive]], x[alive], y[alive], counts)


def _drop_teleports(codes, t, x, y, speed_max, max_gap_ns) -> np.ndarray:
    alive = np.ones(len(t), dtype=bool)
    for _ in range(1000):  # each pass removes at least one fix; real data needs 2–3
        idx = np.flatnonzero(alive)
        drop = _speed_flags(codes[idx], t[idx], x[idx], y[idx], speed_max, max_gap_ns)
        if not drop.any():
            break
        alive[idx[drop]] = False
    return alive
