"""The issue 16 pages in real headless Chromium against a real uvicorn server (the "Done
when" loop): a grid worker reports with a photo (over HTTP) -> the dispatcher, on the map,
sees the suggested department and dispatches to it -> the department, on its queue page,
reports in and feeds back with a photo -> the dispatcher verifies and closes; a second
incident is whistled to two departments on the map and cannot be verified until both fed
back; a duplicate is merged on the map and counted once in /incidents/stats; a clock
override of /supervision/run makes a department overdue and the supervision notice shows
in the department's inbox on its page and in the township centre's inbox on the map.
Then the later steps (items 10-11): a department asks for more time on its page, the
dispatcher approves it on the map and the part is no longer overdue; an unsatisfied
call-back recorded on the map's card reopens the case (重办, in the card's timeline), which
is back in the department's queue, marked; so does a new report of a case closed lately,
merged into it from the new report's card.

Screenshots (1280x800) go to the test's tmp_path, and to $GRIDGIS_SHOTS when set."""

from __future__ import annotations

import os
import shutil
import time
from datetime import datetime, timedelta

import grid_fixtures as fx
import httpx
import pytest
from sqlalchemy import text
from photo_fixtures import photo

from gis.services import accounts
from layers_data import browser, live_server  # noqa: F401  (headless Chromium fixture)
from helpers import wait_for as _wait

PASSWORD = "correct horse"
SPOT = (113.005, 28.005)          # grid A, township 1
OTHER = (113.015, 28.005)         # grid B, ~1 km east
DUP_SPOT = (113.005, 28.008)      # ~330 m north of SPOT
THIRD = (113.008, 28.003)         # grid A, ~360 m south-east of SPOT




