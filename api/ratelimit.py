"""Per-client rate limits for the pages anyone may use (resident reporting, its base
map): a sliding window of request times per key, in this process's memory (gridgis
serves from one process; behind several, each counts its own). Over the limit: 429 with
``Retry-After`` in seconds."""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque

from fastapi import HTTPException

MAX_KEYS = 100_000  # forget everyone at once rather than grow without bound


class RateLimit:
    """At most ``limit`` hits per ``window_s`` seconds per key."""

    def __init__(self, limit: int, window_s: float):
        self.limit = limit
        self.window_s = window_s
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def retry_after(self, key: str, now: float | None = None) -> float | None:
        """Record a hit for ``key``; None if allowed, else seconds until one is."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._hits) > MAX_KEYS:
                self._hits.clear()
            hits = self._hits[key]
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                return hits[0] + self.window_s - now
            hits.append(now)
            return None

    def check(self, key: str, what: str) -> None:
        """Raise 429 with Retry-After when ``key`` is over the limit."""
        wait = self.retry_after(key)
        if wait is not None:
            seconds = max(1, math.ceil(wait))
            raise HTTPException(429, f"too many {what} from your address; try again in "
                                     f"{seconds} s", headers={"Retry-After": str(seconds)})


def limiter(app, name: str, limit: int, window_s: float) -> RateLimit:
    """The app's limiter ``name`` (made on first use: each app counts its own)."""
    limits = app.state.__dict__.setdefault("_rate_limits", {})
    if name not in limits:
        limits[name] = RateLimit(limit, window_s)
    return limits[name]
