"""The grid worker's app /m in real headless Chromium (mobile emulation 360x740, geolocation
overridden through the DevTools protocol) against a real uvicorn server and PostGIS.

The worker logs in on /m, goes offline (DevTools ``Network.emulateNetworkConditions``
offline), reloads the app (served by its service worker), reports an incident with a
photo, handles a dispatched incident, records a patrol of a few positions and two visits:
nothing reaches the server. Meanwhile a dispatcher moves the handled incident on. Back
online the queue is sent in order: exactly one incident with its photo, the fixes and two
visits are stored, the step on the incident that moved on stays in the queue as a
conflict, and the patrol shows in the dispatcher's tracks and counts in compliance.

Chromium and chromedriver come from Debian; MapLibre and idb from npm
(scripts/install-web-assets.sh). A missing one is a failure."""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from PIL import Image
from shapely import MultiPolygon, Point, box
from sqlalchemy import text

from gis.store.db import transaction
from gis.store.models import Building, GridStaff, Incident, KeyHousehold
from layers_data import COMM_A, FLAGS, STREET, VENDOR, ewkt, live_server, load_district
from helpers import open_field_app
from helpers import wait_for as _wait

MINE = (f"{COMM_A}0001", f"{COMM_A}0002")
HOUSE = (120.1055, 30.2625)        # the district's building (layers_data)
SHED = (120.1072, 30.2622)         # a second building, added here
WALK = [(120.1040 + 0.00001 * i, 30.2650) for i in range(8)]  # ~1 m a step in MINE[0]


