"""Secondary indexes set aside for a bulk write and built once after it.

A row written through an index costs an insertion into it; for a write of most of a
table, building each index once afterwards is cheaper (docs/speed.md). Both bulk paths,
the incidents import and the stored assignment, use this one function.
"""
from __future__ import annotations

SECONDARY = ("SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) "
             "FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid "
             "WHERE i.indrelid = CAST(%s AS regclass) AND c.oid IS NULL")


def drop_secondary_indexes(cur, table: str) -> list[str]:
    """Drop the indexes of ``table`` that no constraint needs, through the DB-API cursor
    ``cur``; returns their definitions, to run after the write in the same transaction."""
    cur.execute(SECONDARY, (table,))
    found = cur.fetchall()
    for name, _ in found:  # names as regclass prints them: already quoted where needed
        cur.execute(f"DROP INDEX {name}")
    return [definition for _, definition in found]
