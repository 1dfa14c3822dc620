"""The warm-tile check: ONE query on a dedicated autocommit connection (one per engine)
that answers who the caller is (by the same rules as
:func:`gis.store.users.principal_for_token`) and the current change counters of every
watched table. The warm tile path (api/tiles/warm.py) calls it through
:func:`gis.services.accounts.warm_check` before FastAPI resolves any dependency."""

from __future__ import annotations

import logging
import threading
import weakref
from functools import lru_cache
from pathlib import Path

from gis.store.tile_pool import pyformat
from gis.store.users import Principal

log = logging.getLogger("gridgis.warm")
SQL = Path(__file__).with_name("sql") / "tile_warm_check.sql"


class _Checker:
    """One autocommit connection for the warm check, (re)opened on demand."""

    def __init__(self, conninfo: str):
        self.conninfo = conninfo
        self._conn = None
        self._lock = threading.Lock()  # TestClient portals run on other threads

    def check(self, digest: str) -> tuple[Principal, dict] | None:
        """The caller and every change counter, or None (unknown caller or any failure)."""
        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = _connect(self.conninfo)
                row = self._conn.execute(pyformat(_sql()), {"digest": digest}).fetchone()
            except Exception:  # the normal path will answer (and report) instead
                log.warning("warm tile check failed; using the normal path", exc_info=True)
                self._close()
                return None
        return _found(row)

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None

    def close(self, *_) -> None:
        with self._lock:
            self._close()


def _connect(conninfo: str):
    import psycopg

    return psycopg.connect(conninfo, autocommit=True, prepare_threshold=0, connect_timeout=5,
                           options="-c statement_timeout=250",
                           application_name="gridgis-warm-tiles")


def _found(row) -> tuple[Principal, dict] | None:
    return None if row is None else (Principal(*row[:5]), row[5] or {})


async def check_async(engine, digest: str) -> tuple[Principal, dict] | None:
    """:meth:`_Checker.check` on the event loop without blocking it (a tile connection,
    gis/store/tile_pool.py); None: unknown caller or any failure."""
    from gis.store import tile_pool

    try:
        return _found(await tile_pool.row(engine, pyformat(_sql()), {"digest": digest}))
    except Exception:  # the normal path will answer (and report) instead
        log.warning("warm tile check failed; using the normal path", exc_info=True)
        return None


def checked_statement(digest: str, expected: Principal, tile_sql: str,
                      tile_params: dict) -> tuple[str, dict]:
    """The caller check and a tile statement written for ``expected``, in one statement
    (sql/tile_checked.sql); its row: the caller, the counters, the tile or NULL."""
    return _checked_sql().format(check=_sql(), tile=tile_sql), {
        **tile_params, "digest": digest, "as_id": expected.user_id,
        "as_username": expected.username, "as_role": expected.role,
        "as_scope": expected.scope_code, "as_department": expected.department_code}


@lru_cache
def _checked_sql() -> str:
    return SQL.with_name("tile_checked.sql").read_text()


def found_of(row) -> tuple[Principal, dict] | None:
    """The caller and counters of a check row (None: no row, not authenticated)."""
    return _found(row)


@lru_cache
def _sql() -> str:
    return SQL.read_text()


_CHECKERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CHECKERS_LOCK = threading.Lock()


def checker_for(engine) -> _Checker:
    """The engine's warm-check connection (one per engine, closed when it is disposed)."""
    with _CHECKERS_LOCK:
        checker = _CHECKERS.get(engine)
        if checker is None:
            from sqlalchemy import event

            url = engine.url.set(drivername="postgresql")
            checker = _CHECKERS[engine] = _Checker(url.render_as_string(hide_password=False))
            event.listen(engine, "engine_disposed", checker.close)
        return checker
