"""The field app's case card asks for more time (issue 16 item 10, 延期申请), in real
headless Chromium against a real server: without a reason in the note nothing is sent; with
one, a request for one more working day on the incident's own due time reaches the server
(through the offline queue) for the level above to decide."""

from __future__ import annotations

import time

from sqlalchemy import text
from test_field_app import district, phone   # noqa: F401 (fixtures)

from helpers import open_field_app
from helpers import wait_for as _wait
from layers_data import live_server


def _requests(db) -> list[dict]:
    with db.connect() as conn:
        return [dict(r) for r in conn.execute(text(
            "SELECT target, kind, amount, unit, reason, requested_by, status "
            "FROM deadline_requests ORDER BY id")).mappings()]


def test_the_case_card_asks_for_one_more_working_day(db, pg_url, district, tmp_path,
                                                     phone):
    driver = phone
    with live_server(pg_url, tmp_path) as base:
        open_field_app(driver, base)
        _wait(driver, "return document.querySelectorAll('#work-list li[data-id]').length")
        driver.find_element("css selector", "#work-list li[data-id]").click()
        extend = driver.find_element("id", "wd-extend")
        assert extend.is_displayed() and extend.text
        extend.click()                     # no reason yet: said so, nothing sent
        _wait(driver, "const m = document.getElementById('wd-meta').textContent; "
                      "return m.includes('延期原因') || m.includes('write why')")
        time.sleep(0.5)
        assert _requests(db) == []
        assert not driver.find_element("id", "work-detail").get_attribute("hidden")
        driver.find_element("id", "wd-note").send_keys("业主外出，下周回来")
        extend.click()
        deadline = time.monotonic() + 20
        while not _requests(db) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _requests(db) == [{"target": "incident", "kind": "extension", "amount": 1.0,
                                  "unit": "working_days", "reason": "业主外出，下周回来",
                                  "requested_by": "w-field", "status": "requested"}]
