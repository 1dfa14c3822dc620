"""Login backoff: failed logins per account name and per client address.

The first ``free`` failures of a key cost nothing; from then on each failure makes the key
wait ``2 ** (failures - free)`` seconds (1, 2, 4, ... capped at ``max_delay``) before the
next attempt is even looked at: the answer is 429 with ``Retry-After``, and the password
is not checked (so a right guess during the wait does not help). Accounts are keyed by the
name as typed, known or not, so the throttle itself does not tell which names exist. A
success clears the account's failures; the address keeps its count (one valid account
must not reset an address that is guessing others) until it has been quiet for an hour.

State is in the process's memory: one service process, as ``gridgis serve`` runs it.
The client address is the connection's peer; ``X-Forwarded-For`` is not trusted."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

FORGET_AFTER_S = 3600.0  # a key quiet this long starts over


@dataclass
class _Entry:
    failures: int = 0
    last: float = 0.0
    until: float = 0.0


def backoff(failures: int, free: int, max_delay: float) -> float:
    """Seconds a key waits after its ``failures``-th failure (0 while still free)."""
    if failures < free:
        return 0.0
    return float(min(max_delay, 2.0 ** (failures - free)))


class LoginThrottle:
    def __init__(self, free: int = 5, address_free: int = 20, max_delay: float = 900.0,
                 clock=time.monotonic):
        self.free, self.address_free, self.max_delay = free, address_free, max_delay
        self.clock = clock
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._lock = threading.Lock()

    def _keys(self, username: str, address: str | None):
        yield ("user", username.strip().lower()), self.free
        if address:
            yield ("addr", address), self.address_free

    def retry_after(self, username: str, address: str | None) -> int:
        """Whole seconds to wait before this attempt may be checked (0: go ahead)."""
        now = self.clock()
        with self._lock:
            wait = max((self._live(key, now).until - now for key, _ in
                        self._keys(username, address)), default=0.0)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, username: str, address: str | None) -> None:
        now = self.clock()
        with self._lock:
            for key, free in self._keys(username, address):
                entry = self._live(key, now)
                entry.failures += 1
                entry.last = now
                entry.until = now + backoff(entry.failures, free, self.max_delay)
                self._entries[key] = entry

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._entries.pop(("user", username.strip().lower()), None)

    def _live(self, key, now: float) -> _Entry:
        entry = self._entries.get(key)
        if entry is None or now - entry.last > FORGET_AFTER_S + self.max_delay:
            entry = _Entry()
            self._entries.pop(key, None)
        if len(self._entries) > 100_000:  # bound memory under a flood of invented names
            self._entries = {k: e for k, e in self._entries.items() if e.until > now}
        return entry
