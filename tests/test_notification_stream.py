"""The live inbox, ``GET /notifications/stream`` (issue 16, item 7), over real HTTP against
a real uvicorn server and the real PostGIS: a whistle reaches the summoned department's
stream (and nobody else's), marking read updates the count, a resumed stream gets what it
missed, heartbeats keep an idle stream alive, a revoked session ends its stream, every role
reads only its own inbox, unauthenticated / protocol-only / malformed requests are refused,
the number of streams is bounded (503), and a stopping server ends its streams at once."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time

import grid_fixtures as fx
import httpx
import pytest
from sqlalchemy import text

from helpers import department_headers as dept
from security_helpers import free_port, serve

STREAM_MAX = 4


@pytest.fixture(scope="module")
def base(pg_url, engine, tmp_path_factory):
    with serve(pg_url, tmp_path_factory.mktemp("stream"), stream_heartbeat_s=0.5,
               stream_recheck_s=1, stream_max=STREAM_MAX) as url:
        yield url


@pytest.fixture
def area(grid_area):
    with grid_area.begin() as conn:
        conn.execute(text("INSERT INTO departments (code, name, area_code) VALUES "
                          "('zhujian', '县住建局', :c), ('chengguan', '县城管局', :c)"),
                     {"c": fx.COUNTY})
    return grid_area


class Stream:
    """An open event stream read by a thread: parsed events (and heartbeats) in a queue."""

    def __init__(self, base: str, headers: dict | None = None, cookies: dict | None = None):
        self.events: queue.Queue = queue.Queue()
        self.status = None
        self.headers_seen = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._client = httpx.Client(base_url=base, cookies=cookies, timeout=30)
        self._thread = threading.Thread(target=self._read, args=(headers or {},), daemon=True)
        self._thread.start()
        assert self._ready.wait(15), "the stream did not answer"

    def _read(self, headers: dict) -> None:
        try:
            with self._client.stream("GET", "/notifications/stream", headers=headers) as r:
                self.status, self.headers_seen = r.status_code, r.headers
                self.body = r.read() if r.status_code != 200 else b""
                self._ready.set()
                event: dict = {}
                for line in r.iter_lines():
                    if self._stop.is_set():
                        return
                    if line.startswith(":"):
                        self.events.put({"event": "heartbeat"})
                    elif line == "" and event:
                        self.events.put(event)
                        event = {}
                    elif ":" in line:
                        key, value = line.split(":", 1)
                        event[key] = value.strip()
                self.events.put({"event": "closed"})
        except httpx.HTTPError:
            self.events.put({"event": "closed"})
        finally:
            self._ready.set()

    def next(self, name: str = "inbox", timeout: float = 10.0) -> dict:
        """The next event called ``name`` (others skipped), its data decoded."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                break
            if event.get("event") == name:
                data = json.loads(event["data"]) if "data" in event else {}
                return {**data, "_id": event.get("id")}
            if event.get("event") == "closed" and name != "closed":
                raise AssertionError(f"the stream closed while waiting for {name!r}")
        raise AssertionError(f"no {name!r} event within {timeout} s")

    def nothing_but_heartbeats(self, seconds: float) -> int:
        """Fail on any event other than a heartbeat during ``seconds``; the heartbeats."""
        beats, deadline = 0, time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                break
            assert event["event"] == "heartbeat", f"unexpected event {event}"
            beats += 1
        return beats

    def close(self) -> None:
        self._stop.set()
        self._client.close()
        self._thread.join(5)


@pytest.fixture
def streams():
    opened: list[Stream] = []

    def open_(*args, **kwargs) -> Stream:
        """A stream, once the server has a free slot: it frees one when it sees the client
        of an earlier test go, which a loaded machine may take a moment to notice."""
        deadline = time.monotonic() + 10
        while (s := Stream(*args, **kwargs)).status == 503 and time.monotonic() < deadline:
            s.close()
            time.sleep(0.2)
        opened.append(s)
        return s

    yield open_
    for s in opened:
        s.close()


