"""A short version of bench/load_test.py: 50 concurrent dispatchers for 10 s against the
service running in its own process on loopback, reading tiles and features and
reporting incidents. No request may fail and no incident may be lost: every 201 is a
stored row, and no row is stored that was not answered 201."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/ is not installed

from bench.load_test import (count_incidents, dispatcher_token, load_district,  # noqa: E402
                             run_load, serve)


def test_fifty_dispatchers_for_ten_seconds_lose_nothing(db, pg_url, tmp_path):
    load_district(db)
    token = dispatcher_token(db)
    with serve(pg_url, tmp_path) as base:
        result = asyncio.run(run_load(base, token, clients=50, seconds=10.0))
    summary = result.summary(count_incidents(db, "load-test"))
    assert summary["errors"] == 0, summary["first_errors"]
    assert summary["incidents_posted"] > 50  # every dispatcher got through at least once
    assert set(summary["by_kind"]) == {"tile", "features", "post"}
    assert summary["incidents_stored"] == summary["incidents_posted"], summary
