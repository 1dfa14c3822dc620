"""A use case commits before it answers (issue 13, defect 1).

Through real HTTP (uvicorn in its own process on a loopback port) and the real command line
against the real PostGIS: a DEFERRABLE INITIALLY DEFERRED constraint trigger makes the
commit itself fail, after every statement succeeded. A write must then answer non-2xx
(problem+json) and leave nothing stored; before the service layer, the request's commit ran
after the response was sent, so the client got 201 for a row that was never stored. And a
read straight after a create always finds it, under 30 concurrent clients."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from tests.layers_data import COMM_A, live_server, load_district

ROOT = Path(__file__).parents[1]
REFUSAL = "gg test: refused at commit"


@contextmanager
def refused_at_commit(engine, *tables: str):
    """Every change to ``tables`` is refused when its transaction commits (a deferred
    constraint trigger: each statement succeeds, the COMMIT fails)."""
    with engine.begin() as conn:
        conn.execute(text(
            "CREATE OR REPLACE FUNCTION gg_refuse_at_commit() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{REFUSAL}'; END $$"))
        for table in tables:
            conn.execute(text(
                f"CREATE CONSTRAINT TRIGGER gg_refuse AFTER INSERT OR UPDATE OR DELETE ON {table} "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION gg_refuse_at_commit()"))
    try:
        yield
    finally:
        with engine.begin() as conn:
            for table in tables:
                conn.execute(text(f"DROP TRIGGER IF EXISTS gg_refuse ON {table}"))
            conn.execute(text("DROP FUNCTION IF EXISTS gg_refuse_at_commit()"))


def scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def assert_refused(resp: httpx.Response) -> None:
    """Not a success, and said as problem details."""
    assert not 200 <= resp.status_code < 300, f"{resp.status_code}: {resp.text}"
    assert resp.status_code in (409,) or resp.status_code >= 500, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["status"] == resp.status_code


INCIDENT = {"lon": 120.11, "lat": 30.265, "category": "environment", "subcategory": "garbage"}


@pytest.fixture
def server(db, pg_url, tmp_path, make_user):
    load_district(db, incidents=3)
    headers = make_user("admin")
    with live_server(pg_url, tmp_path) as base:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            yield http


def test_a_commit_refused_by_the_database_is_never_answered_with_success(db, server):
    http = server
    incident = http.post("/incidents", json={**INCIDENT, "description": "kept"})
    assert incident.status_code == 201, incident.text
    inc_id = incident.json()["id"]
    plan = http.post("/plans", json={"name": "copy", "area_code": COMM_A, "source": "current"})
    assert plan.status_code == 201, plan.text
    camera_id = scalar(db, "SELECT id FROM cameras WHERE code = 'CAM-1'")
    camera_version = scalar(db, "SELECT version FROM cameras WHERE id = :i", i=camera_id)

    # report: the incident row is refused at commit
    with refused_at_commit(db, "incidents"):
        resp = http.post("/incidents", json={**INCIDENT, "description": "never stored"})
    assert_refused(resp)
    assert scalar(db, "SELECT count(*) FROM incidents WHERE description = 'never stored'") == 0
    assert scalar(db, "SELECT count(*) FROM audit_log WHERE action = 'report'") == 1

    # transition: the new event of the loop is refused at commit
    events = scalar(db, "SELECT count(*) FROM incident_events WHERE incident_id = :i", i=inc_id)
    with refused_at_commit(db, "incident_events"):
        resp = http.post(f"/incidents/{inc_id}/transitions",
                         json={"action": "accept", "version": 1})
    assert_refused(resp)
    assert scalar(db, "SELECT status || ':' || version FROM incidents WHERE id = :i",
                  i=inc_id) == "reported:1"
    assert scalar(db, "SELECT count(*) FROM incident_events WHERE incident_id = :i",
                  i=inc_id) == events

    # publish: the new grids are refused at commit; the old ones stay current
    current = scalar(db, "SELECT string_agg(code || '@' || version, ',' ORDER BY code) "
                         "FROM grids WHERE valid_to IS NULL")
    with refused_at_commit(db, "grids"):
        resp = http.post(f"/plans/{plan.json()['id']}/publish",
                         json={"version": plan.json()["version"]})
    assert_refused(resp)
    assert scalar(db, "SELECT status FROM plans WHERE id = :i", i=plan.json()["id"]) == "draft"
    assert scalar(db, "SELECT string_agg(code || '@' || version, ',' ORDER BY code) "
                      "FROM grids WHERE valid_to IS NULL") == current

    # camera edit: the move is refused at commit
    with refused_at_commit(db, "cameras"):
        resp = http.patch(f"/cameras/{camera_id}",
                          json={"version": camera_version, "status": "offline"})
    assert_refused(resp)
    assert scalar(db, "SELECT status || ':' || version FROM cameras WHERE id = :i",
                  i=camera_id) == f"online:{camera_version}"

    # with the triggers gone the same writes succeed: the refusals above were the commit's
    again = http.post("/incidents", json={**INCIDENT, "description": "stored"})
    assert again.status_code == 201
    assert http.get(f"/incidents/{again.json()['id']}").status_code == 200
    assert http.post(f"/incidents/{inc_id}/transitions",
                     json={"action": "accept", "version": 1}).status_code == 200


def test_a_read_straight_after_a_create_always_finds_it(db, server):
    """30 clients at once, each reporting then reading its incident back at once."""
    base, headers = str(server.base_url), dict(server.headers)
    clients, rounds = 30, 8
    outcomes: list[tuple[int, int]] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            for i in range(rounds):
                created = http.post("/incidents", json={**INCIDENT,
                                                        "description": f"race {n}-{i}"})
                read = http.get(f"/incidents/{created.json()['id']}") \
                    if created.status_code == 201 else None
                with lock:
                    outcomes.append((created.status_code, read.status_code if read else 0))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert len(outcomes) == clients * rounds
    assert {c for c, _ in outcomes} == {201}
    misses = sum(1 for _, r in outcomes if r == 404)
    assert misses == 0, f"{misses} of {len(outcomes)} reads straight after a create got 404"
    assert {r for _, r in outcomes} == {200}
    assert scalar(db, "SELECT count(*) FROM incidents WHERE description LIKE 'race %'") \
        == clients * rounds


def cli(settings, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRIDGIS_DATABASE_URL": settings.database_url,
           "GRIDGIS_DATA_DIR": str(settings.data_dir), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "gis.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=180, cwd=ROOT)


def test_the_command_line_fails_loudly_and_stores_nothing_when_the_commit_is_refused(
        db, settings, tmp_path):
    load_district(db, incidents=0)
    csv = tmp_path / "events.csv"
    csv.write_text("事件编号,经度,纬度,事件类型,上报时间\n"
                   "E1,120.11,30.265,矛盾纠纷,2024-05-01 08:30\n"
                   "E2,120.13,30.255,矛盾纠纷,2024-05-01 09:30\n", encoding="utf-8")

    with refused_at_commit(db, "incidents"):
        done = cli(settings, "import", "incidents", csv, "--json")
    assert done.returncode != 0, done.stdout
    assert "nothing was stored" in done.stderr, done.stderr
    assert scalar(db, "SELECT count(*) FROM incidents") == 0

    with refused_at_commit(db, "users"):
        done = cli(settings, "user", "add", "late-clerk", "--role", "admin", "--json")
    assert done.returncode != 0, done.stdout
    assert "nothing was stored" in done.stderr, done.stderr
    assert scalar(db, "SELECT count(*) FROM users WHERE username = 'late-clerk'") == 0
    assert scalar(db, "SELECT count(*) FROM api_tokens") == 0

    # and without the refusal both commands store what they said
    assert cli(settings, "import", "incidents", csv, "--json").returncode == 0
    assert scalar(db, "SELECT count(*) FROM incidents") == 2
    added = cli(settings, "user", "add", "late-clerk", "--role", "admin", "--json")
    assert added.returncode == 0, added.stderr
    assert scalar(db, "SELECT count(*) FROM users WHERE username = 'late-clerk'") == 1


def test_gridgis_serve_starts_the_app_by_its_import_string(db, settings, tmp_path, make_user):
    """'gridgis serve' no longer imports api: uvicorn builds the app from
    'api.app:create_app'; the database, host and port it was given still reach it."""
    import socket

    from bench.load_test import wait_until_up

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "GRIDGIS_DATABASE_URL": settings.database_url,
           "GRIDGIS_DATA_DIR": str(settings.data_dir), "PYTHONPATH": str(ROOT)}
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gis.cli", "serve", "--host",
                                 "127.0.0.1", "--port", str(port)], env=env, cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(base, proc, log, timeout=60)
            health = httpx.get(f"{base}/health", timeout=10).json()
            assert health["status"] == "ok" and health["database"] == "external"
            headers = make_user("admin")
            created = httpx.post(f"{base}/incidents", json=INCIDENT, headers=headers, timeout=30)
            assert created.status_code == 201
            assert scalar(db, "SELECT count(*) FROM incidents") == 1
        finally:
            proc.terminate()
            proc.wait(timeout=15)
