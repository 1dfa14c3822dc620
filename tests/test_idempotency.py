"""Idempotency-Key on retryable writes (issue 17, item 2; DESIGN.md conventions): a replay
returns the first answer (status and body, byte for byte) and writes nothing; the same key
with another request is a 422; keys are per account; a write that fails stores no answer
(its claim rolls back with it, and a commit refused by the database leaves neither); and
20 concurrent sends of one key over real HTTP create exactly one incident."""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime, timedelta, timezone

import httpx
from sqlalchemy import text

from roles_fixtures import COMM1, COUNTY, centre, insert_district
from tests.layers_data import live_server
from tests.test_unit_of_work import refused_at_commit


def count(engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar())


def counts(engine) -> tuple[int, ...]:
    return tuple(count(engine, f"SELECT count(*) FROM {t}") for t in
                 ("incidents", "incident_events", "audit_log", "patrol_points",
                  "idempotency_keys"))


def report(lon_lat=None, **extra) -> dict:
    lon, lat = lon_lat or centre("A")
    return {"lon": lon, "lat": lat, "category": "dispute", **extra}


def test_a_replayed_report_returns_the_first_answer_and_writes_nothing(client, db, make_user):
    insert_district(db)
    headers = make_user("dispatcher", COUNTY, username="d")
    key = {**headers, "Idempotency-Key": "phone-1/report-7"}
    first = client.post("/incidents", headers=key, json=report(description="壁 leak"))
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    before = counts(db)
    # the same document with other spacing and key order is the same request
    again = client.post("/incidents", headers={**key, "content-type": "application/json"},
                        content=b'{"description": "\\u58c1 leak", "category":"dispute", '
                                b'"lat": %r, "lon": %r}' % (centre("A")[1], centre("A")[0]))
    assert again.status_code == 201 and again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert counts(db) == before
    other = client.post("/incidents", headers=key, json=report(description="another"))
    assert other.status_code == 422 and other.json()["field"] == "Idempotency-Key"
    assert counts(db) == before
    fresh = client.post("/incidents", headers={**headers, "Idempotency-Key": "phone-1/report-8"},
                        json=report(description="壁 leak"))
    assert fresh.status_code == 201 and fresh.json()["id"] != first.json()["id"]


def test_keys_belong_to_their_account(client, db, make_user):
    insert_district(db)
    one = make_user("dispatcher", COUNTY, username="one")
    two = make_user("dispatcher", COUNTY, username="two")
    a = client.post("/incidents", headers={**one, "Idempotency-Key": "k"}, json=report())
    b = client.post("/incidents", headers={**two, "Idempotency-Key": "k"}, json=report())
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]  # the other account's key is not replayed
    assert count(db, "SELECT count(*) FROM idempotency_keys") == 2


def test_transitions_and_patrol_uploads_are_replayed(client, db, make_user):
    ids = insert_district(db)
    headers = make_user("dispatcher", COUNTY, username="d")
    incident = ids["A"]["incident"]
    step = {**headers, "Idempotency-Key": "accept-1"}
    body = {"action": "accept", "version": 1}
    first = client.post(f"/incidents/{incident}/transitions", headers=step, json=body)
    assert first.status_code == 200 and first.json()["properties"]["version"] == 2
    before = counts(db)
    again = client.post(f"/incidents/{incident}/transitions", headers=step, json=body)
    # without the key this retry would be a 409 (version 1 is stale): the client that lost
    # the first answer gets it instead
    assert again.status_code == 200 and again.content == first.content
    assert counts(db) == before
    stale = client.post(f"/incidents/{incident}/transitions", headers=headers, json=body)
    assert stale.status_code == 409

    now = datetime.now(timezone.utc)
    lon, lat = centre("A")
    batch = {"points": [
        {"time": (now - timedelta(minutes=i)).isoformat(), "lon": lon, "lat": lat + i * 1e-5}
        for i in range(5)]}
    up = {**headers, "Idempotency-Key": "batch-1"}
    first = client.post("/patrol/points", headers=up, json=batch)
    assert first.status_code == 201 and first.json() == {"worker": "d", "added": 5}
    again = client.post("/patrol/points", headers=up, json=batch)
    assert again.status_code == 201 and again.content == first.content
    assert count(db, "SELECT count(*) FROM patrol_points") == 5


