"""The live demo: ``gridgis demo`` loads a small district whose incidents, patrols and
visits end at the moment given (the real command: now), so the county looks as it runs:
overdue is a minority of open incidents, today's patrol compliance is above zero, camera
coverage is computed, departments exist, the demo grid worker has grids and work, and
every printed token is whole however narrow the terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from gis.vocabulary import INCIDENT_STATUSES

TZ = ZoneInfo("Asia/Shanghai")


def _last_five_pm() -> datetime:
    """The latest 17:00 local time that has passed: a moment when today's patrols exist
    whatever the hour the test runs at."""
    now = datetime.now(TZ)
    at = now.replace(hour=17, minute=0, second=0, microsecond=0)
    return at if at <= now else at - timedelta(days=1)


@pytest.fixture
def demo(db, pg_url, tmp_path):
    at = _last_five_pm()
    env = {**os.environ, "GRIDGIS_DATABASE_URL": pg_url, "GRIDGIS_DATA_DIR": str(tmp_path),
           "COLUMNS": "40", "TERM": "xterm-256color"}
    run = subprocess.run([sys.executable, "-m", "gis.cli", "demo", "--households", "3000",
                          "--load-only", "--now", at.isoformat()],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return {"at": at, "out": run.stdout + run.stderr, "data": tmp_path}


def test_demo_county_runs_now(demo, db, client):
    import json

    accounts = json.loads((demo["data"] / "demo" / "accounts.json").read_text())
    # every token printed whole on one line, though the terminal is 40 columns wide
    lines = demo["out"].splitlines()
    for acc in accounts:
        assert any(acc["token"] in line for line in lines), acc["role"]
    assert "/m" in demo["out"]

    at = demo["at"]
    with db.connect() as conn:
        last_fix = conn.execute(text("SELECT max(time) FROM patrol_points")).scalar()
        last_report = conn.execute(text("SELECT max(reported_at) FROM incidents")).scalar()
        visits = conn.execute(text("SELECT count(*) FROM visits WHERE time::date = :d"),
                              {"d": at.date()}).scalar()
        departments = conn.execute(text("SELECT count(*) FROM departments")).scalar()
        public = conn.execute(text("SELECT count(*) FROM incidents WHERE channel = 'public' "
                                   "AND status = 'reported'")).scalar()
    assert at - timedelta(hours=12) < last_fix <= at
    assert at - timedelta(days=2) < last_report <= at
    assert visits > 0 and departments >= 5 and public == 3

    admin = {"Authorization": f"Bearer {accounts[0]['token']}"}
    figures = client.get(f"/overview/{_county(db)}", headers=admin).json()["figures"]
    open_ = ",".join(s for s in INCIDENT_STATUSES if s != "closed")
    counted = {flag: client.get("/incidents", headers=admin, params={
        "status": open_, "overdue": flag, "limit": 1}).json()["numberMatched"]
        for flag in ("true", "false")}
    assert 0 < counted["true"] < counted["false"], counted  # overdue: a minority of open
    assert figures["coverage_ratio"] is not None and figures["coverage_ratio"] > 0
    assert figures["patrol_compliance"] > 0.2, figures

    midnight = at.replace(hour=0, minute=0)
    today = client.get("/patrol/compliance", headers=admin, params={
        "from": midnight.isoformat(), "to": at.isoformat()}).json()
    assert today["patrolled_share"] > 0, today

    worker = {"Authorization": f"Bearer {accounts[4]['token']}"}
    assert accounts[4]["role"] == "grid_worker"
    assert len(client.get("/field/grids", headers=worker).json()["grids"]) == 2
    work = client.get("/field/work", headers=worker).json()["features"]
    assert {f["properties"]["status"] for f in work} >= {"dispatched"}


def _county(db) -> str:
    with db.connect() as conn:
        return conn.execute(text("SELECT code FROM admin_units WHERE level = 'county'")).scalar()
