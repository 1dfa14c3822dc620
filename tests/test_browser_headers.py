"""Issue 14 finding 6: no open redirect after login, and security headers on every page,
in real headless Chromium against uvicorn and the real PostGIS. The login page's
``next`` only ever leads to a path on this service (``/\\evil.example`` and
``/<TAB>/evil.example`` are read by browsers as ``//evil.example``); pages send a CSP that
MapLibre's blob: workers live with (the map still draws, with no CSP violation reported),
frame-ancestors 'none' and X-Frame-Options DENY, nosniff and a Referrer-Policy."""

from __future__ import annotations

import io
import time
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from layers_data import GRIDS, browser, load_district  # noqa: F401
from security_helpers import serve

PASSWORD = "correct horse battery"
# Collects CSP violations from the first script of every document on.
WATCH_CSP = ("window.__csp = []; document.addEventListener('securitypolicyviolation', "
             "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));")


@pytest.fixture
def server(db, pg_url, tmp_path):
    from gis.store.db import transaction
    from gis.store.users import add_user

    load_district(db, incidents=40)
    with transaction(db) as session:
        add_user(session, "dispatch-a", "dispatcher", scope_code="330102000000",
                 password=PASSWORD)
    with serve(pg_url, tmp_path) as base:
        yield base


def _login(driver, base: str, next_: str) -> str:
    """Log in through the page at /login?next=<next_ as typed in the URL>; returns the
    URL the browser ends on."""
    driver.get(f"{base}/login?next={next_}")
    driver.find_element("id", "username").send_keys("dispatch-a")
    driver.find_element("id", "password").send_keys(PASSWORD)
    driver.find_element("id", "submit").click()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        url = driver.current_url
        if not url.startswith(f"{base}/login"):
            return url
        time.sleep(0.1)
    raise AssertionError("the login page never moved on")


@pytest.mark.parametrize("next_", ["/%5Cevil.example", "/%09/evil.example",
                                   "//evil.example", "https://evil.example/x",
                                   "/%5C%5Cevil.example", "%2F%2Fevil.example"])
def test_login_never_redirects_off_site(server, browser, next_):  # noqa: F811
    landed = urlsplit(_login(browser, server, next_))
    assert landed.netloc == urlsplit(server).netloc and landed.path == "/map", landed


def test_login_still_goes_to_a_same_origin_path(server, browser):  # noqa: F811
    landed = urlsplit(_login(browser, server, "/overview?area=330102000000"))
    assert landed.netloc == urlsplit(server).netloc and landed.path == "/overview"


def test_security_headers_on_pages_and_api(server):
    token = httpx.post(f"{server}/auth/login", data={"username": "dispatch-a",
                                                     "password": PASSWORD}).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    for path in ("/login", "/map", "/overview", "/auth/me", "/collections"):
        r = httpx.get(f"{server}{path}", headers=bearer)
        assert r.status_code == 200, (path, r.text)
        h = r.headers
        assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "same-origin"
        csp = {d.split()[0]: d.split()[1:] for d in h["content-security-policy"].split("; ")}
        assert csp["frame-ancestors"] == ["'none'"] and "blob:" in csp["worker-src"]
        assert csp["script-src"] == ["'self'"], "inline scripts stay forbidden"
    assert httpx.get(f"{server}/docs").headers["x-frame-options"] == "DENY"


def test_the_map_renders_under_the_csp_with_no_violation(server, browser):  # noqa: F811
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH_CSP})
    assert urlsplit(_login(browser, server, "/map")).path == "/map"
    deadline = time.monotonic() + 30
    while not browser.execute_script("return window.gridgisReady === true"):
        assert time.monotonic() < deadline, ("the map never got ready",
                                             browser.execute_script("return window.__csp"))
        time.sleep(0.1)
    rendered = browser.execute_script(
        "return window.gridgisMap.queryRenderedFeatures({layers: ['grids-fill']})"
        ".map(f => f.properties.code)")
    assert set(rendered) == set(GRIDS)
    image = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
    assert len(image.resize((300, 200)).getcolors(maxcolors=100_000)) > 50, "blank map"
    assert browser.execute_script("return window.__csp") == []
    header = httpx.get(f"{server}/login").headers.get("content-security-policy", "")
    assert "worker-src 'self' blob:" in header
