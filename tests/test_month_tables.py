"""Month tables (PostgreSQL monthly partitions) of patrol_points and incident_events
(migration 0004): rows land
in their month's partition (or the default one), creating a month moves its waiting
rows out of the default, and retention drops the old months only."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from gis.store.db import transaction
from gis.store.month_tables import apply_retention, cutoff_for, ensure_months, rows_per_month

SH = ZoneInfo("Asia/Shanghai")


def _fix(conn, worker: str, when: str) -> None:
    conn.execute(text("INSERT INTO patrol_points (worker, time, geom) VALUES "
                      "(:w, CAST(:t AS timestamptz), ST_SetSRID(ST_MakePoint(113.0, 28.2), 4326))"),
                 {"w": worker, "t": when})


def _where(conn, table: str) -> dict:
    rows = conn.execute(text(f"SELECT tableoid::regclass::text, count(*) FROM {table} "
                             "GROUP BY 1 ORDER BY 1"))
    return dict(rows.all())


def test_fixes_land_in_their_local_month_and_unknown_months_in_default(db):
    with transaction(db) as s:
        ensure_months(s, 2, start=datetime(2025, 3, 10, tzinfo=SH))
    with db.begin() as conn:
        _fix(conn, "w1", "2025-03-01 00:30:00+08")  # 16:30 UTC on 28 Feb: March in Shanghai
        _fix(conn, "w1", "2025-03-31 23:59:59+08")
        _fix(conn, "w2", "2025-04-15 12:00:00+08")
        _fix(conn, "w3", "2031-07-01 08:00:00+08")  # no partition for that month
        assert _where(conn, "patrol_points") == {"patrol_points_default": 1,
                                                 "patrol_points_p202503": 2,
                                                 "patrol_points_p202504": 1}
        ids = conn.execute(text("SELECT id FROM patrol_points ORDER BY id")).scalars().all()
    assert ids == [1, 2, 3, 4]  # one sequence across partitions


def test_creating_a_month_moves_its_rows_out_of_the_default(db):
    with db.begin() as conn:
        _fix(conn, "w1", "2030-05-20 10:00:00+08")
        _fix(conn, "w1", "2030-06-02 10:00:00+08")
    with transaction(db) as s:
        created = ensure_months(s, 1, start=datetime(2030, 5, 1, tzinfo=SH))
    assert created["patrol_points"] == 1
    with db.begin() as conn:
        assert _where(conn, "patrol_points") == {"patrol_points_default": 1,
                                                 "patrol_points_p203005": 1}


def test_incident_events_partition_by_time_and_still_cascade(db):
    with transaction(db) as s:
        ensure_months(s, 1, start=datetime(2025, 8, 1, tzinfo=SH))
    with db.begin() as conn:
        inc = conn.execute(text(
            "INSERT INTO incidents (category, reported_at, geom) VALUES ('dispute', "
            "'2025-08-03 09:00+08', ST_SetSRID(ST_MakePoint(113.0, 28.2), 4326)) RETURNING id"
        )).scalar_one()
        conn.execute(text("INSERT INTO incident_events (incident_id, action, to_status, at) "
                          "VALUES (:i, 'report', 'reported', '2025-08-03 09:00+08')"), {"i": inc})
        assert _where(conn, "incident_events") == {"incident_events_p202508": 1}
        conn.execute(text("DELETE FROM incidents WHERE id = :i"), {"i": inc})
        assert conn.execute(text("SELECT count(*) FROM incident_events")).scalar_one() == 0


def test_retention_drops_the_old_month_only(db):
    with transaction(db) as s:
        ensure_months(s, 3, start=datetime(2024, 1, 1, tzinfo=SH))
    with db.begin() as conn:
        for month in (1, 2, 3):
            _fix(conn, "w1", f"2024-{month:02d}-10 08:00:00+08")
        _fix(conn, "w1", "2023-06-10 08:00:00+08")  # old, waiting in the default
    now = datetime(2024, 3, 20, tzinfo=SH)
    assert cutoff_for(2, now) == datetime(2024, 2, 1, tzinfo=SH)
    with transaction(db) as s:
        dropped = apply_retention(s, keep_months=2, now=now)
    assert "patrol_points_p202401" in dropped["patrol_points"]
    assert not {"patrol_points_p202402", "patrol_points_p202403"} & set(dropped["patrol_points"])
    with db.begin() as conn:
        left = conn.execute(text("SELECT to_char(time AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM') "
                                 "FROM patrol_points ORDER BY time")).scalars().all()
        assert left == ["2024-02", "2024-03"]
        assert conn.execute(text("SELECT to_regclass('patrol_points_p202401')")).scalar() is None
    with transaction(db) as s:
        assert rows_per_month(s)["patrol_points_p202402"] == 1


def test_retention_refuses_zero_months(db):
    from gis.errors import InputError

    with transaction(db) as s, pytest.raises(InputError):
        apply_retention(s, keep_months=0)


def test_db_retention_command(db, pg_url, monkeypatch):
    import gis.cli  # noqa: F401  (registers the commands)
    from gis.cli.app import app

    monkeypatch.setenv("GRIDGIS_DATABASE_URL", pg_url)
    with transaction(db) as s:
        ensure_months(s, 1, start=datetime(2022, 2, 1, tzinfo=SH))
    with db.begin() as conn:
        _fix(conn, "w9", "2022-02-02 08:00:00+08")
        _fix(conn, "w9", datetime.now(SH).isoformat())
    res = CliRunner().invoke(app, ["db", "retention", "--keep-months", "6", "--json"])
    assert res.exit_code == 0, res.output
    assert "patrol_points_p202202" in res.stdout
    with db.begin() as conn:
        assert conn.execute(text("SELECT worker FROM patrol_points")).scalars().all() == ["w9"]
        assert conn.execute(text("SELECT count(*) FROM patrol_points WHERE time < now() - "
                                 "interval '1 year'")).scalar_one() == 0


@pytest.mark.parametrize("name", ["months", "partitions"])  # partitions: the old, hidden name
def test_db_months_command_creates_month_tables_ahead(db, pg_url, monkeypatch, name):
    import gis.cli  # noqa: F401  (registers the commands)
    from gis.cli.app import app

    monkeypatch.setenv("GRIDGIS_DATABASE_URL", pg_url)
    res = CliRunner().invoke(app, ["db", name, "--months-ahead", "2", "--json"])
    assert res.exit_code == 0, res.output
    month = datetime.now(SH).strftime("%Y%m")
    assert f"patrol_points_p{month}" in res.stdout and f"incident_events_p{month}" in res.stdout
    with db.connect() as conn:
        assert conn.execute(text("SELECT to_regclass(:t)"),
                            {"t": f"patrol_points_p{month}"}).scalar_one() is not None


def test_gridgis_db_lists_months_and_retention_but_not_the_old_name():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "gis.cli", "db", "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert "│ months " in out and "│ retention " in out
    assert "│ partitions " not in out  # the old name still works but is hidden
