"""The dispatcher page in real headless Chromium against a real uvicorn server: log in,
the map draws our own tiles (a screenshot with many colours), a click on a grid opens
its panel with the grid's code, and a new incident appears without a reload; the patrol
overlay draws the missed grids and the tracks by worker, the coverage overlay the ratio
per grid, the blind spots and the camera views.

Chromium and chromedriver come from Debian (``apt-get install chromium chromium-driver``);
MapLibre from npm (scripts/install-web-assets.sh). A missing one is a failure."""

from __future__ import annotations

import io
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from PIL import Image
from shapely import Point
from sqlalchemy import text

from gis.store.coverage import RunOptions, run_coverage
from gis.store.db import transaction
from gis.store.models import Camera, PatrolPoint
from layers_data import (COMM_A, COMM_B, COUNTY, GRIDS, XM, YM, browser, ewkt,  # noqa: F401
                         live_server, load_district)
from helpers import wait_for as _wait

WALKED = f"{COMM_A}0001"      # patrolled in both of the last two half-day windows
ONCE = f"{COMM_B}0002"        # patrolled in the last window only: missed once



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


def _walk(worker: str, grid: str, start: datetime, minutes: int = 20) -> list[PatrolPoint]:
    """A fix every 30 s walking east at ~0.5 m/s from the middle of ``grid``."""
    minx, miny, maxx, maxy = GRIDS[grid]
    n = minutes * 2 + 1
    lons = (minx + maxx) / 2 + np.arange(n) * 1.5e-4
    return [PatrolPoint(worker=worker, time=start + timedelta(seconds=30 * i), accuracy=5.0,
                        geom=ewkt(Point(lon, (miny + maxy) / 2))) for i, lon in enumerate(lons)]


def _load_overlay_data(engine) -> None:
    """Patrols in the last two complete half-day windows (Asia/Shanghai, the default) and
    a stored coverage run with a directed camera besides the district's dome."""
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    current = now.replace(hour=0 if now.hour < 12 else 12, minute=0, second=0, microsecond=0)
    with transaction(engine) as session:
        session.add_all(_walk("w1", WALKED, current - timedelta(hours=12, minutes=40))
                        + _walk("w1", WALKED, current - timedelta(minutes=40))
                        + _walk("w2", ONCE, current - timedelta(hours=2)))
        session.add(Camera(code="CAM-3", type="xueliang_a", status="online", azimuth=90.0,
                           fov=60.0, range_m=120.0, geom=ewkt(Point(120.125, YM + 0.0003))))
        session.flush()
        run_coverage(session, COUNTY, RunOptions())


def _screenshot(driver, tmp_path, name: str) -> np.ndarray:
    png = driver.get_screenshot_as_png()
    (tmp_path / f"{name}.png").write_bytes(png)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def _changed_share(a: np.ndarray, b: np.ndarray) -> float:
    return float((np.abs(a - b).sum(axis=2) > 30).mean())


def _rendered(layer: str, prop: str) -> str:
    """JS: the ``prop`` of each feature drawn on ``layer`` (as ``v``)."""
    return (f"const v = window.gridgisMap.queryRenderedFeatures({{layers: ['{layer}']}})"
            f".map(f => f.properties.{prop});")


def _toggle(driver, kind: str) -> None:
    driver.find_element("id", f"ov-{kind}").click()


def _wait_drawn(driver, layer: str, prop: str, n: int) -> list:
    """Wait until ``n`` distinct values of ``prop`` are drawn on ``layer``; returns them."""
    return _wait(driver, _rendered(layer, prop) + f" return new Set(v).size >= {n} && v;")


