"""What every benchmark shares: run a case in a fresh process and measure wall time and
peak resident memory of that process alone, so that one case's allocations never
inflate another's figure.

Peak memory is the kernel's high-water mark of the child (``VmHWM``), not ``ru_maxrss``:
a spawned child is forked before it execs, and ``ru_maxrss`` keeps the parent's peak
across the exec, so every case used to report at least the runner's own size."""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
import traceback
from typing import Any, Callable


def _child(fn: Callable, args: tuple, kwargs: dict, queue) -> None:
    try:
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        seconds = time.perf_counter() - t0
        peak_mb = peak_rss_mb()
        queue.put(("ok", result, seconds, peak_mb))
    except BaseException:  # report, never hang the parent
        queue.put(("error", traceback.format_exc(), 0.0, 0.0))


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (Linux ``VmHWM``; ``ru_maxrss`` elsewhere)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure(fn: Callable, *args, **kwargs) -> dict[str, Any]:
    """Run ``fn(*args, **kwargs)`` in a spawned process.

    Returns ``{"result": ..., "seconds": float, "peak_mb": float}``; ``fn`` must be a
    module-level function and its result picklable. ``seconds`` times the call only
    (not interpreter start-up or imports done at module level of ``fn``'s module).
    """
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, args, kwargs, queue))
    proc.start()
    status, result, seconds, peak_mb = queue.get()
    proc.join()
    if status != "ok":
        raise RuntimeError(f"benchmark case {getattr(fn, '__name__', fn)} failed:\n{result}")
    return {"result": result, "seconds": seconds, "peak_mb": peak_mb}


def row(benchmark: str, size: int | str, impl: str, seconds: float, peak_mb: float | None = None,
        **metrics: Any) -> dict[str, Any]:
    """One result row; the runner groups rows by (benchmark, size) and quotes each peer's
    time as a ratio to gridgis' own."""
    return {"benchmark": benchmark, "size": size, "impl": impl, "seconds": round(seconds, 4),
            "peak_mb": None if peak_mb is None else round(peak_mb, 1), **metrics}