def _shot(driver, tmp_path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    path.write_bytes(driver.get_screenshot_as_png())
    if os.environ.get("GRIDGIS_SHOTS"):
        shutil.copy(path, os.environ["GRIDGIS_SHOTS"])


def _login(driver, base: str, username: str, page: str) -> None:
    driver.get("about:blank")        # stop the open page's polls before logging out
    _no_browser_errors(driver)       # ... and nothing went wrong on it
    driver.delete_all_cookies()
    driver.get(f"{base}/login?next={page}")
    driver.find_element("id", "username").send_keys(username)
    driver.find_element("id", "password").send_keys(PASSWORD)
    driver.find_element("id", "submit").click()
    _wait(driver, f"return window.location.pathname === '{page}'")
    if page == "/map":
        _wait(driver, "return window.gridgisReady === true", timeout=30)
    else:
        _wait(driver, "return !!document.body.dataset.loaded")


# -- the dispatcher map --------------------------------------------------------------------
def _open(driver, incident_id: int, status: str | None = None) -> None:
    box = driver.find_element("id", "find-id")
    box.clear()
    box.send_keys(str(incident_id))
    driver.find_element("css selector", "#find-incident button").click()
    _wait(driver, f"return document.getElementById('panel').dataset.incidentId === "
                  f"'{incident_id}' && !!document.getElementById('inc-actions')"
                  + (f" && document.getElementById('panel-body').dataset.status === '{status}'"
                     if status else ""))


def _panel_status(driver, status: str) -> None:
    _wait(driver, "return document.getElementById('panel-body').dataset.status === "
                  f"'{status}' && !!document.getElementById('inc-actions')")


def _act(driver, action: str, then: str) -> None:
    driver.find_element("css selector", f"#inc-actions button[data-action='{action}']").click()
    _panel_status(driver, then)


def _panel_text(driver) -> str:
    return driver.find_element("id", "panel-body").text


def _thumbs_loaded(driver, selector: str, n: int) -> None:
    _wait(driver, f"const i = [...document.querySelectorAll('{selector}')]; return i.length "
                  f"=== {n} && i.every(x => x.complete && x.naturalWidth > 0);")


def _filter_department(driver, code: str, expected: set[int], tmp_path) -> None:
    """The map's department filter draws only the incidents routed or summoned to it."""
    driver.execute_script("const s = document.getElementById('f-department'); "
                          f"s.value = '{code}'; s.dispatchEvent(new Event('change'));")
    _wait(driver, "return document.getElementById('f-department-count').textContent === "
                  f"'{len(expected)}'")
    drawn = _wait(driver, "const v = window.gridgisMap.queryRenderedFeatures({layers: "
                          f"['dept-incidents']}}).map(f => f.id); return v.length === "
                          f"{len(expected)} && v;")
    assert set(drawn) == expected
    _shot(driver, tmp_path, "5b-department-filter")
    assert driver.execute_script("return window.gridgisMap.getLayoutProperty("
                                 "'incident-clusters', 'visibility')") == "none"
    driver.execute_script("const s = document.getElementById('f-department'); "
                          "s.value = ''; s.dispatchEvent(new Event('change'));")
    _wait(driver, "return window.gridgisMap.queryRenderedFeatures({layers: "
                  "['dept-incidents']}).length === 0")


# -- the department page -------------------------------------------------------------------
def _card(driver, section: str, incident_id: int):
    _wait(driver, f"return !!document.querySelector('#list-{section} "
                  f".card[data-id=\"{incident_id}\"]')", timeout=30)
    return driver.find_element("css selector", f"#list-{section} .card[data-id='{incident_id}']")


def _acknowledge(driver, incident_id: int) -> None:
    _card(driver, "waiting", incident_id).find_element("css selector", ".do-ack").click()
    _wait(driver, f"const c = document.querySelector('.card[data-id=\"{incident_id}\"]');"
                  " const e = c && c.querySelector('.error').textContent;"
                  " if (e) throw new Error(e);"
                  " return c && c.classList.contains('state-acknowledged');")


def _feed_back(driver, incident_id: int, note: str, image_path=None) -> None:
    card = _card(driver, "handling", incident_id)
    card.find_element("css selector", "textarea.note").send_keys(note)
    if image_path is not None:
        card.find_element("css selector", "input.photo").send_keys(str(image_path))
    card.find_element("css selector", ".do-feedback").click()
    _wait(driver, f"return !document.querySelector('.card[data-id=\"{incident_id}\"]')")


def _inbox_kinds(driver) -> str:
    return _wait(driver, "const n = Number(document.getElementById('inbox-count')"
                         ".textContent); const t = document.getElementById('inbox-list')"
                         ".innerText; return n > 0 && t.includes('督办') && t;", timeout=20)


def _no_browser_errors(driver, expected: str | None = None) -> None:
    """No script errors or failed requests so far, but the one ``expected`` refusal."""
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"
              and "favicon" not in e["message"]
              and not (expected and expected in e["message"] and "409" in e["message"])]
    assert not errors, errors


@pytest.fixture
def setup(db, make_user, tmp_path):
    fx.insert_units_and_grids(db)
    people = {"admin": make_user("admin", username="root"),
              "worker": make_user("grid_worker", fx.COMM1, username="worker-a"),
              "centre": make_user("dispatcher", fx.COUNTY, username="centre",
                                  password=PASSWORD),
              "town": make_user("dispatcher", fx.TOWN1, username="town1-centre",
                                password=PASSWORD)}
    image = tmp_path / "after.jpg"
    image.write_bytes(photo())
    return people, image


def _api(base: str, people: dict) -> dict:
    """One HTTP client per account (bearer tokens), against the live server."""
    return {name: httpx.Client(base_url=base, headers=h, timeout=30)
            for name, h in people.items()}


def _setup_departments(db, http) -> dict:
    """Two departments, a clerk each (``CODE-clerk``), a routing rule; the clerks' headers."""
    clerks = {}
    for code, name in (("zhujian", "县住建局"), ("chengguan", "县城管局")):
        resp = http["admin"].post("/departments", json={"code": code, "name": name,
                                                        "area_code": fx.COUNTY})
        assert resp.status_code == 201, resp.text
        token = accounts.add_user(db, f"{code}-clerk", "department", department_code=code,
                                  password=PASSWORD)["token"]
        clerks[code] = {"Authorization": f"Bearer {token}"}
    resp = http["admin"].post("/routing-rules", json={
        "category": "public_facility", "subcategory": "road", "area_code": fx.COUNTY,
        "department_code": "zhujian"})
    assert resp.status_code == 201, resp.text
    return clerks