def report_and_whistle(base: str, headers: dict, departments: list[str]) -> int:
    with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
        inc = c.post("/incidents", json={"lon": 113.005, "lat": fx.MID_LAT,
                                         "category": "public_facility", "subcategory": "road",
                                         "description": "collapsed kerb"})
        assert inc.status_code == 201, inc.text
        incident_id = inc.json()["id"]
        resp = c.post(f"/incidents/{incident_id}/whistle",
                      json={"departments": departments, "note": "come and see"})
        assert resp.status_code == 200, resp.text
    return incident_id


def test_a_whistle_reaches_the_departments_stream_and_nobody_elses(base, area, make_user,
                                                                    streams):
    centre = make_user("dispatcher", fx.COUNTY, username="centre")
    zj, cg = dept(area, "zhujian"), dept(area, "chengguan")
    zj_stream, zj_tab, cg_stream = streams(base, zj), streams(base, zj), streams(base, cg)
    centre_stream = streams(base, centre)
    for s in (zj_stream, zj_tab, cg_stream, centre_stream):
        assert s.status == 200
        assert s.headers_seen["content-type"].startswith("text/event-stream")
        assert s.next()["unread"] == 0               # the state at once

    incident_id = report_and_whistle(base, centre, ["zhujian"])
    got = zj_stream.next(timeout=5)
    assert got["unread"] == 1
    assert [(n["kind"], n["incident_id"], n["department_code"]) for n in got["notifications"]] \
        == [("summoned", incident_id, "zhujian")]
    assert got["_id"] == str(got["notifications"][0]["id"])
    assert zj_tab.next(timeout=5) == got            # the account's other page: the same
    # the other department and the centre hear only heartbeats (which keep proxies open)
    assert cg_stream.nothing_but_heartbeats(1.5) >= 1
    assert centre_stream.nothing_but_heartbeats(0.1) >= 0

    # reading it on one page updates the count on every open page of that account
    with httpx.Client(base_url=base, headers=zj, timeout=30) as c:
        assert c.post(f"/notifications/{got['notifications'][0]['id']}/read").status_code == 200
    after = zj_stream.next(timeout=5)
    assert (after["unread"], after["notifications"]) == (0, [])


def test_a_resumed_stream_gets_what_it_missed(base, area, make_user, streams):
    centre = make_user("dispatcher", fx.COUNTY, username="centre")
    zj = dept(area, "zhujian")
    first = report_and_whistle(base, centre, ["zhujian"])
    second = report_and_whistle(base, centre, ["zhujian"])
    with area.connect() as conn:
        first_note = conn.execute(text("SELECT id FROM notifications WHERE incident_id = :i"),
                                  {"i": first}).scalar_one()
    # EventSource sends the last id it saw when it reconnects
    resumed = streams(base, {**zj, "Last-Event-ID": str(first_note)}).next()
    assert resumed["unread"] == 2
    assert [n["incident_id"] for n in resumed["notifications"]] == [second]
    fresh = streams(base, zj).next()        # a new page: the count, no replay
    assert (fresh["unread"], fresh["notifications"]) == (2, [])


def test_every_role_streams_its_own_inbox_only(base, area, make_user, streams):
    """Role × scope: each general role may open a stream, on its own inbox; a notice to
    someone else never shows on it."""
    centre = make_user("dispatcher", fx.COUNTY, username="centre")
    report_and_whistle(base, centre, ["zhujian"])   # zhujian has no account yet: nobody's
    for role, scope in (("admin", None), ("planner", fx.COUNTY), ("analyst", fx.COUNTY),
                        ("grid_worker", fx.TOWN1), ("viewer", fx.TOWN2),
                        ("dispatcher", fx.TOWN1)):
        s = streams(base, make_user(role, scope))
        assert s.status == 200, (role, s.body)
        got = s.next()
        assert (got["unread"], got["notifications"]) == (0, []), role
        s.close()
    # the integration role serves Open311 only
    s = streams(base, make_user("integration", fx.COUNTY))
    assert s.status == 403
    assert json.loads(s.body)["status"] == 403


