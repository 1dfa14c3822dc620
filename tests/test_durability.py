"""An import killed half way leaves the database as it was.

``gridgis import incidents BIG.csv`` runs as its own process against the test database;
once PostgreSQL shows it loading (COPY into the stage, or moving rows into the table)
it is killed with SIGKILL — no chance to clean up. The incidents, their events and the
audit log must be exactly as before, no lock may be left behind, and the next import
must work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import text

from roles_fixtures import insert_district

GRIDGIS = Path(sys.executable).with_name("gridgis")
BIG_ROWS = 250_000


def _write_incidents(path: Path, n: int, seed: int, prefix: str) -> Path:
    rng = np.random.default_rng(seed)
    pd.DataFrame({
        "external_id": [f"{prefix}{i}" for i in range(n)],
        "lon": rng.uniform(113.0005, 113.0295, n).round(6),
        "lat": rng.uniform(28.0005, 28.0095, n).round(6),
        "category": "dispute",
        "reported_at": "2025-03-01T08:00:00+08:00",
    }).to_csv(path, index=False)
    return path


def _state(engine) -> tuple:
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT (SELECT count(*) FROM incidents), (SELECT coalesce(sum(id), 0) FROM incidents),"
            " (SELECT count(*) FROM incident_events), (SELECT count(*) FROM audit_log),"
            " (SELECT count(*) FROM grids)")).one()


def _loading(engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND "
            "state = 'active' AND (query ILIKE 'COPY%' OR query ILIKE 'INSERT INTO incidents%')"
        )).scalar())


def _run_import(pg_url: str, path: Path, tmp_path: Path) -> subprocess.Popen:
    env = {**os.environ, "GRIDGIS_DATABASE_URL": pg_url,
           "GRIDGIS_DATA_DIR": str(tmp_path / "data")}
    return subprocess.Popen([str(GRIDGIS), "import", "incidents", str(path), "--json"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_import_killed_while_loading_leaves_the_database_as_before(db, pg_url, tmp_path):
    insert_district(db)
    before = _state(db)
    big = _write_incidents(tmp_path / "BIG.csv", BIG_ROWS, 1, "big-")
    proc = _run_import(pg_url, big, tmp_path)
    deadline = time.monotonic() + 120
    while not _loading(db):
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the import never started loading"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # PostgreSQL ends the orphaned backend when it notices the closed socket
    deadline = time.monotonic() + 30
    while _loading(db) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _state(db) == before

    small = _write_incidents(tmp_path / "small.csv", 500, 2, "small-")
    again = _run_import(pg_url, small, tmp_path)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err.decode()[-2000:]
    after = _state(db)
    assert after[0] == before[0] + 500 and after[4] == before[4]
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incidents WHERE external_id LIKE 'big-%'")
                            ).scalar() == 0


def test_database_server_killed_mid_import_recovers_to_before(tmp_path):
    """The other way to die: the PostgreSQL server itself goes down while an import is
    loading — an immediate shutdown, which kills every backend at once with no checkpoint,
    as a crash would. After a restart, crash recovery must leave the tables exactly as
    before the import."""
    import shutil
    import tempfile

    from gis.store.db import make_engine, migrate
    from gis.store.embedded import EmbeddedCluster

    root = Path(tempfile.mkdtemp(prefix="gg-crash-"))   # pytest's tmp dirs are closed to 'postgres'
    os.chmod(root, 0o755)
    cluster = EmbeddedCluster(root, durable=True)   # fsync on: a real crash
    cluster.start()
    engine = make_engine(cluster.url())
    try:
        migrate(engine)
        insert_district(engine)
        before = _state(engine)
        big = _write_incidents(tmp_path / "BIG.csv", BIG_ROWS, 2, "crash-")
        proc = _run_import(cluster.url(), big, tmp_path)
        deadline = time.monotonic() + 120
        while not _loading(engine):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the import never started loading"
            time.sleep(0.02)
        cluster._run("pg_ctl", "stop", "-D", str(cluster.pgdata), "-m", "immediate", "-w")
        proc.wait(timeout=60)
        assert proc.returncode != 0           # the import saw its server die
        engine.dispose()
        cluster.start()                        # crash recovery replays the WAL
        log = (cluster.pgdata / "server.log").read_text(errors="replace")
        assert "not properly shut down" in log and "redo" in log
        assert _state(engine) == before
    finally:
        engine.dispose()
        cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)