def _report(client, where, category, subcategory, text, with_photo=False) -> int:
    resp = client.post("/incidents", json={"lon": where[0], "lat": where[1],
                                           "category": category, "subcategory": subcategory,
                                           "description": text})
    assert resp.status_code == 201, resp.text
    incident_id = resp.json()["id"]
    if with_photo:
        up = client.post(f"/incidents/{incident_id}/attachments", data={"step": "report"},
                         files={"file": ("kerb.jpg", photo(), "image/jpeg")})
        assert up.status_code == 201, up.text
    return incident_id


def _status(client, incident_id: int) -> str:
    return client.get(f"/incidents/{incident_id}").json()["properties"]["status"]


def test_the_whole_loop_in_the_pages(db, pg_url, tmp_path, setup, browser):
    people, image = setup
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False})
    with live_server(pg_url, tmp_path) as base:
        http = _api(base, people)
        _setup_departments(db, http)
        worker = http["worker"]
        first = _report(worker, SPOT, "public_facility", "road", "collapsed kerb", True)
        second = _report(worker, OTHER, "environment", "sewage", "blocked drain")
        keep = _report(worker, DUP_SPOT, "environment", "garbage", "rubbish heap")
        dup = _report(worker, (DUP_SPOT[0] + 0.0002, DUP_SPOT[1]), "environment", "garbage",
                      "rubbish heap again")

        # the dispatcher sees the suggestion and the worker's photo, and dispatches to it
        _login(browser, base, "centre", "/map")
        _open(browser, first, "reported")
        assert "zhujian" in browser.find_element("id", "inc-suggested").text
        _thumbs_loaded(browser, "#inc-photos img.thumb", 1)
        _act(browser, "accept", "accepted")
        browser.find_element("css selector", "#inc-actions button[data-action='dispatch']").click()
        _wait(browser, "return document.getElementById('dispatch-dialog').open")
        assert browser.execute_script(
            "return document.getElementById('dispatch-department').value") == "zhujian"
        _shot(browser, tmp_path, "1-dispatch-dialog")
        browser.find_element("id", "dispatch-submit").click()
        _panel_status(browser, "dispatched")
        assert "zhujian" in browser.find_element("id", "inc-department").text

        # the second incident: the grid's own staff, then a whistle to two departments
        _open(browser, second, "reported")
        _act(browser, "accept", "accepted")
        browser.find_element("css selector", "#inc-actions button[data-action='dispatch']").click()
        _wait(browser, "return document.getElementById('dispatch-dialog').open")
        browser.execute_script("document.getElementById('dispatch-department').value = ''")
        browser.find_element("id", "dispatch-submit").click()
        _panel_status(browser, "dispatched")
        _act(browser, "handle", "handling")
        _act(browser, "feedback", "feedback")
        browser.find_element("id", "inc-whistle-open").click()
        _wait(browser, "return document.getElementById('whistle-dialog').open")
        for code in ("zhujian", "chengguan"):
            browser.find_element("css selector", f"#whistle-departments input[value='{code}']"
                                 ).click()
        browser.find_element("id", "whistle-note").send_keys("drain and road both")
        _shot(browser, tmp_path, "2-whistle-dialog")
        browser.find_element("id", "whistle-submit").click()
        _wait(browser, "return document.querySelectorAll('#panel-body tr[data-dept]')"
                       ".length === 2 && !document.getElementById('whistle-dialog').open")

        # the duplicate: listed on the survivor's card, merged there, counted once
        before = sum(g["incidents"] for g in http["centre"].get("/incidents/stats").json()[
            "grids"])
        _open(browser, keep, "reported")
        _wait(browser, f"return !!document.querySelector('#inc-dups li[data-id=\"{dup}\"]')")
        _shot(browser, tmp_path, "3-duplicates")
        browser.find_element("css selector", f"#inc-dups button[data-merge='{dup}']").click()
        _wait(browser, f"return !document.querySelector('#inc-dups li[data-id=\"{dup}\"]')")
        gone = http["centre"].get(f"/incidents/{dup}").json()["properties"]
        assert gone["status"] == "closed" and gone["events"][-1]["note"] == f"merged into #{keep}"
        after = sum(g["incidents"] for g in http["centre"].get("/incidents/stats").json()[
            "grids"])
        assert after == before - 1

        # 住建 reports in on both and feeds back with a photo on the first
        _login(browser, base, "zhujian-clerk", "/department")
        assert browser.find_element("id", "n-waiting").text == "2"
        _shot(browser, tmp_path, "4-department-waiting")
        _acknowledge(browser, first)
        _acknowledge(browser, second)
        _card(browser, "handling", second)
        _feed_back(browser, first, "kerb rebuilt", image)
        _feed_back(browser, second, "road part done")
        photos = http["centre"].get(f"/incidents/{first}/attachments").json()["attachments"]
        assert [a["step"] for a in photos] == ["report", "feedback"]
        assert _status(http["centre"], first) == "feedback"

        # 城管 only reports in: the second incident cannot be verified yet
        _login(browser, base, "chengguan-clerk", "/department")
        _acknowledge(browser, second)
        _card(browser, "handling", second)
        _shot(browser, tmp_path, "5-department-handling")

        _login(browser, base, "centre", "/map")
        _filter_department(browser, "zhujian", {first, second}, tmp_path)
        _open(browser, first, "feedback")
        _thumbs_loaded(browser, "#inc-photos img.thumb", 2)
        _act(browser, "verify", "verified")
        _act(browser, "close", "closed")
        _open(browser, second, "feedback")
        browser.find_element("css selector", "#inc-actions button[data-action='verify']").click()
        refused = _wait(browser, "const t = document.getElementById('inc-error').textContent;"
                                 " return t.length > 0 && t;")
        assert "409" in refused and "chengguan" in refused and "zhujian" not in refused
        assert _status(http["centre"], second) == "feedback"
        _shot(browser, tmp_path, "6-verify-refused")
        _no_browser_errors(browser, expected=f"/incidents/{second}/transitions")

        _login(browser, base, "chengguan-clerk", "/department")
        _feed_back(browser, second, "drain cleared")
        _login(browser, base, "centre", "/map")
        _open(browser, second, "feedback")
        _act(browser, "verify", "verified")
        _act(browser, "close", "closed")

        # a whistle reaches the department's open page without a reload (the inbox poll)
        _login(browser, base, "zhujian-clerk", "/department")
        late = _report(worker, (113.002, 28.002), "public_facility", "road", "pothole")
        started = time.monotonic()
        out = http["centre"].post(f"/incidents/{late}/whistle",
                                  json={"departments": ["zhujian"]})
        assert out.status_code == 200, out.text
        _card(browser, "waiting", late)
        shown_after = time.monotonic() - started
        print(f"\nwhistle to the department's page: {shown_after:.1f} s")
        assert shown_after < 10, shown_after      # one poll of 5 s, and drawing

        # supervision: a clock override makes 住建 late to report in
        due = datetime.fromisoformat(out.json()["properties"]["summons"][0]["ack_due_at"])
        run = http["admin"].post("/supervision/run",
                                 json={"at": (due + timedelta(minutes=1)).isoformat()})
        assert run.status_code == 200, run.text
        assert [n["incident_id"] for n in run.json()["raised"]] == [late]
        text = _inbox_kinds(browser)               # on the page already open
        assert f"#{late}" in text
        browser.find_element("id", "inbox-button").click()
        _shot(browser, tmp_path, "7-department-inbox")

        _login(browser, base, "town1-centre", "/map")          # the level above
        text = _inbox_kinds(browser)
        assert f"#{late}" in text
        browser.find_element("id", "inbox-button").click()
        browser.find_element("css selector", f"#inbox-list li[data-incident='{late}']").click()
        _wait(browser, f"return document.getElementById('panel').dataset.incidentId === "
                       f"'{late}' && !!document.getElementById('inc-actions')")
        _shot(browser, tmp_path, "8-centre-inbox")
        _no_browser_errors(browser)
        for client in http.values():
            client.close()


