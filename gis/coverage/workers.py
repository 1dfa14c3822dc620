"""Both cores for the coverage of a whole county: ranges of cameras or grids on a pool of
forked processes.

A forked child starts with the parent's memory, so footprints, views and their STRtrees
reach the workers without being pickled: only the ``(lo, hi)`` of each range goes out
and only its result comes back. Forking is done only where it is safe and worth it:
a single-threaded process (a thread holding a lock at the fork would leave the child
blocked on it: servers and progress bars run threads), not itself a daemon (Dask's
workers are), on a platform that forks, with more than one range of work. Anywhere
else the ranges run one after the other in this process, with the same answer.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable

_JOB: Callable[[int, int], Any] | None = None  # what the forked children run
DEFAULT_MAX = 8  # by default: each child holds one chunk's overlays (~200 MB at county scale)


def available() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def can_fork() -> bool:
    return ("fork" in mp.get_all_start_methods() and threading.active_count() == 1
            and not mp.current_process().daemon)


def _run(lo: int, hi: int):
    return _JOB(lo, hi)


def map_ranges(job: Callable[[int, int], Any], n: int, size: int,
               workers: int | None = None) -> list:
    """``[job(lo, hi) for each range of size items in 0..n]``, on up to ``workers``
    processes (``None``: every available core, at most :data:`DEFAULT_MAX`); results in
    range order.

    >>> map_ranges(lambda lo, hi: hi - lo, 10, 4, workers=1)
    [4, 4, 2]
    """
    ranges = [(lo, min(lo + size, n)) for lo in range(0, n, max(1, size))]
    workers = min(available(), DEFAULT_MAX) if workers is None else workers
    workers = min(workers, len(ranges))
    if workers < 2 or not can_fork():
        return [job(lo, hi) for lo, hi in ranges]
    global _JOB
    _JOB = job
    try:
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
            return list(pool.map(_run, *zip(*ranges)))
    finally:
        _JOB = None
