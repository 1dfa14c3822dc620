"""The resident's report page in real headless Chromium against a real uvicorn server
(issue 17, item 3): the phone's position (overridden through the DevTools protocol,
Emulation.setGeolocationOverride) places the pin on our own base map, a likely duplicate
nearby is shown, a photo is attached, the report is sent and its tracking code shown; the
dispatcher's /incidents list has it as reported with channel public; after the
dispatcher accepts it the status page shows the change."""

from __future__ import annotations

import io
import time

import httpx
from PIL import Image

from layers_data import browser, live_server  # noqa: F401 (fixtures)
from roles_fixtures import COUNTY, centre, insert_district
from helpers import wait_for as _wait




def test_a_resident_reports_with_a_photo_and_follows_it(db, pg_url, make_user, tmp_path,
                                                        browser):
    insert_district(db)
    dispatcher = make_user("dispatcher", COUNTY, username="d")
    lon, lat = centre("B")
    photo = tmp_path / "pothole.jpg"
    Image.new("RGB", (320, 240), (120, 90, 60)).save(photo, "JPEG")
    with live_server(pg_url, tmp_path) as base, httpx.Client(base_url=base, timeout=30) as http:
        earlier = http.post("/report", data={"lon": lon + 0.0002, "lat": lat,
                                             "category": "environment"})
        assert earlier.status_code == 201, earlier.text
        browser.execute_cdp_cmd("Browser.grantPermissions", {
            "origin": base, "permissions": ["geolocation"]})
        browser.execute_cdp_cmd("Emulation.setGeolocationOverride", {
            "latitude": lat, "longitude": lon, "accuracy": 5})
        browser.set_window_size(412, 915)  # a phone
        browser.get(f"{base}/report")
        _wait(browser, "return window.reportReady === true")
        browser.find_element("id", "locate").click()
        _wait(browser, f"return document.getElementById('pin-text').textContent"
                       f".includes('{lat:.5f}')")
        browser.execute_script("const s = document.getElementById('category'); "
                               "s.value = 'environment'; s.dispatchEvent(new Event('change'));")
        shown = _wait(browser, "const n = document.getElementById('nearby'); "
                               "return !n.hidden && n.innerText;")
        assert "reported" in shown and " m" in shown  # the earlier report, ~20 m away
        _wait(browser, "return window.reportMap.loaded() && window.reportMap."
                       "queryRenderedFeatures({layers: ['roads', 'grids', 'admin']}).length > 0")
        (tmp_path / "report.png").write_bytes(browser.get_screenshot_as_png())
        browser.find_element("id", "description").send_keys("路面塌陷 The road has caved in")
        browser.find_element("id", "photo").send_keys(str(photo))
        browser.find_element("id", "phone").send_keys("13800001234")
        browser.find_element("id", "submit").click()
        code = _wait(browser, "return window.reportCode")
        assert len(code) == 16
        assert browser.find_element("id", "code").text == code

        listed = http.get("/incidents", params={"status": "reported"},
                          headers=dispatcher).json()["features"]
        (mine,) = [f for f in listed if f["properties"]["description"] and
                   "caved" in f["properties"]["description"]]
        assert mine["properties"]["channel"] == "public"
        assert abs(mine["geometry"]["coordinates"][0] - lon) < 1e-6
        assert abs(mine["geometry"]["coordinates"][1] - lat) < 1e-6

        browser.find_element("id", "code-link").click()
        _wait(browser, "return document.getElementById('status')?.dataset.status === 'reported'")
        accept = http.post(f"/incidents/{mine['id']}/transitions", headers=dispatcher,
                           json={"action": "accept", "version": 1})
        assert accept.status_code == 200
        browser.refresh()
        _wait(browser, "return document.getElementById('status').dataset.status === 'accepted'")
        page = browser.find_element("tag name", "body").text
        assert "已受理" in page and "Accepted" in page
        assert "13800001234" not in page and "d" != page  # no phone on the public page
        errors = [e["message"] for e in browser.get_log("browser")
                  if e["level"] == "SEVERE" and "favicon" not in e["message"]]
        assert not errors, errors
