"""The two incident keys set on few rows are indexed where set (migration 0016), and the
look-ups they serve still use them: a department's cases and the foreign key's check of
merged duplicates (a generic plan with a parameter, as the key's trigger runs it)."""
from sqlalchemy import text

from helpers import migration_sandbox


def _definition(conn, name: str) -> str:
    return conn.execute(text("SELECT pg_get_indexdef(CAST(:n AS regclass))"),
                        {"n": name}).scalar_one()


def _generic_plan(conn, column: str) -> str:
    conn.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
    conn.execute(text("SET LOCAL enable_seqscan = off"))  # an empty table: cost aside
    kind = "bigint" if column == "merged_into" else "text"
    conn.execute(text(f"PREPARE probe (text) AS SELECT 1 FROM ONLY incidents "
                      f"WHERE {column} = CAST($1 AS {kind}) FOR KEY SHARE"))
    plan = conn.execute(text("EXPLAIN EXECUTE probe('1')")).scalars().all()
    conn.execute(text("DEALLOCATE probe"))
    return "\n".join(plan)


def test_sparse_keys_are_indexed_where_set_and_still_serve_their_lookups(db):
    with db.begin() as conn:
        for column in ("merged_into", "department_code"):
            name = f"ix_incidents_{column}"
            assert _definition(conn, name).endswith(f"WHERE ({column} IS NOT NULL)")
            assert name in _generic_plan(conn, column)


def test_migration_0016_goes_down_and_up_again(db):
    """Downgrade to 0015 (whole-column indexes) and upgrade to the head, rolled back."""
    with migration_sandbox(db) as m:
        m.down("0015")
        assert "WHERE" not in _definition(m.conn, "ix_incidents_merged_into")
        assert "WHERE" not in _definition(m.conn, "ix_incidents_department_code")
        m.up()
        assert _definition(m.conn, "ix_incidents_department_code").endswith(
            "WHERE (department_code IS NOT NULL)")
