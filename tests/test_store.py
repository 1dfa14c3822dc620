"""The store: migrations, versions, and constraints that keep bad data out."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from gis.store.db import versions

SQUARE = "SRID=4326;MULTIPOLYGON(((113 28,113.01 28,113.01 28.01,113 28.01,113 28)))"
BOWTIE = "SRID=4326;MULTIPOLYGON(((113 28,113.01 28.01,113.01 28,113 28.01,113 28)))"


def test_migrated_schema_reports_versions(db):
    info = versions(db)
    assert int(info["postgresql"].split(".")[0]) >= 13
    assert tuple(int(p) for p in info["postgis"].split(".")[:2]) >= (3, 1)
    assert info["schema"] is not None


def test_every_geometry_column_has_a_gist_index(db):
    with db.connect() as conn:
        geom_cols = conn.execute(text(
            "SELECT f_table_name FROM geometry_columns WHERE f_table_schema = 'public'")).scalars().all()
        indexed = conn.execute(text(
            "SELECT tablename FROM pg_indexes WHERE indexdef ILIKE '%USING gist%'")).scalars().all()
    assert geom_cols and set(geom_cols) <= set(indexed)


def _insert_unit(conn, code="430199001001", geom=SQUARE, level="community", kind="community"):
    conn.execute(text("INSERT INTO admin_units (code, name, level, kind, geom) "
                      "VALUES (:c, 'x', :l, :k, ST_GeomFromEWKT(:g))"),
                 {"c": code, "l": level, "k": kind, "g": geom})


@pytest.mark.parametrize("code, geom, level, kind", [
    ("43019900100", SQUARE, "community", "community"),     # 11 digits
    ("430199001001", BOWTIE, "community", "community"),    # self-intersecting
    ("430199001001", SQUARE, "province", "community"),     # unknown level
])
def test_bad_admin_units_are_refused(db, code, geom, level, kind):
    with pytest.raises(IntegrityError):
        with db.begin() as conn:
            _insert_unit(conn, code, geom, level, kind)


def test_negative_households_and_unknown_kinds_are_refused(db):
    with db.begin() as conn:
        _insert_unit(conn)
    bad = [
        "INSERT INTO buildings (households, geom) VALUES (-1, ST_GeomFromEWKT(:g))",
        "INSERT INTO buildings (households, kind, geom) VALUES (3, 'castle', ST_GeomFromEWKT(:g))",
        "INSERT INTO grids (code, kind, community_code, geom) "
        "VALUES ('4301990010010001', 'secret', '430199001001', ST_GeomFromEWKT(:g))",
    ]
    for sql in bad:
        with pytest.raises(IntegrityError):
            with db.begin() as conn:
                conn.execute(text(sql), {"g": SQUARE})


def test_current_grid_codes_are_unique_but_history_is_kept(db):
    with db.begin() as conn:
        _insert_unit(conn)
        ins = text("INSERT INTO grids (code, community_code, geom, valid_from, valid_to) "
                   "VALUES ('4301990010010001', '430199001001', ST_GeomFromEWKT(:g), "
                   "'2025-01-01', :vt)")
        conn.execute(ins, {"g": SQUARE, "vt": "2026-01-01"})   # retired version
        conn.execute(ins, {"g": SQUARE, "vt": None})           # current version
    with pytest.raises(IntegrityError):
        with db.begin() as conn:
            conn.execute(ins, {"g": SQUARE, "vt": None})
