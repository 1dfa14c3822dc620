"""Secondary indexes set aside for a bulk write and built once after it.

A row written through an index costs an insertion into it; for a write of most of a
table, building each index once afterwards is cheaper (docs/speed.md). Both bulk paths,
the incidents import and the stored assignment, use this one function. The stored
assignment also sets aside the unique constraints that no foreign key refers to
(:func:`drop_unreferenced_unique`): it rewrites every row without changing their columns.
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


# Each unique constraint of a table that no foreign key uses, as the statements that drop
# it and add it back (names and definition as the catalogue prints them; %% is the
# driver's escape for the % of format()).
UNREFERENCED_UNIQUE = (
    "SELECT format('ALTER TABLE %%s DROP CONSTRAINT %%I', c.conrelid::regclass, c.conname), "
    "format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', c.conrelid::regclass, c.conname, "
    "pg_get_constraintdef(c.oid)) "
    "FROM pg_constraint c WHERE c.conrelid = CAST(%s AS regclass) AND c.contype = 'u' "
    "AND NOT EXISTS (SELECT 1 FROM pg_constraint f "
    "WHERE f.contype = 'f' AND f.conindid = c.conindid)")


def drop_unreferenced_unique(cur, table: str) -> list[str]:
    """Drop the unique constraints of ``table`` that no foreign key needs, through the
    DB-API cursor ``cur``; returns the statements that add them back (which check them
    again), to run after the write in the same transaction."""
    cur.execute(UNREFERENCED_UNIQUE, (table,))
    found = cur.fetchall()
    for drop, _ in found:
        cur.execute(drop)
    return [add for _, add in found]
