"""incidents.has_parts (migration 0017): the overdue rule looks for lapsed department parts
only on incidents that have parts, so the flag must be set on every incident with a part,
however the part arrives (one row, many rows in one statement, a part moved to another
incident), on no other, and on the parts already there when the migration runs."""
from sqlalchemy import text

from helpers import migration_sandbox

A_POINT = "ST_SetSRID(ST_MakePoint(120.1, 30.2), 4326)"


def _setup(conn, n: int) -> list[int]:
    conn.execute(text(
        "INSERT INTO admin_units (code, name, level, kind, geom) VALUES ('330102000000', "
        "'county', 'county', 'county', ST_Multi(ST_MakeEnvelope(120, 30, 121, 31, 4326)))"))
    conn.execute(text("INSERT INTO departments (code, name, area_code) VALUES "
                      "('zhujian', 'housing', '330102000000'), "
                      "('chengguan', 'urban management', '330102000000')"))
    return conn.execute(text(
        f"INSERT INTO incidents (category, reported_at, geom) SELECT 'dispute', now(), "
        f"{A_POINT} FROM generate_series(1, :n) RETURNING id"), {"n": n}).scalars().all()


def _marked(conn) -> set[int]:
    return set(conn.execute(text("SELECT id FROM incidents WHERE has_parts")).scalars())


def _unmarked_with_parts(conn) -> int:
    return conn.execute(text(
        "SELECT count(*) FROM incidents i WHERE NOT i.has_parts "
        "AND EXISTS (SELECT 1 FROM summons s WHERE s.incident_id = i.id)")).scalar_one()


def _counter(conn) -> int:
    return conn.execute(text("SELECT counter FROM layer_changes "
                             "WHERE table_name = 'incidents'")).scalar_one()


def test_every_incident_with_a_part_is_marked_and_no_other(db):
    with db.begin() as conn:
        a, b, c, d, e = _setup(conn, 5)
        assert _marked(conn) == set()
        conn.execute(text("INSERT INTO summons (incident_id, department_code) "
                          "VALUES (:a, 'zhujian')"), {"a": a})
        assert _marked(conn) == {a}
        # several parts of several incidents in one statement
        conn.execute(text("INSERT INTO summons (incident_id, department_code) VALUES "
                          "(:b, 'zhujian'), (:b, 'chengguan'), (:c, 'chengguan')"),
                     {"b": b, "c": c})
        assert _marked(conn) == {a, b, c}
        # a part moved to another incident marks that one too
        conn.execute(text("UPDATE summons SET incident_id = :d WHERE incident_id = :c"),
                     {"c": c, "d": d})
        assert _marked(conn) == {a, b, c, d}
        assert _unmarked_with_parts(conn) == 0
        assert e not in _marked(conn)


def test_a_part_of_a_marked_incident_leaves_the_incidents_counter_alone(db):
    """The incidents' change counter (what tile caches key on) moves when an incident is
    first marked, not on every later part or change of a part."""
    with db.begin() as conn:
        (a,) = _setup(conn, 1)
        conn.execute(text("INSERT INTO summons (incident_id, department_code) "
                          "VALUES (:a, 'zhujian')"), {"a": a})
        first = _counter(conn)
        conn.execute(text("INSERT INTO summons (incident_id, department_code) "
                          "VALUES (:a, 'chengguan')"), {"a": a})
        conn.execute(text("UPDATE summons SET acknowledged_at = now() WHERE incident_id = :a"),
                     {"a": a})
        assert _counter(conn) == first


def test_migration_0017_marks_the_parts_already_there_and_goes_down(db):
    """At 0016 (no flag, no trigger) parts are made; upgrading marks exactly their
    incidents; downgrading removes the column and the trigger. Rolled back."""
    with migration_sandbox(db) as m:
        conn = m.conn
        a, b, c = _setup(conn, 3)
        m.down("0016")
        columns = conn.execute(text("SELECT column_name FROM information_schema.columns "
                                    "WHERE table_name = 'incidents'")).scalars().all()
        assert "has_parts" not in columns
        conn.execute(text("INSERT INTO summons (incident_id, department_code) VALUES "
                          "(:a, 'zhujian'), (:c, 'chengguan')"), {"a": a, "c": c})
        m.up()
        assert _marked(conn) == {a, c}
        conn.execute(text("INSERT INTO summons (incident_id, department_code) "
                          "VALUES (:b, 'zhujian')"), {"b": b})
        assert _marked(conn) == {a, b, c}
