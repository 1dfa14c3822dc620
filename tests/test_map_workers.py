"""The dispatcher map's per-worker panel in real headless Chromium against a real uvicorn
server, on the hand-built month of tests/assessment_fixtures.py: a click on grid A lists
its worker's month (from GET /workers/assessment), and a click on the worker opens their
panel with the same figures the API gives; a viewer (no assessment) sees no section."""

from __future__ import annotations

from fastapi.testclient import TestClient

import assessment_fixtures as F
from grid_fixtures import A, COUNTY
from layers_data import browser, live_server  # noqa: F401  (browser is a fixture)
from test_assessment_api import load_month
from test_map_page import _click_lonlat, _wait

PASSWORD = "correct horse"


def _login(driver, base: str, username: str) -> None:
    driver.get(f"{base}/login")
    driver.find_element("id", "username").send_keys(username)
    driver.find_element("id", "password").send_keys(PASSWORD)
    driver.find_element("id", "submit").click()
    _wait(driver, "return window.location.pathname === '/map'")
    _wait(driver, "return window.gridgisReady === true", timeout=30)


def _open_grid_a(driver) -> None:
    driver.execute_script(f"document.getElementById('f-month').value = '{F.MONTH}';"
                          "window.gridgisMap.fitBounds([[113.0, 28.0], [113.01, 28.01]], "
                          "{animate: false});")
    _wait(driver, "return window.gridgisMap.loaded() && window.gridgisMap.queryRenderedFeatures("
                  "{layers: ['grids-fill']}).length > 0")
    _click_lonlat(driver, 113.003, 28.006)
    _wait(driver, f"return document.getElementById('panel').dataset.gridCode === '{A}'")


def test_a_grid_lists_its_workers_and_a_worker_opens_their_month(db, pg_url, settings, make_user,
                                                                 tmp_path, browser):
    load_month(db)
    headers = make_user("dispatcher", COUNTY, username="dispatch-a", password=PASSWORD)
    from api.app import create_app

    with TestClient(create_app(settings, engine=db)) as client:
        api = client.get("/workers/assessment", params={"month": F.MONTH, "area": A},
                         headers=headers).json()
    w1 = next(w for w in api["workers"] if w["worker"] == "w1")
    with live_server(pg_url, tmp_path) as base:
        _login(browser, base, "dispatch-a")
        _open_grid_a(browser)
        _wait(browser, "return document.querySelector('#panel-body .worker-link')")
        links = browser.execute_script(
            "return [...document.querySelectorAll('#panel-body .worker-link')]"
            ".map(a => a.dataset.worker)")
        assert links == [w["worker"] for w in api["workers"]] == ["w1"]
        browser.find_element("css selector", "#panel-body .worker-link").click()
        text = _wait(browser, "const m = document.getElementById('worker-month');"
                              "return m && m.innerText;")
        assert browser.execute_script("return document.getElementById('panel').dataset.worker") \
            == "w1"
        for label, value in (
                ("Patrol windows",
                 f"{w1['patrol_windows_done']} / {w1['patrol_windows_required']}"),
                ("Key households", f"{w1['key_visits_done']} / {w1['key_visits_required']}"),
                ("verified / cases", f"{w1['must_attend_verified']} / {w1['must_attend_cases']}"),
                ("Visit days ok", f"{w1['visit_days_ok']} / {w1['visit_days']}"),
                ("Report weeks ok", f"{w1['report_weeks_ok']} / {w1['report_weeks']}")):
            line = next(t for t in text.splitlines() if label in t)
            assert line.endswith(value), (line, value)
        assert f"({w1['stars']})" in text and "D1" in text and "not proved" in text
        assert F.MONTH in browser.find_element("id", "panel-code").text


def test_a_viewer_sees_no_workers_section(db, pg_url, make_user, tmp_path, browser):
    load_month(db)
    make_user("viewer", COUNTY, username="viewer-a", password=PASSWORD)
    with live_server(pg_url, tmp_path) as base:
        _login(browser, base, "viewer-a")
        _open_grid_a(browser)
        _wait(browser, f"return document.getElementById('panel').dataset.ready === '{A}'")
        assert "Incidents" in browser.find_element("id", "panel-body").text
        assert "考评" not in browser.find_element("id", "panel-body").text
