"""The dispatcher page in real headless Chromium against a real uvicorn server: log in,
the map draws our own tiles (a screenshot with many colours), a click on a grid opens
its panel with the grid's code, and a new incident appears without a reload.

Chromium and chromedriver come from Debian (``apt-get install chromium chromium-driver``);
MapLibre from npm (scripts/install-web-assets.sh). A missing one is a failure."""

from __future__ import annotations

import io
import time

from PIL import Image
from sqlalchemy import text

from layers_data import GRIDS, XM, YM, browser, live_server, load_district  # noqa: F401

def _wait(driver, script: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    logs = driver.get_log("browser") if hasattr(driver, "get_log") else []
    raise AssertionError(f"timed out waiting for: {script}\nbrowser log: {logs}")


def _login(driver, base: str) -> None:
    driver.get(f"{base}/login")
    driver.find_element("id", "username").send_keys("dispatch-a")
    driver.find_element("id", "password").send_keys("correct horse")
    driver.find_element("id", "submit").click()
    _wait(driver, "return window.location.pathname === '/map'")
    _wait(driver, "return window.gridgisReady === true", timeout=30)


def _click_lonlat(driver, lon: float, lat: float) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    x, y = driver.execute_script(
        f"const p = window.gridgisMap.project([{lon}, {lat}]); return [p.x, p.y];")
    canvas = driver.find_element("css selector", "#map canvas")
    size = canvas.size  # move_to_element_with_offset is relative to the centre
    ActionChains(driver).move_to_element_with_offset(
        canvas, int(x - size["width"] / 2), int(y - size["height"] / 2)).click().perform()


def test_dispatcher_map_draws_opens_a_grid_and_refreshes(db, pg_url, make_user, tmp_path,
                                                         browser):
    load_district(db, incidents=80)
    make_user("dispatcher", scope_code="330102000000", username="dispatch-a",
              password="correct horse")
    with live_server(pg_url, tmp_path) as base:
        _login(browser, base)
        png = browser.get_screenshot_as_png()
        (tmp_path / "map.png").write_bytes(png)
        image = Image.open(io.BytesIO(png)).convert("RGB")
        colours = image.resize((300, 200)).getcolors(maxcolors=100_000)
        assert len(colours) > 50, "the map looks blank"
        rendered = browser.execute_script(
            "return window.gridgisMap.queryRenderedFeatures({layers: ['grids-fill']})"
            ".map(f => f.properties.code)")
        assert set(rendered) == set(GRIDS)

        code = next(iter(GRIDS))  # the north-west grid
        minx, miny, maxx, maxy = GRIDS[code]
        _click_lonlat(browser, minx + (maxx - minx) * 0.3, miny + (maxy - miny) * 0.7)
        _wait(browser, f"return document.getElementById('panel').dataset.gridCode === '{code}'")
        panel = _wait(browser, "const t = document.getElementById('panel').innerText;"
                               "return t.includes('Leader') && t; ")
        assert code in panel and "网格长" in panel

        with db.begin() as conn:  # a report arrives while the page is open
            new_id = conn.execute(text(
                "INSERT INTO incidents (category, status, reported_at, grid_code, "
                "community_code, geom) VALUES ('dispute', 'reported', now(), :g, :c, "
                f"ST_SetSRID(ST_MakePoint({XM - 0.001}, {YM + 0.001}), 4326)) RETURNING id"),
                {"g": code, "c": code[:12]}).scalar()
        _wait(browser, "return window.gridgisMap.querySourceFeatures('incidents', "
                       "{sourceLayer: 'incidents'}).some(f => f.id === %d)" % new_id, timeout=20)
