"""The overview page in real headless Chromium against a real uvicorn server: log in, the
county draws (a screenshot with many colours), a click on a township on the map opens
its figures in the panel, a click on one of its communities drills down further, and
the breadcrumbs lead back up. Nothing is loaded from another host."""

from __future__ import annotations

import io
import time
from datetime import datetime

from PIL import Image

from layers_data import browser, live_server  # noqa: F401
from overview_fixtures import C2, COUNTY, LOCAL, T1, insert_area, insert_recent
from helpers import wait_for as _wait




def _click_lonlat(driver, lon: float, lat: float) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    x, y = driver.execute_script(
        f"const p = window.gridgisMap.project([{lon}, {lat}]); return [p.x, p.y];")
    canvas = driver.find_element("css selector", "#map canvas")
    size = canvas.size  # offsets are from the element's centre
    ActionChains(driver).move_to_element_with_offset(
        canvas, int(x - size["width"] / 2), int(y - size["height"] / 2)).click().perform()


def _panel(driver, code: str) -> str:
    _wait(driver, "const p = document.getElementById('ov-panel');"
                  f"return p.dataset.areaCode === '{code}' && !p.dataset.loading;")
    return driver.find_element("id", "ov-panel").text


def test_overview_draws_and_drills_down(db, pg_url, make_user, tmp_path, browser):
    insert_area(db)
    insert_recent(db, datetime.now(LOCAL))
    make_user("analyst", scope_code=COUNTY, username="leader", password="correct horse")
    with live_server(pg_url, tmp_path) as base:
        browser.get(f"{base}/login?next=/overview")
        browser.find_element("id", "username").send_keys("leader")
        browser.find_element("id", "password").send_keys("correct horse")
        browser.find_element("id", "submit").click()
        _wait(browser, "return window.gridgisReady === true", timeout=30)
        county = _panel(browser, COUNTY)
        assert "西湖县" in county and "2,500" in county  # households of the county

        png = browser.get_screenshot_as_png()
        (tmp_path / "overview.png").write_bytes(png)
        colours = Image.open(io.BytesIO(png)).convert("RGB").resize((300, 200)) \
            .getcolors(maxcolors=100_000)
        assert len(colours) > 30, "the page looks blank"
        drawn = browser.execute_script("return window.gridgisMap.queryRenderedFeatures("
                                       "{layers: ['units-fill']}).map(f => f.properties.code)")
        assert set(drawn) == {T1, "330102002000"}

        _click_lonlat(browser, 120.02, 30.01)  # the middle of township T1
        township = _panel(browser, T1)
        assert "东山街道" in township and "2,150" in township  # its households
        figures = browser.find_element("id", "ov-figures").text
        assert "Out of bounds 2" in figures.replace("\n", " ")
        assert "Overdue 2" in figures.replace("\n", " ")
        assert "柳岸社区" in township  # its communities are listed

        _click_lonlat(browser, 120.03, 30.01)  # community C2 inside T1
        assert "柳岸社区" in _panel(browser, C2)
        browser.find_element("css selector", f"#crumbs a[data-code='{COUNTY}']").click()
        _panel(browser, COUNTY)
        hosts = browser.execute_script(
            "return performance.getEntriesByType('resource').map(e => new URL(e.name).host)")
        assert set(hosts) <= {base.split("//")[1]}, hosts
