"""The department page's inbox, live, in real headless Chromium against a real uvicorn
server: the page opens the event stream with its session cookie, and each whistle shows on
the badge without waiting for a poll; the time from sending the whistle to the badge
changing is measured (printed, and written to $GRIDGIS_LATENCY_FILE when set; not asserted:
the machine is shared). When the server refuses the stream (every slot taken), the page
falls back to its poll and still shows the whistle."""

from __future__ import annotations

import os
import statistics
import time

import grid_fixtures as fx
import httpx
import pytest

from helpers import add_department, department_headers
from helpers import wait_for as _wait
from layers_data import browser  # noqa: F401  (headless Chromium fixture)
from security_helpers import serve
from test_notification_stream import Stream

PASSWORD = "correct horse"
WHISTLES = 10

BADGE_LOG = """
const badge = document.getElementById('inbox-count');
window.badgeLog = [];
new MutationObserver(() => window.badgeLog.push([Date.now(), badge.textContent]))
  .observe(badge, {childList: true, characterData: true, subtree: true});
"""


@pytest.fixture
def people(db, make_user):
    fx.insert_units_and_grids(db)
    add_department(db, "zhujian", "县住建局", fx.COUNTY)
    department_headers(db, "zhujian", password=PASSWORD)  # logs in as zhujian-clerk
    return {"centre": make_user("dispatcher", fx.COUNTY, username="centre"),
            "admin": make_user("admin", username="root")}


def _login_department(driver, base: str) -> None:
    driver.get(f"{base}/login?next=/department")
    driver.find_element("id", "username").send_keys("zhujian-clerk")
    driver.find_element("id", "password").send_keys(PASSWORD)
    driver.find_element("id", "submit").click()
    _wait(driver, "return window.location.pathname === '/department' && "
                  "!!document.body.dataset.loaded")


def _report(http: httpx.Client) -> int:
    resp = http.post("/incidents", json={"lon": 113.005, "lat": fx.MID_LAT,
                                         "category": "public_facility", "subcategory": "road",
                                         "description": "collapsed kerb"})
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def _whistle(http: httpx.Client, incident_id: int) -> float:
    """Send the whistle; the wall-clock time (ms) it was sent."""
    sent = time.time() * 1000
    resp = http.post(f"/incidents/{incident_id}/whistle", json={"departments": ["zhujian"]})
    assert resp.status_code == 200, resp.text
    return sent


def _badge_at(driver, count: int, timeout: float) -> float:
    """When (ms, the page's clock) the badge first showed ``count``."""
    return _wait(driver, f"const hit = window.badgeLog.find(e => e[1] === '{count}');"
                         " return hit ? hit[0] : null;", timeout=timeout)


def test_a_whistle_shows_on_the_department_page_without_a_poll(db, pg_url, tmp_path, people,
                                                              browser):
    with serve(pg_url, tmp_path) as base, \
            httpx.Client(base_url=base, headers=people["centre"], timeout=30) as centre:
        _login_department(browser, base)
        _wait(browser, "return document.getElementById('inbox-button').dataset.live "
                       "=== 'stream'")
        browser.execute_script(BADGE_LOG)
        latencies = []
        for n in range(1, WHISTLES + 1):
            incident_id = _report(centre)
            sent = _whistle(centre, incident_id)
            latencies.append(_badge_at(browser, n, timeout=20) - sent)
            # the queue reloads on the news: the new case is on the page
            _wait(browser, f"return !!document.querySelector('.card[data-id=\"{incident_id}\"]')")
        assert browser.find_element("id", "inbox-button").get_attribute("data-live") == "stream"
        assert "吹哨" in browser.find_element("id", "inbox-list").get_attribute("textContent")
    summary = (f"whistle -> department page badge over SSE, {WHISTLES} whistles: median "
               f"{statistics.median(latencies):.0f} ms, min {min(latencies):.0f} ms, max "
               f"{max(latencies):.0f} ms")
    print(summary)
    if os.environ.get("GRIDGIS_LATENCY_FILE"):
        with open(os.environ["GRIDGIS_LATENCY_FILE"], "a") as out:
            out.write(summary + "\n")


def test_the_page_polls_when_the_stream_is_refused(db, pg_url, tmp_path, people, browser):
    with serve(pg_url, tmp_path, stream_max=1) as base, \
            httpx.Client(base_url=base, headers=people["centre"], timeout=30) as centre:
        taken = Stream(base, people["admin"])            # the one slot
        try:
            assert taken.status == 200
            _login_department(browser, base)
            _wait(browser, "return document.getElementById('inbox-button').dataset.live "
                           "=== 'poll' && document.getElementById('inbox-count').textContent "
                           "=== '0'")
            browser.execute_script(BADGE_LOG)
            _whistle(centre, _report(centre))
            _badge_at(browser, 1, timeout=15)            # within a 5 s poll
            assert browser.find_element("id", "inbox-button").get_attribute(
                "data-live") == "poll"
        finally:
            taken.close()
