"""gis.store.pg_copy: what the binary COPY stream carries is what PostgreSQL stores."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd
from sqlalchemy import text

from gis.store import pg_copy


def test_every_kind_of_field_round_trips_through_copy(db):
    """NULLs, empty and non-ASCII text, times rounded to microseconds half to even as the
    server rounds text, points with their SRID, text arrays and repeated codes (each
    distinct one encoded once) arrive unchanged."""
    times = pd.Series(pd.to_datetime(
        ["2024-05-01T08:00:00+08:00", None, "2024-05-01T00:00:00.0000005Z",
         "2024-05-01T00:00:00.0000015Z", "1999-12-31T23:59:59.999999Z"],
        utc=True, format="ISO8601"))
    columns = [pg_copy.text(pd.Series(["a", None, "网格 ünï", "", "x" * 300], dtype="string")),
               pg_copy.fixed(np.array([1.5, 2, 3, -0.0, 5.25]), ">f8",
                             np.array([0, 0, 1, 0, 0], bool)),
               pg_copy.fixed(np.array([True, False, True, False, True]), "?"),
               pg_copy.timestamptz(times),
               pg_copy.points(np.array([113.1, -180, 180, 0.1, 4]),
                              np.array([28.5, -90, 90, 1e-9, 4])),
               pg_copy.text_arrays([["A"], ["A", "网格"], None], np.array([0, 1, -1, 2, 1])),
               pg_copy.constant(b"import", 5), pg_copy.constant(None, 5),
               pg_copy.text_repeated(np.array(["G1", None, "网格", "G1", ""], dtype=object))]
    with db.begin() as conn:
        raw = conn.connection.driver_connection
        raw.execute("CREATE TEMP TABLE t (s text, f float8, b bool, t timestamptz, "
                    "g geometry(Point, 4326), a text[], k text, z text, r text) ON COMMIT DROP")
        with raw.cursor() as cur, cur.copy("COPY t FROM STDIN (FORMAT binary)") as copy:
            for part in pg_copy.encode(columns):
                copy.write(part)
        rows = conn.execute(text("SELECT s, f, b, t, ST_SRID(g), ST_X(g), ST_Y(g), a, k, z, r "
                                 "FROM t")).all()
    utc = timezone.utc
    assert [r[0] for r in rows] == ["a", None, "网格 ünï", "", "x" * 300]
    assert [r[1] for r in rows] == [1.5, 2.0, None, 0.0, 5.25]
    assert [r[2] for r in rows] == [True, False, True, False, True]
    assert [r[3] for r in rows] == [datetime(2024, 5, 1, tzinfo=utc), None,
                                    datetime(2024, 5, 1, tzinfo=utc),
                                    datetime(2024, 5, 1, 0, 0, 0, 2, tzinfo=utc),
                                    datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=utc)]
    assert [(r[4], r[5], r[6]) for r in rows] == [
        (4326, 113.1, 28.5), (4326, -180, -90), (4326, 180, 90), (4326, 0.1, 1e-9),
        (4326, 4, 4)]
    assert [r[7] for r in rows] == [["A"], ["A", "网格"], None, None, ["A", "网格"]]
    assert all(r[8] == "import" and r[9] is None for r in rows)
    assert [r[10] for r in rows] == ["G1", None, "网格", "G1", ""]


def test_times_parsed_as_text_and_sent_in_binary_agree(db):
    """The microseconds the stream sends equal what the server makes of the same times
    written as text (the old COPY path), including sub-microsecond values."""
    stamps = pd.Series(pd.to_datetime(
        [f"2024-03-10T01:59:59.{ns:09d}Z" for ns in (0, 499, 500, 501, 1500, 2500, 999_999_999)],
        utc=True, format="ISO8601"))
    with db.begin() as conn:
        raw = conn.connection.driver_connection
        raw.execute("CREATE TEMP TABLE t (b timestamptz) ON COMMIT DROP")
        with raw.cursor() as cur, cur.copy("COPY t (b) FROM STDIN (FORMAT binary)") as copy:
            for part in pg_copy.encode([pg_copy.timestamptz(stamps)]):
                copy.write(part)
        got = conn.execute(text("SELECT b FROM t")).scalars().all()
        want = [conn.execute(text("SELECT CAST(:s AS timestamptz)"), {"s": s.isoformat()}).scalar()
                for s in stamps]
    assert stamps[1].isoformat().endswith("59.000000499+00:00")  # nanoseconds reach the server
    assert got == want