@pytest.fixture
def phone(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert VENDOR.exists() and VENDOR.with_name("idb.js").exists(), \
        "run scripts/install-web-assets.sh (MapLibre and idb from npm)"
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    assert chromium and driver_path, "apt-get install -y chromium chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in FLAGS + [f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    options.add_experimental_option("mobileEmulation", {
        "deviceMetrics": {"width": 360, "height": 740, "pixelRatio": 2.0},
        "userAgent": "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 "
                     "(KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def district(db, make_user):
    load_district(db, incidents=0)
    now = datetime.now(timezone.utc)
    with transaction(db) as session:
        for code in MINE:
            session.add(GridStaff(name="张三", role="fulltime_worker", grid_code=code,
                                  worker_id="w-field"))
        session.add(Building(households=12, kind="lowrise", community_code=COMM_A,
                             geom=ewkt(MultiPolygon([box(SHED[0] - 2e-4, SHED[1] - 2e-4,
                                                         SHED[0] + 2e-4, SHED[1] + 2e-4)]))))
        session.flush()
        session.add(KeyHousehold(household_ref="KH-7", kind="elderly_alone", building_id=1,
                                 community_code=COMM_A))
        session.add(Incident(category="environment", subcategory="garbage", status="dispatched",
                             description="垃圾堆放", reported_at=now - timedelta(hours=3),
                             due_at=now + timedelta(hours=20), grid_code=MINE[0],
                             community_code=COMM_A, township_code=STREET,
                             geom=ewkt(Point(120.104, 30.266))))
    make_user("grid_worker", scope_code=COMM_A, username="w-field", password="field pass")
    return make_user("dispatcher", scope_code=STREET, username="d-field")




def _run(driver, js: str):
    """Await a promise in the page (``js`` is an expression)."""
    return driver.execute_async_script(
        f"const done = arguments[arguments.length - 1]; Promise.resolve({js})"
        ".then(done, (e) => done({error: String(e)}));")


def _here(driver, lon: float, lat: float) -> None:
    driver.execute_cdp_cmd("Emulation.setGeolocationOverride",
                           {"latitude": lat, "longitude": lon, "accuracy": 5})


class Network:
    """DevTools network emulation for the page AND its service worker. Selenium's CDP
    commands reach the page's target only, and Chromium applies a target's emulation to
    that target alone: the service worker's own fetches would still go out. So the browser's
    DevTools socket is opened as well and every service-worker target is attached and set
    offline too."""

    def __init__(self, driver):
        import websocket

        self.driver, self.sessions, self.n = driver, [], 0
        address = driver.capabilities["goog:chromeOptions"]["debuggerAddress"]
        url = requests.get(f"http://{address}/json/version", timeout=5).json()
        self.ws = websocket.create_connection(url["webSocketDebuggerUrl"], timeout=10,
                                              suppress_origin=True)

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self.n += 1
        message = {"id": self.n, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        while True:  # events arrive in between: skip them
            answer = json.loads(self.ws.recv())
            if answer.get("id") == self.n:
                assert "error" not in answer, answer
                return answer.get("result", {})

    def offline(self, offline: bool) -> int:
        conditions = {"offline": offline, "latency": 0, "downloadThroughput": -1,
                      "uploadThroughput": -1}
        if offline:
            targets = self.call("Target.getTargets")["targetInfos"]
            self.sessions = [self.call("Target.attachToTarget", {
                "targetId": t["targetId"], "flatten": True})["sessionId"]
                for t in targets if t["type"] == "service_worker"]
        for session in self.sessions:
            self.call("Network.enable", session=session)
            self.call("Network.emulateNetworkConditions", conditions, session=session)
        self.driver.execute_cdp_cmd("Network.emulateNetworkConditions", conditions)
        return len(self.sessions)

    def close(self) -> None:
        self.ws.close()


def _shot(driver, tmp_path, name: str) -> None:
    # GRIDGIS_SCREENSHOTS=dir keeps them (for the note); else the test's own directory
    shots = Path(os.environ.get("GRIDGIS_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(shots / f"{name}.png"))


def _counts(db) -> dict:
    with db.connect() as conn:
        return dict(conn.execute(text(
            "SELECT (SELECT count(*) FROM incidents) AS incidents, "
            "(SELECT count(*) FROM attachments) AS photos, "
            "(SELECT count(*) FROM patrol_points WHERE worker = 'w-field') AS fixes, "
            "(SELECT count(*) FROM visits WHERE worker = 'w-field') AS visits, "
            "(SELECT count(*) FROM incident_events WHERE action = 'handle') AS steps"
        )).mappings().one())


def _photo(tmp_path) -> Path:
    path = tmp_path / "hazard.jpg"
    Image.new("RGB", (640, 480), (200, 60, 40)).save(path, "JPEG")
    return path


def test_offline_reports_patrol_and_visits_are_sent_once_when_back_online(
        db, pg_url, district, tmp_path, phone):
    driver = phone
    driver.execute_cdp_cmd("Network.enable", {})
    with live_server(pg_url, tmp_path) as base:
        driver.execute_cdp_cmd("Browser.grantPermissions",
                               {"origin": base, "permissions": ["geolocation"]})
        _here(driver, *HOUSE)
        open_field_app(driver, base)
        _wait(driver, "return !!navigator.serviceWorker.controller", timeout=20)
        assert driver.execute_script("return window.innerWidth") == 360
        work = _wait(driver, "return document.querySelectorAll('#work-list li[data-id]').length")
        assert work == 1
        _wait(driver, "return window.fieldApp.state.warmedTiles > 0", timeout=30)
        _shot(driver, tmp_path, "1-my-work")
        before = _counts(db)

        # -- offline: reload the app from its service worker --------------------------
        network = Network(driver)
        assert network.offline(True) == 1  # the page and its one service worker
        _wait(driver, "return navigator.onLine === false")
        driver.refresh()
        _wait(driver, "return window.gridgisReady === true", timeout=30)
        assert driver.execute_script("return navigator.onLine") is False
        assert driver.execute_script(
            "return document.querySelectorAll('#work-list li[data-id]').length") == 1
        # the emulation holds for the page and for its service worker: a reading the
        # worker has not kept fails, one it kept is answered from its cache
        probe = _run(driver, "fetch('/field/visits/today?probe=1').then(r => r.status)")
        assert probe == {"error": "TypeError: Failed to fetch"}, probe
        assert _run(driver, "fetch('/field/work').then(r => r.status)") == 200

        # handle the dispatched incident (a dispatcher will move it on meanwhile)
        driver.find_element("css selector", "#work-list li[data-id]").click()
        driver.find_element("id", "wd-note").send_keys("已到场")
        driver.find_element("id", "wd-act").click()

        # report a safety hazard with a photo, at my position
        driver.find_element("css selector", ".tabs button[data-tab=report]").click()
        driver.find_element("css selector", "#cats button[data-cat=safety_hazard]").click()
        driver.find_element("id", "r-desc").send_keys("井盖缺失 manhole cover missing")
        driver.find_element("id", "r-photos").send_keys(str(_photo(tmp_path)))
        _wait(driver, "return document.getElementById('r-pos').textContent !== '—'")
        driver.find_element("id", "r-send").click()
        _wait(driver, "return document.getElementById('r-msg').textContent.includes('#')")
        _shot(driver, tmp_path, "2-report-offline")

        # patrol: a fix every 0.4 s while walking east
        driver.find_element("css selector", ".tabs button[data-tab=patrol]").click()
        driver.execute_script("window.fieldApp.state.intervalMs = 400")
        _here(driver, *WALK[0])
        driver.find_element("id", "duty").click()
        for lon, lat in WALK[1:]:
            _here(driver, lon, lat)
            time.sleep(0.45)
        driver.find_element("id", "duty").click()
        fixes = driver.execute_script("return window.fieldApp.state.fixes")
        assert fixes >= len(WALK) - 2

        # two visits: the key household's building, then the shed (matched when sent)
        driver.find_element("css selector", ".tabs button[data-tab=visits]").click()
        for (lon, lat), key in ((HOUSE, True), (SHED, False)):
            _here(driver, lon, lat)
            driver.find_element("id", "v-find").click()
            # offline, the nearest of my grids' buildings kept on the phone: this one
            _wait(driver, "const li = document.querySelector('#v-buildings li.on');"
                          "return li !== null && li.dataset.building !== ''")
            if key:
                driver.find_element("id", "v-key").click()
            driver.find_element("id", "v-note").send_keys("走访")
            driver.find_element("id", "v-save").click()
            time.sleep(0.2)
        driver.find_element("id", "queue-badge").click()
        _shot(driver, tmp_path, "3-queue-offline")

        queued = _run(driver, "window.fieldApp.queue.list()")
        kinds = [q["kind"] for q in queued]
        assert kinds[:3] == ["step", "incident", "photo"] and kinds.count("visit") == 2
        assert "fixes" in kinds
        assert len({q["key"] for q in queued}) == len(queued)  # one key per write
        assert _counts(db) == before, "nothing may reach the server while offline"

        # a dispatcher returns the incident meanwhile: the worker's step is now stale
        iid = int(driver.execute_script(
            "return window.fieldApp.state.work[0].id"))
        moved = requests.post(f"{base}/incidents/{iid}/transitions", headers=district,
                              json={"action": "return", "version": 1}, timeout=10)
        assert moved.status_code == 200, moved.text

        # -- back online: the queue is sent in order ----------------------------------
        t0 = time.perf_counter()
        network.offline(False)
        _wait(driver, "return navigator.onLine === true")
        _run(driver, "window.fieldApp.flush()")
        left = _wait(driver, "return document.querySelectorAll('#queue-list li[data-seq]')"
                             ".length === 1 && 1", timeout=30)
        seconds = time.perf_counter() - t0
        assert left == 1
        conflict = driver.execute_script(
            "return document.querySelector('#queue-list li[data-state=conflict]').innerText")
        assert f"incident {iid} changed" in conflict
        _shot(driver, tmp_path, "4-queue-conflict")

        after = _counts(db)
        assert after["incidents"] == before["incidents"] + 1
        assert after["photos"] == before["photos"] + 1
        assert after["fixes"] == fixes
        assert after["visits"] == 2
        assert after["steps"] == before["steps"]  # the stale step was not applied
        with db.connect() as conn:
            new = conn.execute(text("SELECT category, grid_code, description FROM incidents "
                                    "ORDER BY id DESC LIMIT 1")).one()
            visits = conn.execute(text("SELECT building_id, household_ref FROM visits "
                                       "ORDER BY id")).all()
        assert new.category == "safety_hazard" and new.grid_code == MINE[0]
        assert [tuple(v) for v in visits] == [(1, "KH-7"), (2, None)]

        # a second replay of the queue (the answers lost): the first answers, nothing new
        replay = _run(driver, "window.fieldApp.queue.replaySent()")
        assert len(replay) == len(queued) - 1 and all(r["same"] for r in replay), replay
        assert _counts(db) == after

        # the dispatcher sees the patrol: a track line, and the grid patrolled this window
        tracks = requests.get(f"{base}/patrol/tracks", headers=district,
                              params={"worker": "w-field"}, timeout=10).json()
        assert [f["properties"]["fixes"] for f in tracks["features"]] == [fixes]
        window = datetime.now(timezone.utc) - timedelta(hours=1)
        comp = requests.get(f"{base}/patrol/compliance", headers=district, timeout=30, params={
            "area": MINE[0], "from": window.isoformat(), "min_minutes": 0}).json()
        assert any(r["grid"] == MINE[0] and r["patrolled"] and r["workers"] == 1
                   for r in comp["items"]), comp
        # Chinese first, English a tap away
        tab = "document.querySelector('.tabs button[data-tab=work]').textContent"
        assert driver.execute_script(f"return {tab}") == "我的任务"
        driver.find_element("id", "lang").click()
        assert driver.execute_script(f"return {tab}") == "My work"
        driver.find_element("css selector", ".tabs button[data-tab=patrol]").click()
        _shot(driver, tmp_path, "5-patrol-english")
        network.close()
        print(f"\nqueue replay of {len(queued)} offline writes ({fixes} fixes): "
              f"{seconds:.2f} s, 1 conflict kept")


def test_a_queue_of_500_offline_writes_is_sent_once_and_a_replay_adds_nothing(
        db, pg_url, district, tmp_path, phone):
    """500 writes made offline (fix batches, visits, reports) are sent in order when the
    connection returns; sending every one of them again with its key (the phone lost the
    answers) stores nothing new and gets the first answers back."""
    driver = phone
    with live_server(pg_url, tmp_path) as base:
        driver.execute_cdp_cmd("Browser.grantPermissions",
                               {"origin": base, "permissions": ["geolocation"]})
        _here(driver, *HOUSE)
        open_field_app(driver, base)
        _wait(driver, "return !!navigator.serviceWorker.controller", timeout=20)
        network = Network(driver)
        network.offline(True)
        _wait(driver, "return navigator.onLine === false")
        before = _counts(db)
        _run(driver, """(async () => {
            const q = window.fieldApp.queue, t0 = Date.now();
            for (let i = 0; i < 500; i++) {
              const at = new Date(t0 - (500 - i) * 30000).toISOString();
              if (i % 5 === 3) await q.enqueue({kind: "visit", method: "POST", url: "/visits",
                  json: {building_id: 1 + (i % 2), note: `v${i}`, time: at}});
              else if (i % 25 === 0) await q.enqueue({kind: "incident", method: "POST",
                  url: "/incidents", json: {lon: 120.105, lat: 30.2655, category: "environment",
                  subcategory: "garbage", description: `r${i}`, reported_at: at}});
              else await q.enqueue({kind: "fixes", method: "POST", url: "/patrol/points",
                  json: {points: [{time: at, lon: 120.104 + i * 1e-6, lat: 30.265, accuracy: 5}]}});
            }
        })()""")
        assert _counts(db) == before
        t0 = time.perf_counter()
        network.offline(False)
        _wait(driver, "return navigator.onLine === true")
        report = _run(driver, "window.fieldApp.flush()")
        _wait(driver, "return document.getElementById('queue-badge').textContent === '0'",
              timeout=120)
        send_s = time.perf_counter() - t0
        after = _counts(db)
        added = {k: after[k] - before[k] for k in after}
        assert added == {"incidents": 20, "photos": 0, "fixes": 380, "visits": 100, "steps": 0}
        t1 = time.perf_counter()
        replay = _run(driver, "window.fieldApp.queue.replaySent()")
        replay_s = time.perf_counter() - t1
        assert len(replay) == 500 and all(r["same"] for r in replay), report
        assert {r["status"] for r in replay} == {201}
        assert _counts(db) == after  # duplicates: 0
        network.close()
        print(f"\n500 offline writes sent in {send_s:.1f} s; replayed with the same keys in "
              f"{replay_s:.1f} s: 0 duplicates")