def test_the_department_page_asks_to_log_in_and_serves_no_inline_script(client, db,
                                                                       make_user):
    resp = client.get("/department", follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/login?next=/department"
    fx.insert_units_and_grids(db)
    with db.begin() as conn:
        conn.execute(text(
            "INSERT INTO departments (code, name, area_code) VALUES ('zhujian', '县住建局', :c)"),
            {"c": fx.COUNTY})
    token = accounts.add_user(db, "zj-clerk", "department", department_code="zhujian")["token"]
    page = client.get("/department", headers={"Authorization": f"Bearer {token}"})
    assert page.status_code == 200 and "script-src 'self'" in page.headers[
        "content-security-policy"]
    assert '"department": "zhujian"' in page.text
    assert "<script>" not in page.text and "<script src=\"/static/department.js\">" in page.text


# -- the later steps: time requests (延期申请) and call-back (回访) --------------------------
def _step(client, incident_id: int, action: str, headers=None, **extra) -> dict:
    version = client.get(f"/incidents/{incident_id}").json()["properties"]["version"]
    resp = client.post(f"/incidents/{incident_id}/transitions", headers=headers,
                       json={"action": action, "version": version, **extra})
    assert resp.status_code == 200, resp.text
    return resp.json()["properties"]


def _at_department(http, clerk: dict, where, text: str, *, fed_back: bool) -> int:
    """A case dispatched to 住建 and acknowledged (and fed back when ``fed_back``)."""
    incident_id = _report(http["worker"], where, "public_facility", "road", text)
    _step(http["centre"], incident_id, "accept")
    _step(http["centre"], incident_id, "dispatch", department_code="zhujian")
    _step(http["centre"], incident_id, "acknowledge", headers=clerk)
    if fed_back:
        _step(http["centre"], incident_id, "feedback", headers=clerk, note="kerb fixed")
    return incident_id


def _backdate_part(db, incident_id: int, days: int) -> None:
    """The department received the case ``days`` ago: its handle limit has lapsed."""
    with db.begin() as conn:
        conn.execute(text("UPDATE summons SET summoned_at = summoned_at - make_interval("
                          "days => :d), ack_due_at = ack_due_at - make_interval(days => :d), "
                          "handle_due_at = handle_due_at - make_interval(days => :d) "
                          "WHERE incident_id = :i"), {"d": days, "i": incident_id})


def _part(client, incident_id: int) -> dict:
    return client.get(f"/incidents/{incident_id}/summons").json()["summons"][0]


def test_time_requests_and_call_back_in_the_pages(db, pg_url, tmp_path, setup, browser):
    people, _ = setup
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False})
    with live_server(pg_url, tmp_path) as base:
        http = _api(base, people)
        clerk = _setup_departments(db, http)["zhujian"]
        late = _at_department(http, clerk, SPOT, "kerb: parts on order", fed_back=False)
        _backdate_part(db, late, 14)
        before = _part(http["centre"], late)
        assert before["overdue"] == "handle"
        called = _at_department(http, clerk, OTHER, "kerb loose", fed_back=True)
        done = _at_department(http, clerk, THIRD, "kerb broken", fed_back=True)
        _step(http["centre"], done, "verify")
        _step(http["centre"], done, "close")
        repeat = _report(http["worker"], (THIRD[0] + 0.0002, THIRD[1]), "public_facility",
                         "road", "kerb broken again")

        # 住建 asks for 240 more hours on its page
        _login(browser, base, "zhujian-clerk", "/department")
        card = _card(browser, "overdue", late)
        card.find_element("css selector", "details.more-time summary").click()
        hours = card.find_element("css selector", "form.extend .hours")
        hours.clear()
        hours.send_keys("240")
        card.find_element("css selector", "form.extend .reason").send_keys("parts on order")
        _shot(browser, tmp_path, "9-extension-request")
        card.find_element("css selector", ".do-extend").click()
        _wait(browser, f"return !!document.querySelector('#list-overdue .card[data-id=\"{late}\"]"
                       f" .requests li.req-requested')")
        assert _part(http["centre"], late)["handle_due_at"] == before["handle_due_at"]

        # the dispatcher sees it overdue and the request pending on the card, and approves
        _login(browser, base, "centre", "/map")
        _open(browser, late, "handling")
        assert browser.find_elements("css selector", "#panel-body tr[data-dept].overdue")
        assert "parts on order" in browser.find_element("id", "inc-requests").text
        browser.find_element("css selector", "#inc-requests button[data-approve='1']").click()
        _wait(browser, "return !!document.querySelector('#inc-requests li.req-approved') && "
                       "!document.querySelector('#panel-body tr[data-dept].overdue') && "
                       "!document.querySelector('#inc-requests button')")
        _shot(browser, tmp_path, "10-extension-approved")
        after = _part(http["centre"], late)
        assert after["overdue"] is None and after["handle_due_at"] > before["handle_due_at"]
        assert datetime.fromisoformat(after["handle_due_at"]) > datetime.now().astimezone()
        assert "时限变更" in browser.find_element("id", "inc-timeline").text

        # an unsatisfied call-back on the card reopens the other case (重办)
        _open(browser, called, "feedback")
        browser.find_element("id", "inc-callback-open").click()
        _wait(browser, "return document.getElementById('callback-dialog').open")
        browser.find_element("css selector", "#callback-solved input[value='no']").click()
        browser.execute_script("document.getElementById('callback-satisfaction').value = '1'")
        browser.find_element("id", "callback-note").send_keys("kerb still loose")
        _shot(browser, tmp_path, "11-call-back")
        browser.find_element("id", "callback-submit").click()
        _panel_status(browser, "handling")
        reopen = _wait(browser, "const e = document.querySelector('#inc-timeline li.ev-reopen');"
                                " return e && e.innerText;")
        assert "重办" in reopen and "zhujian" in reopen and "kerb still loose" in reopen
        assert not browser.find_elements("id", "inc-callback-open")   # not before feedback
        _shot(browser, tmp_path, "12-reopened")

        # the new report of the closed case: merged into it from its card, which reopens it
        _open(browser, repeat, "reported")
        reopen_button = (f"#inc-dups li.closed-dup[data-id='{done}'] "
                         f"button[data-reopen='{done}']")
        _wait(browser, f"return !!document.querySelector(\"{reopen_button}\")")
        browser.find_element("css selector", reopen_button).click()
        _wait(browser, f"return document.getElementById('panel').dataset.incidentId === "
                       f"'{done}' && document.getElementById('panel-body').dataset.status === "
                       "'handling'")
        again = _wait(browser, "const e = document.querySelector('#inc-timeline li.ev-reopen');"
                               " return e && e.innerText;")
        assert "repeat_report" in again and f"#{repeat}" in again
        assert _status(http["centre"], repeat) == "closed"

        # back on 住建's page: the extended case is no longer overdue, the reopened one is
        # waiting for its feedback again, marked
        _login(browser, base, "zhujian-clerk", "/department")
        marked = _card(browser, "handling", called)
        assert "重办" in marked.find_element("css selector", ".reopened").text
        _card(browser, "handling", late)
        assert "重办" in _card(browser, "handling", done).find_element(
            "css selector", ".reopened").text
        assert not browser.find_elements("css selector", f"#list-overdue .card[data-id='{late}']")
        assert "已批准" in browser.find_element(
            "css selector", f".card[data-id='{late}'] .requests").text
        _shot(browser, tmp_path, "13-department-after")
        _no_browser_errors(browser)
        for client in http.values():
            client.close()