def test_a_failed_write_stores_no_answer_and_a_retry_runs_again(client, db, make_user):
    insert_district(db)
    scoped = make_user("dispatcher", COMM1, username="scoped")
    key = {**scoped, "Idempotency-Key": "outside"}
    outside = client.post("/incidents", headers=key, json=report(centre("C")))
    assert outside.status_code == 403
    assert count(db, "SELECT count(*) FROM idempotency_keys") == 0
    bad = client.post("/incidents", headers={**scoped, "Idempotency-Key": "bad"},
                      json=report(category="nonsense"))
    assert bad.status_code == 422
    retry = client.post("/incidents", headers={**scoped, "Idempotency-Key": "bad"},
                        json=report())
    assert retry.status_code == 201  # nothing was kept for the failed request


def test_malformed_keys_are_refused(client, db, make_user):
    insert_district(db)
    headers = make_user("dispatcher", COUNTY, username="d")
    for key in ("", "x" * 256, "with space", "汉字"):
        r = client.post("/incidents", headers={**headers, "Idempotency-Key": key.encode()},
                        json=report())
        assert r.status_code == 422, (key, r.text)
    assert count(db, "SELECT count(*) FROM incidents") == 3


def test_a_commit_refused_by_the_database_keeps_neither_answer_nor_write(db, pg_url, tmp_path,
                                                                         make_user):
    insert_district(db)
    headers = make_user("dispatcher", COUNTY, username="d")
    with live_server(pg_url, tmp_path) as base, httpx.Client(base_url=base, timeout=30) as http:
        key = {**headers, "Idempotency-Key": "refused"}
        with refused_at_commit(db, "incidents"):
            refused = http.post("/incidents", headers=key, json=report())
        assert refused.status_code in (409, 503), refused.text
        assert count(db, "SELECT count(*) FROM idempotency_keys") == 0
        assert count(db, "SELECT count(*) FROM incidents") == 3
        ok = http.post("/incidents", headers=key, json=report())
        assert ok.status_code == 201 and "Idempotent-Replayed" not in ok.headers


def test_twenty_concurrent_sends_of_one_key_create_one_incident(db, pg_url, tmp_path,
                                                                make_user):
    insert_district(db)
    headers = make_user("grid_worker", COUNTY, username="w")
    before = count(db, "SELECT count(*) FROM incidents")
    answers: list[httpx.Response] = []
    start = threading.Barrier(20)

    def send(base):
        with httpx.Client(base_url=base, timeout=60) as http:
            start.wait()
            answers.append(http.post("/incidents", json=report(description="once"),
                                     headers={**headers, "Idempotency-Key": "tap-twice"}))

    with live_server(pg_url, tmp_path) as base:
        threads = [threading.Thread(target=send, args=(base,)) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert count(db, "SELECT count(*) FROM incidents") == before + 1
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {201, 409}, [a.text for a in answers]
    created = [a for a in answers if a.status_code == 201]
    assert created and len({a.content for a in created}) == 1  # all the same incident
    assert sum("Idempotent-Replayed" not in a.headers for a in created) == 1


def test_a_replayed_queue_of_writes_adds_nothing(client, db, make_user):
    """A phone's queue of N writes sent, then sent again after a lost connection: time of
    each pass, duplicates = 0 (GRIDGIS_REPLAY_N, default 100; 500 for the issue's figure)."""
    insert_district(db)
    headers = make_user("grid_worker", COUNTY, username="w")
    lon, lat = centre("B")
    n = int(os.environ.get("GRIDGIS_REPLAY_N", "100"))
    bodies = [report((lon + (i % 50) * 1e-5, lat), description=f"q{i}") for i in range(n)]
    passes = []
    for _ in range(2):
        t0 = time.perf_counter()
        for i, body in enumerate(bodies):
            r = client.post("/incidents", json=body,
                            headers={**headers, "Idempotency-Key": f"queue-{i}"})
            assert r.status_code == 201
        passes.append(time.perf_counter() - t0)
    total = count(db, "SELECT count(*) FROM incidents WHERE description LIKE 'q%'")
    print(f"{n} writes {passes[0]:.2f} s, replay of {n} {passes[1]:.2f} s, "
          f"incidents {total} (duplicates {total - n})")
    assert total == n
