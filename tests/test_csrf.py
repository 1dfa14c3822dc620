"""Issue 14 finding 3: cross-site request forgery, with a real browser as the attacker's
tool. A victim logs in to the service (uvicorn, real PostGIS) in headless Chromium; a page
served from another origin (a second loopback server on another port: same site, so the
browser does send the SameSite=Lax cookie) auto-submits forms to the service: multipart
/incidents/import, /plans/upload, /plans/crosswalk, and the login form itself. Each is
refused with 403 and nothing is stored; the service's own pages still post.

The rule matrix (cookie or Bearer, Origin, Referer or neither) is pinned over plain HTTP."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from sqlalchemy import text

from layers_data import browser  # noqa: F401  (headless Chromium fixture)
from roles_fixtures import COMM1, X, Y0, Y1, centre, insert_district
from security_helpers import attacker_site, serve, token_headers

PASSWORD = "correct horse battery"
CSV = "category,reported_at,lon,lat\\ndispute,2026-10-30T10:00:00+08:00,{x},{y}\\n"


def _count(engine, sql: str, expect: int | None = None) -> int:
    """A count; with ``expect``, waits up to 3 s for it (on main the request's commit can
    still be running after its answer was sent: the service-layer issue's defect 1)."""
    deadline = time.monotonic() + 3
    while True:
        with engine.connect() as conn:
            n = conn.execute(text(sql)).scalar_one()
        if expect is None or n == expect or time.monotonic() > deadline:
            return n
        time.sleep(0.05)


def _form(action: str, fields: dict[str, str], file: tuple[str, str, str] | None) -> str:
    """An attacker's page: a hidden form that fills in a file (DataTransfer) and submits
    itself as soon as it loads."""
    inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())
    script = ""
    if file:
        name, field, body = file
        inputs += f'<input type="file" name="{field}" id="f">'
        script = (f"const dt = new DataTransfer(); dt.items.add(new File([{json.dumps(body)}"
                  f".replace(/\\\\n/g, '\\n')], {json.dumps(name)})); "
                  "document.getElementById('f').files = dt.files;")
    enctype = "multipart/form-data" if file else "application/x-www-form-urlencoded"
    return (f'<html><body><form id="x" method="post" enctype="{enctype}" action="{action}">'
            f"{inputs}</form><script>{script} document.getElementById('x').submit();"
            "</script></body></html>")


