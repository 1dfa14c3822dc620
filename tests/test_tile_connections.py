"""The tile connections (gis/store/tile_pool.py, issue 19): opened when the server
starts, and every tile statement prepared on its first use with a generic plan."""

from __future__ import annotations

import asyncio

from sqlalchemy import text

from gis.store import tile_pool
from security_helpers import serve


def test_the_server_opens_its_tile_connections_before_the_first_tile(pg_url, engine, tmp_path):
    with engine.connect() as conn:
        started = conn.execute(text("SELECT clock_timestamp()")).scalar()
    with serve(pg_url, tmp_path):
        with engine.connect() as conn:
            opened = conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                "'gridgis-tiles' AND backend_start >= :t"), {"t": started}).scalar()
    assert opened == tile_pool.SIZE


def test_a_tile_statement_is_prepared_at_its_first_use_with_a_generic_plan(engine):
    sql = "SELECT count(*) FROM incidents WHERE id > %(after)s"

    async def run():
        pool = tile_pool.TileConnections(tile_pool.conninfo_of(engine), size=1)
        async with pool.connection() as conn:
            await conn.execute(sql, {"after": 0})
            cur = await conn.execute(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                "WHERE statement LIKE 'SELECT count(*) FROM incidents WHERE id > $1%'")
            found = await cur.fetchall()
        pool.close_now()
        return found

    # One use: prepared already (psycopg's default waits for the sixth), and planned
    # once for any parameters, not again for each.
    assert asyncio.run(run()) == [(1, 0)]


def test_connections_the_database_refuses_at_start_are_left_for_later():
    from security_helpers import free_port

    pool = tile_pool.TileConnections(f"postgresql://nobody@127.0.0.1:{free_port()}/none",
                                     size=2)
    # nothing listens there: both refused, no exception, the server starts anyway
    assert asyncio.run(pool.open()) == 2
    assert not pool._idle
