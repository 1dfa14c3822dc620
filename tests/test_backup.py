"""`gridgis backup` / `gridgis restore` round trip through pg_dump/pg_restore."""

import os
import subprocess
import sys

from sqlalchemy import text

SQUARE = "SRID=4326;MULTIPOLYGON(((113 28,113.01 28,113.01 28.01,113 28.01,113 28)))"


def _gridgis(args, pg_url):
    env = {**os.environ, "GRIDGIS_DATABASE_URL": pg_url}
    return subprocess.run([sys.executable, "-m", "gis.cli", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_backup_then_restore_brings_back_deleted_rows(db, pg_url, tmp_path):
    with db.begin() as conn:
        conn.execute(text("INSERT INTO admin_units (code, name, level, kind, geom) VALUES "
                          "('430199001001', '幸福社区', 'community', 'community', "
                          "ST_GeomFromEWKT(:g))"), {"g": SQUARE})
    dump = tmp_path / "gridgis.dump"
    out = _gridgis(["backup", str(dump)], pg_url)
    assert out.returncode == 0, out.stderr
    assert dump.stat().st_size > 0
    with db.begin() as conn:
        conn.execute(text("DELETE FROM admin_units"))
    out = _gridgis(["restore", str(dump)], pg_url)
    assert out.returncode == 0, out.stderr
    with db.connect() as conn:
        names = conn.execute(text("SELECT name FROM admin_units")).scalars().all()
    assert names == ["幸福社区"]


def test_restore_of_a_broken_file_changes_nothing(db, pg_url, tmp_path):
    with db.begin() as conn:
        conn.execute(text("INSERT INTO admin_units (code, name, level, kind, geom) VALUES "
                          "('430199001001', 'x', 'community', 'community', ST_GeomFromEWKT(:g))"),
                     {"g": SQUARE})
    bad = tmp_path / "bad.dump"
    bad.write_bytes(b"PGDMP this is not a dump")
    out = _gridgis(["restore", str(bad)], pg_url)
    assert out.returncode != 0
    assert "error" in out.stderr.lower()
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM admin_units")).scalar() == 1


def test_restore_keeps_postgis_so_open_connections_keep_working(db, pg_url, tmp_path):
    """A running server's pooled connections must survive a restore."""
    with db.connect() as conn:   # hold a pooled connection that has used spatial operators
        conn.execute(text("SELECT ST_Intersects(ST_MakePoint(0, 0), ST_MakePoint(0, 0))"))
        oid = conn.execute(text("SELECT 'geometry'::regtype::oid")).scalar()
    dump = tmp_path / "gridgis.dump"
    assert _gridgis(["backup", str(dump)], pg_url).returncode == 0
    assert _gridgis(["restore", str(dump)], pg_url).returncode == 0
    with db.connect() as conn:
        assert conn.execute(text("SELECT 'geometry'::regtype::oid")).scalar() == oid
        conn.execute(text("SELECT count(*) FROM admin_units WHERE ST_Intersects(geom, "
                          "ST_MakeEnvelope(0, 0, 1, 1, 4326))")).scalar()
