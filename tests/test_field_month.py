"""The grid worker's own month in the field app (issue 18): the 我的月度 tab of /m in real
headless Chromium (360x740, the phone's zone Asia/Shanghai) against a real uvicorn server
and PostGIS. The worker has fixes, visits and incidents stored for this month; the tab
shows the six measures, the stars and the notes exactly as GET /workers/assessment gives
them to that worker (read here over HTTP with the worker's own login); offline, a reload
shows the same answer with the time it was fetched; English is a tap away."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import requests
from sqlalchemy import text

from gis.services import assessment as service
from gis.store.users import Principal
from helpers import open_field_app
from layers_data import COMM_A, STREET, live_server
from test_field_app import HOUSE, MINE, WALK, Network, _here, _shot, _wait, district, phone  # noqa: F401

TZ = ZoneInfo("Asia/Shanghai")
ADMIN = Principal(user_id=0, username="loader", role="admin", scope_code=None)
MEASURES = ("patrol", "key_visits", "must_attend", "must_report", "visit_days", "report_weeks")


def _since() -> datetime:
    """A start for this month's stored work: 90 minutes ago, but never before the month
    began in the county's zone (the test may run just after midnight on the 1st)."""
    now = datetime.now(timezone.utc)
    first = now.astimezone(TZ).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return max(now - timedelta(minutes=90), first.astimezone(timezone.utc) + timedelta(seconds=30))


