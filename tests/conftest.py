"""Shared fixtures: one throwaway PostGIS cluster per test session (the same embedded
machinery users run), migrated once; each database test starts from empty tables.

A missing PostgreSQL/PostGIS is a failure, never a skip. ``GRIDGIS_TEST_DATABASE_URL``
points the suite at an existing server instead (it must be disposable: tables are
truncated)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import text

from gis.settings import Settings
from gis.store.db import make_engine, migrate
from gis.store.embedded import EmbeddedCluster
from gis.store.models import Base


@pytest.fixture(scope="session")
def pg_url():
    external = os.environ.get("GRIDGIS_TEST_DATABASE_URL")
    if external:
        yield external
        return
    root = Path(tempfile.mkdtemp(prefix="gg-test-"))
    os.chmod(root, 0o755)  # the server user must be able to enter it when we are root
    cluster = EmbeddedCluster(root, durable=False)
    cluster.start()
    try:
        yield cluster.url()
    finally:
        cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def engine(pg_url):
    eng = make_engine(pg_url)
    migrate(eng)
    yield eng
    eng.dispose()


TABLES = ", ".join(t.name for t in Base.metadata.sorted_tables)


@pytest.fixture
def db(engine):
    """The migrated engine, with every gridgis table emptied before the test."""
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    return engine


@pytest.fixture
def settings(pg_url, tmp_path):
    return Settings(database_url=pg_url, data_dir=tmp_path / "data")


@pytest.fixture
def client(db, settings):
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(settings, engine=db)) as c:
        yield c


@pytest.fixture
def make_user(db):
    """make_user(role, scope_code=None, password=None) -> (Principal-ish dict, headers)."""
    from gis.store.db import transaction
    from gis.store.users import add_user, issue_token

    def _make(role="admin", scope_code=None, username=None, password=None):
        with transaction(db) as session:
            user = add_user(session, username or f"{role}-{scope_code or 'all'}", role,
                            scope_code=scope_code, password=password)
            token = issue_token(session, user)
        return {"Authorization": f"Bearer {token}"}

    return _make


@pytest.fixture
def admin_headers(make_user):
    return make_user("admin")


@pytest.fixture
def grid_area(db):
    """``db`` with grid_fixtures' county, townships, communities and grids loaded: the
    place most incident tests report into."""
    import grid_fixtures

    grid_fixtures.insert_units_and_grids(db)
    return db
