"""Small helpers several test files share (kept here so each is written once)."""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import text

from gis.services import accounts


@contextmanager
def migration_sandbox(engine):
    """A connection in one transaction that is rolled back at the end, with ``down(rev)``
    and ``up()`` (to the head) running the Alembic migrations on it: a migration test
    moves the schema and checks it, and leaves the database as it found it."""
    from alembic import command

    from gis.store.db import alembic_config

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        outer = conn.begin()
        cfg.attributes["connection"] = conn
        try:
            yield SimpleNamespace(conn=conn, down=lambda rev: command.downgrade(cfg, rev),
                                  up=lambda: command.upgrade(cfg, "head"))
        finally:
            outer.rollback()


def add_department(engine, code: str, name: str, area_code: str) -> None:
    """Insert department ``code`` (``name``) serving ``area_code``."""
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO departments (code, name, area_code) "
                          "VALUES (:code, :name, :area)"),
                     {"code": code, "name": name, "area": area_code})


def department_headers(engine, code: str, username: str | None = None,
                       password: str | None = None) -> dict:
    """Bearer headers of a new department clerk ``username`` (``CODE-clerk`` unless
    given) of department ``code``; ``password`` lets it also log in to the pages."""
    extra = {"password": password} if password is not None else {}
    token = accounts.add_user(engine, username or f"{code}-clerk", "department",
                              department_code=code, **extra)["token"]
    return {"Authorization": f"Bearer {token}"}


def three_grids_file(path: Path, codes: list[str]) -> Path:
    """Three 0.01° squares (about 980 m × 1110 m) side by side west to east from lon 113,
    lat 28, named ``codes`` in a ``code`` column, written to ``path`` (GeoJSON)."""
    boxes = [shapely.box(113.0 + 0.01 * i, 28.0, 113.01 + 0.01 * i, 28.01) for i in range(3)]
    gpd.GeoDataFrame({"code": codes}, geometry=boxes, crs=4326).to_file(path)
    return path


def served_api(name: str):
    """A module-scoped fixture: the real service under uvicorn over the test database
    (:func:`security_helpers.serve`), its data in a temporary folder ``name``; yields the
    base URL. Use as ``base = served_api("leaks")`` in a test module."""
    from security_helpers import serve

    @pytest.fixture(scope="module")
    def base(pg_url, engine, tmp_path_factory):
        with serve(pg_url, tmp_path_factory.mktemp(name)) as url:
            yield url

    return base


@pytest.fixture
def roles_district(db):
    """The role-matrix district (roles_fixtures) loaded into ``db``."""
    from roles_fixtures import insert_district

    return insert_district(db)


def wait_for(driver, script: str, timeout: float = 20.0):
    """Poll ``script`` in the page until it returns something truthy (its value), or fail
    with the browser's console log, which says why a page did not get there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    logs = driver.get_log("browser") if hasattr(driver, "get_log") else []
    raise AssertionError(f"timed out waiting for: {script}\nbrowser log: {logs}")


def open_field_app(driver, base: str, username: str = "w-field",
                   password: str = "field pass") -> None:
    """Open the field app at ``base``/m and log in (by default as the worker of
    ``test_field_app.district``); returns once the app says it is ready."""
    driver.get(f"{base}/m")
    wait_for(driver, "return !document.getElementById('login-view').hidden")
    driver.find_element("id", "username").send_keys(username)
    driver.find_element("id", "password").send_keys(password)
    driver.find_element("id", "submit").click()
    wait_for(driver, "return window.gridgisReady === true", timeout=30)