def test_refused_without_valid_credentials_or_with_bad_input(base, area, make_user):
    with httpx.Client(base_url=base, timeout=30) as c:
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            r = c.get("/notifications/stream", headers=headers)
            assert r.status_code == 401
            assert r.headers["content-type"] == "application/problem+json"
    with httpx.Client(base_url=base, timeout=30, cookies={"gridgis_session": "forged"}) as c:
        assert c.get("/notifications/stream").status_code == 401
    with httpx.Client(base_url=base, timeout=30) as c:
        zj = make_user("admin", None, username="boss")
        for bad in ("abc", "-1", "1e3", str(2**63)):
            r = c.get("/notifications/stream", headers={**zj, "Last-Event-ID": bad})
            assert r.status_code == 422, bad
            assert r.json()["field"] == "header.Last-Event-ID"
        r = c.post("/notifications/stream", headers=zj)
        assert r.status_code == 405


def test_the_session_cookie_opens_a_stream_and_logout_ends_it(base, area, make_user, streams):
    """What the pages do: EventSource sends the session cookie (it cannot send headers).
    When the session is revoked the stream says ``end`` within GRIDGIS_STREAM_RECHECK_S."""
    make_user("dispatcher", fx.COUNTY, username="centre", password="correct horse")
    with httpx.Client(base_url=base, timeout=30) as c:
        login = c.post("/auth/login", data={"username": "centre", "password": "correct horse"})
        assert login.status_code == 200
        cookie = {"gridgis_session": login.cookies["gridgis_session"]}
        s = streams(base, cookies=cookie)
        assert s.status == 200 and s.next()["unread"] == 0
        assert c.post("/auth/logout", headers={"Origin": base}).status_code == 200
    assert s.next("end", timeout=5)["reason"].startswith("credentials")
    s.next("closed", timeout=5)


def test_the_number_of_streams_is_bounded(base, area, make_user, streams):
    headers = make_user("admin", None, username="boss")
    opened = [streams(base, headers) for _ in range(STREAM_MAX)]
    assert all(s.status == 200 for s in opened)
    with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
        refused = c.get("/notifications/stream")
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "30"
        assert "GRIDGIS_STREAM_MAX" in refused.json()["detail"]
        # ... while ordinary requests go on (streams hold no request slot)
        assert c.get("/notifications").status_code == 200
    opened[0].close()
    assert streams(base, headers).status == 200


def test_a_stopping_server_ends_its_streams_at_once(pg_url, area, make_user, tmp_path):
    """uvicorn waits for open responses before it stops: without the hub ending them, one
    open page would keep a stopping server up for good."""
    import os

    from bench.load_test import wait_until_up

    headers = make_user("admin", None, username="boss")
    port = free_port()
    env = {**os.environ, "GRIDGIS_DATABASE_URL": pg_url, "GRIDGIS_DATA_DIR": str(tmp_path)}
    code = ("import uvicorn; from api.app import create_app; "
            f"uvicorn.run(create_app(), host='127.0.0.1', port={port}, log_level='warning')")
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"http://127.0.0.1:{port}", proc, log, timeout=60)
        s = Stream(f"http://127.0.0.1:{port}", headers)
        assert s.next()["unread"] == 0
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        stopped = time.monotonic() - started
        s.next("closed", timeout=5)
        assert stopped < 5, f"the server took {stopped:.1f} s to stop"
        # uvicorn re-raises the signal it handled once it has shut down gracefully
        assert proc.returncode in (0, -signal.SIGTERM), log.read_text()
        assert "Traceback" not in log.read_text()
        s.close()
    finally:
        if proc.poll() is None:
            proc.kill()