def _store_month(db) -> None:
    t0 = _since()
    step = (datetime.now(timezone.utc) - t0) / 40
    with db.begin() as conn:  # a patrol of 40 fixes walking through my first grid
        conn.execute(text("INSERT INTO patrol_points (worker, time, geom) VALUES "
                          "('w-field', :t, ST_SetSRID(ST_MakePoint(:x, :y), 4326))"),
                     [{"t": t0 + step * i, "x": WALK[i % len(WALK)][0], "y": WALK[0][1]}
                      for i in range(40)])
        # my own safety-hazard report where I walked (必报, and a 必到 case attended), and a
        # dispute in my second grid that nobody attended
        conn.execute(text(
            "INSERT INTO incidents (category, subcategory, status, reporter, reported_at, "
            "grid_code, community_code, township_code, geom) VALUES (:c, :s, 'reported', :r, "
            ":t, :g, :comm, :street, ST_SetSRID(ST_MakePoint(:x, :y), 4326))"), [
            {"c": "safety_hazard", "s": "fire", "r": "w-field", "t": t0 + step * 5,
             "g": MINE[0], "x": WALK[3][0], "y": WALK[3][1], "comm": COMM_A, "street": STREET},
            {"c": "dispute", "s": None, "r": "someone", "t": t0 + step * 6, "g": MINE[1],
             "x": 120.1125, "y": 30.2655, "comm": COMM_A, "street": STREET}])
    # five households today: one day at the norm, the key household once; within seconds
    # of each other and after the county's midnight, so the five never fall on two days
    now = datetime.now(timezone.utc)
    today = now.astimezone(TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    visits_from = max(t0, today.astimezone(timezone.utc) + timedelta(seconds=30))
    for i in range(5):
        service.add_visit(db, ADMIN, {
            "worker": "w-field", "time": visits_from + timedelta(seconds=i),
            "community_code": COMM_A,
            "building_id": 1 if i == 0 else 2, "household_ref": "KH-7" if i == 0 else f"H-{i}",
            "lon": None, "lat": None})


def _shown(driver) -> dict:
    """What the tab shows; the measures in their order on screen (a list: the driver would
    not keep an object's key order)."""
    shown = driver.execute_script("""
        const out = [...document.querySelectorAll('#mo-list li[data-measure]')].map((li) =>
          [li.dataset.measure, li.querySelector('span').textContent, li.querySelector('b').textContent]);
        const s = document.getElementById('mo-star-count');
        return {measures: out, stars: s && Number(s.dataset.stars), starText: s && s.textContent,
                notes: document.getElementById('mo-notes').textContent,
                at: document.getElementById('mo-at').textContent,
                stale: getComputedStyle(document.getElementById('mo-stale')).display !== 'none',
                month: document.getElementById('mo-month').textContent};""")
    order = [m for m, _, _ in shown["measures"]]
    shown["measures"] = {m: {"label": label, "figure": figure} for m, label, figure in shown["measures"]}
    shown["order"] = order
    return shown


def _expected(row: dict) -> dict:
    pairs = {"patrol": ("patrol_windows_done", "patrol_windows_required"),
             "key_visits": ("key_visits_done", "key_visits_required"),
             "must_attend": ("must_attend_verified", "must_attend_cases"),
             "visit_days": ("visit_days_ok", "visit_days"),
             "report_weeks": ("report_weeks_ok", "report_weeks")}
    figures = {k: f"{row[done]} / {row[req]}" for k, (done, req) in pairs.items()}
    return {**figures, "must_report": str(row["must_report_count"])}


def test_my_month_tab_shows_my_assessment_row_and_keeps_it_offline(
        db, pg_url, district, tmp_path, phone):
    driver = phone
    _store_month(db)
    month = datetime.now(TZ).strftime("%Y-%m")
    driver.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "Asia/Shanghai"})
    with live_server(pg_url, tmp_path) as base:
        worker = requests.Session()
        assert worker.post(f"{base}/auth/login", timeout=10, data={
            "username": "w-field", "password": "field pass"}).ok
        api = worker.get(f"{base}/workers/assessment", params={"month": month}, timeout=30)
        assert api.status_code == 200, api.text
        rows = api.json()["workers"]
        assert [r["worker"] for r in rows] == ["w-field"]  # my own row only
        row = rows[0]
        # the stored month counts: not an empty row that any page would match
        assert row["must_report_count"] == 1 and row["must_attend_cases"] == 2
        assert row["visit_days_ok"] == 1 and row["patrol_windows_done"] >= 1, row

        driver.execute_cdp_cmd("Browser.grantPermissions",
                               {"origin": base, "permissions": ["geolocation"]})
        _here(driver, *HOUSE)
        open_field_app(driver, base)
        _wait(driver, "return !!navigator.serviceWorker.controller", timeout=20)

        tab = driver.find_element("css selector", ".tabs button[data-tab=month]")
        assert tab.text == "我的月度"
        tab.click()
        _wait(driver, "return document.querySelectorAll('#mo-list li[data-measure]').length === 6")
        online = _shown(driver)
        assert online["order"] == list(MEASURES)
        assert {k: v["figure"] for k, v in online["measures"].items()} == _expected(row)
        assert online["measures"]["patrol"]["label"].startswith("1 半日一巡")
        assert online["stars"] == row["stars"] and online["starText"].count("★") == row["stars"]
        assert online["notes"] == (f"说明: {row['notes']}" if row["notes"] else "")
        assert online["month"] == month and online["at"].startswith(datetime.now(TZ).strftime("%Y-%m-%d"))
        assert not online["stale"]
        # one column at 360 px: nothing wider than the phone, all five tabs on screen
        assert driver.execute_script("return window.innerWidth") == 360
        assert driver.execute_script("return document.documentElement.scrollWidth") <= 360
        assert driver.execute_script("return Math.max(...[...document.querySelectorAll("
                                     "'.tabs button')].map(b => b.getBoundingClientRect().right))") <= 360
        _shot(driver, tmp_path, "6-my-month")

        # offline: the app reloads from its service worker and shows the last answer kept
        network = Network(driver)
        network.offline(True)
        _wait(driver, "return navigator.onLine === false")
        driver.refresh()
        _wait(driver, "return window.gridgisReady === true", timeout=30)
        driver.find_element("css selector", ".tabs button[data-tab=month]").click()
        _wait(driver, "return getComputedStyle(document.getElementById('mo-stale')).display !== 'none'")
        offline = _shown(driver)
        assert offline["measures"] == online["measures"] and offline["stars"] == online["stars"]
        assert offline["at"] == online["at"]  # the time it was fetched, not now
        _shot(driver, tmp_path, "7-my-month-offline")

        driver.find_element("id", "lang").click()
        english = _shown(driver)
        assert driver.find_element("css selector", ".tabs button[data-tab=month]").text == "My month"
        assert english["measures"]["patrol"]["label"].startswith("1 Half-day patrols")
        assert english["measures"]["visit_days"]["label"] == "5 Days with ≥5 visits"
        assert {k: v["figure"] for k, v in english["measures"].items()} == _expected(row)
        network.close()
        print(f"\nmy month {month}: " + ", ".join(f"{k} {v}" for k, v in _expected(row).items())
              + f", {row['stars']} stars")