def _wait_for_answer(driver, base: str, timeout: float = 20.0) -> str:
    """The text of the service's answer the forged form navigated to."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if driver.current_url.startswith(base):
            body = driver.execute_script("return document.body ? document.body.innerText : ''")
            if body:
                return body
        time.sleep(0.1)
    raise AssertionError(f"the forged form never reached the service: {driver.current_url}")


def _browser_login(driver, base: str) -> None:
    driver.get(f"{base}/login?next=/auth/me")
    driver.find_element("id", "username").send_keys("victim")
    driver.find_element("id", "password").send_keys(PASSWORD)
    driver.find_element("id", "submit").click()
    deadline = time.monotonic() + 20
    while "victim" not in driver.execute_script("return document.body.innerText"):
        assert time.monotonic() < deadline, "login in the browser failed"
        time.sleep(0.1)


def test_forged_forms_from_another_origin_are_refused_in_a_real_browser(
        db, pg_url, tmp_path, browser):  # noqa: F811
    insert_district(db)
    from gis.store.db import transaction
    from gis.store.users import add_user

    with transaction(db) as session:
        add_user(session, "victim", "admin", password=PASSWORD)
        add_user(session, "mallory", "viewer", scope_code=COMM1, password="mallory-pass")
    x, y = centre("A")
    plan = json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"code": "=HYPERLINK(1)"}, "geometry": {
            "type": "Polygon", "coordinates": [[[X["A"], Y0], [X["A"] + 0.01, Y0],
                                                [X["A"] + 0.01, Y1], [X["A"], Y0]]]}}]})
    with serve(pg_url, tmp_path) as base:
        pages = {
            "import.html": _form(f"{base}/incidents/import", {},
                                 ("in.csv", "file", CSV.format(x=x, y=y))),
            "upload.html": _form(f"{base}/plans/upload", {"name": "forged", "area_code": COMM1},
                                 ("p.geojson", "file", plan)),
            "crosswalk.html": _form(f"{base}/plans/crosswalk",
                                    {"area_code": COMM1, "format": "csv"},
                                    ("p.geojson", "file", plan)),
            "login.html": _form(f"{base}/auth/login",
                                {"username": "mallory", "password": "mallory-pass"}, None),
        }
        _browser_login(browser, base)
        before = {"incidents": _count(db, "SELECT count(*) FROM incidents"),
                  "plans": _count(db, "SELECT count(*) FROM plans"),
                  "sessions": _count(db, "SELECT count(*) FROM api_tokens WHERE name = 'session'")}
        with attacker_site(pages) as evil:
            for page in pages:
                browser.get(f"{evil}/{page}")
                answer = _wait_for_answer(browser, base)
                assert '"status":403' in answer and "cross-origin" in answer, (page, answer)
        after = {"incidents": _count(db, "SELECT count(*) FROM incidents"),
                 "plans": _count(db, "SELECT count(*) FROM plans"),
                 "sessions": _count(db, "SELECT count(*) FROM api_tokens WHERE name = 'session'")}
        assert after == before
        # the victim is still logged in as themselves, not as mallory
        browser.get(f"{base}/auth/me")
        assert '"victim"' in browser.execute_script("return document.body.innerText")
        # the service's own page posts the same file with the same cookie: accepted
        browser.get(f"{base}/login")
        status = browser.execute_async_script(
            "const done = arguments[arguments.length - 1]; const fd = new FormData();"
            f"fd.append('file', new File([{json.dumps(CSV.format(x=x, y=y))}"
            ".replace(/\\\\n/g, '\\n')], 'in.csv'));"
            "fetch('/incidents/import', {method: 'POST', body: fd, credentials: 'same-origin'})"
            ".then(async r => done([r.status, await r.text()]));")
        assert status[0] == 200, status
        expect = before["incidents"] + 1
        assert _count(db, "SELECT count(*) FROM incidents", expect) == expect


@pytest.fixture(scope="module")
def base(pg_url, engine, tmp_path_factory):
    with serve(pg_url, tmp_path_factory.mktemp("csrf")) as url:
        yield url


def _cookie(base: str, db) -> dict[str, str]:
    from gis.store.db import transaction
    from gis.store.users import add_user

    with transaction(db) as session:
        add_user(session, "boss", "admin", password=PASSWORD)
    r = httpx.post(f"{base}/auth/login", data={"username": "boss", "password": PASSWORD})
    assert r.status_code == 200
    return {"gridgis_session": r.json()["token"]}


@pytest.mark.parametrize("headers, credentials, status", [
    ({"Origin": "http://evil.example"}, "cookie", 403),
    ({}, "cookie", 403),                                     # neither Origin nor Referer
    ({"Origin": "null"}, "cookie", 403),                     # sandboxed frame, data: page
    ({"Referer": "http://evil.example/page"}, "cookie", 403),
    ({"Origin": "{base}"}, "cookie", 201),
    ({"Referer": "{base}/map"}, "cookie", 201),              # Origin stripped: Referer
    ({"Origin": "http://evil.example"}, "bearer", 201),      # tokens are not ambient
    ({}, "bearer", 201),
])
def test_cookie_writes_must_come_from_the_services_own_origin(base, db, headers,
                                                              credentials, status):
    insert_district(db)
    x, y = centre("A")
    headers = {k: v.format(base=base) for k, v in headers.items()}
    kwargs = {"cookies": _cookie(base, db)} if credentials == "cookie" else {}
    if credentials == "bearer":
        headers.update(token_headers(db, "dispatcher", COMM1, "phone"))
    with httpx.Client(**kwargs) as client:
        r = client.post(f"{base}/incidents", headers=headers,
                        json={"lon": x, "lat": y, "category": "dispute"})
    assert r.status_code == status, r.text
    expect = 3 + (status == 201)
    assert _count(db, "SELECT count(*) FROM incidents", expect) == expect, r.text


def test_the_login_form_refuses_other_origins_but_not_scripts(base, db):
    from gis.store.db import transaction
    from gis.store.users import add_user

    with transaction(db) as session:
        add_user(session, "boss", "admin", password=PASSWORD)
    form = {"username": "boss", "password": PASSWORD}
    evil = httpx.post(f"{base}/auth/login", data=form, headers={"Origin": "http://evil.example"})
    assert evil.status_code == 403 and "set-cookie" not in evil.headers
    assert httpx.post(f"{base}/auth/login", data=form).status_code == 200  # curl, a script
    own = httpx.post(f"{base}/auth/login", data=form, headers={"Origin": base})
    assert own.status_code == 200