def test_overlays_draw_missed_grids_tracks_and_blind_spots(db, pg_url, make_user, tmp_path,
                                                            browser):
    load_district(db, incidents=20)
    _load_overlay_data(db)
    make_user("dispatcher", scope_code=COUNTY, username="dispatch-a", password="correct horse")
    with live_server(pg_url, tmp_path) as base:
        _login(browser, base)
        before = _screenshot(browser, tmp_path, "plain")
        assert browser.execute_script(_rendered("patrol-missed-fill", "code") + " return v;") == []

        _toggle(browser, "patrol")
        missed = set(GRIDS) - {WALKED}
        assert set(_wait_drawn(browser, "patrol-missed-fill", "code", 3)) == missed
        assert set(_wait_drawn(browser, "patrol-tracks", "worker", 2)) == {"w1", "w2"}
        legend = browser.find_element("id", "legend-patrol").text
        assert "w1" in legend and "w2" in legend and "last 2 windows" in legend
        patrol = _screenshot(browser, tmp_path, "patrol")
        assert _changed_share(before, patrol) > 0.05, "the patrol overlay changed nothing"

        browser.execute_script("const n = document.getElementById('ov-missed-n'); "
                               "n.value = '1'; n.dispatchEvent(new Event('change'));")
        once = _wait(browser, _rendered("patrol-missed-fill", "code")
                     + f" return v.length > 0 && !v.includes('{ONCE}') && v;")
        assert set(once) == missed - {ONCE}  # patrolled in the last window

        _toggle(browser, "compliance")
        _wait_drawn(browser, "patrol-compliance", "grid", 4)
        rates = browser.execute_script(
            "return Object.fromEntries(window.gridgisMap.queryRenderedFeatures("
            "{layers: ['patrol-compliance']}).map(f => [f.properties.grid, f.properties.rate]))")
        assert set(rates) == set(GRIDS) and rates[WALKED] > rates[ONCE] > 0
        _toggle(browser, "compliance")
        _toggle(browser, "patrol")  # off again: nothing of it is drawn
        _wait(browser, _rendered("patrol-missed-fill", "code") + " return v.length === 0;")

        _toggle(browser, "coverage")
        spots = _wait_drawn(browser, "blind-spots-fill", "grid_code", 1)
        assert set(spots) <= set(GRIDS)
        assert set(_wait_drawn(browser, "coverage-grids", "code", 4)) == set(GRIDS)
        views = _wait(browser, _rendered("camera-views-fill", "code")
                      + " return v.includes('CAM-3') && v.includes('CAM-1') && v;")
        assert "CAM-2" in views  # offline: drawn grey, still drawn
        assert "盲区" in browser.find_element("id", "legend-coverage").text
        coverage = _screenshot(browser, tmp_path, "coverage")
        assert _changed_share(before, coverage) > 0.05, "the coverage overlay changed nothing"

        south_west = f"{COMM_A}0002"
        assert south_west not in browser.execute_script(
            _rendered("coverage-covered", "grid_code") + " return v;")
        with transaction(db) as session:  # a camera is added and coverage recomputed
            session.add(Camera(code="CAM-4", type="xueliang_a", status="online", azimuth=90.0,
                               fov=60.0, range_m=120.0, geom=ewkt(Point(120.105, YM - 0.0003))))
            session.flush()
            run_coverage(session, COUNTY, RunOptions(only_stale=True))
        _wait(browser, _rendered("coverage-covered", "grid_code")
              + f" return v.includes('{south_west}');")
        errors = [e["message"] for e in browser.get_log("browser")
                  if e["level"] == "SEVERE" and "favicon" not in e["message"]]
        assert not errors, errors  # e.g. an invalid style expression


def test_coverage_layers_serve_the_stored_figures(db, client, admin_headers):
    """The overlays' tiles come from the catalogue: after a run, coverage items carry the
    stored ratio (covered / target) and the grid's blind figures, blind spots the
    distance to their nearest camera (migration 0003 columns)."""
    load_district(db, incidents=20)
    _load_overlay_data(db)
    cov = client.get("/collections/coverage/items?limit=100", headers=admin_headers).json()
    props = [f["properties"] for f in cov["features"]]
    assert props and {p["grid_code"] for p in props} <= set(GRIDS)
    for p in props:
        assert abs(p["ratio"] - p["covered_m2"] / p["target_m2"]) < 1e-9
        assert p["blind_m2"] >= 0 and p["blind_spots"] >= 0 and p["mode"] == "public"
    spots = client.get("/collections/blind_spots/items?limit=100", headers=admin_headers).json()
    assert spots["features"]
    nearest = [(f["properties"]["nearest_camera"], f["properties"]["camera_m"])
               for f in spots["features"]]
    assert {c for c, _ in nearest} <= {"CAM-1", "CAM-3"}  # CAM-2 is offline
    assert all(m >= 0 for _, m in nearest) and any(m > 0 for _, m in nearest)
