"""A small demo-like district for the layer tests (features, tiles, the map page):
one county, one street, two communities, four grids in a 2x2 block, incidents spread
over the grids (some overdue), cameras, roads and a building."""

from __future__ import annotations

import math
import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from shapely import MultiPolygon, box, MultiLineString, Point
from sqlalchemy import Engine

from bench.load_test import wait_until_up
from gis.store.db import transaction
from gis.store.models import AdminUnit, Building, Camera, Grid, GridStaff, Incident, Road

COUNTY, STREET = "330102000000", "330102001000"
COMM_A, COMM_B = "330102001001", "330102001002"
# The district: lon 120.10–120.14, lat 30.25–30.27; community A west, B east.
X0, Y0, X1, Y1 = 120.10, 30.25, 120.14, 30.27
XM, YM = 120.12, 30.26
GRIDS = {  # code -> box (west to east, then north to south)
    f"{COMM_A}0001": (X0, YM, XM, Y1), f"{COMM_A}0002": (X0, Y0, XM, YM),
    f"{COMM_B}0001": (XM, YM, X1, Y1), f"{COMM_B}0002": (XM, Y0, X1, YM),
}
NOW = datetime.now(timezone.utc)


def ewkt(geom) -> str:
    return f"SRID=4326;{geom.wkt}"


def _mp(bounds) -> str:
    return ewkt(MultiPolygon([box(*bounds)]))


def add_admin(session) -> None:
    session.add(AdminUnit(code=COUNTY, name="Demo county", level="county", kind="county",
                          households=4000, geom=_mp((X0, Y0, X1, Y1))))
    session.flush()
    session.add(AdminUnit(code=STREET, name="Demo street", level="township", kind="street",
                          parent_code=COUNTY, households=4000, geom=_mp((X0, Y0, X1, Y1))))
    session.flush()
    session.add_all([
        AdminUnit(code=COMM_A, name="West community", level="community", kind="community",
                  parent_code=STREET, households=2000, geom=_mp((X0, Y0, XM, Y1))),
        AdminUnit(code=COMM_B, name="East community", level="community", kind="community",
                  parent_code=STREET, households=2000, geom=_mp((XM, Y0, X1, Y1)))])
    session.flush()


def add_grids(session) -> None:
    for i, (code, bounds) in enumerate(GRIDS.items()):
        session.add(Grid(code=code, kind="basic", name=f"Grid {i + 1}",
                         community_code=code[:12], households=400 + i, geom=_mp(bounds)))
        session.add(GridStaff(name=f"Leader {i + 1}", role="grid_leader", grid_code=code,
                              phone=f"1380000000{i}"))
    session.flush()


def incident_points(n: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(X0 + 1e-4, X1 - 1e-4, n),
                            rng.uniform(Y0 + 1e-4, Y1 - 1e-4, n)])


def grid_of(lon: float, lat: float) -> str:
    return next(c for c, (a, b, cc, d) in GRIDS.items() if a <= lon <= cc and b <= lat <= d)


def add_incidents(session, n: int = 60, seed: int = 7) -> list[Incident]:
    """``n`` incidents; every 5th closed, every 7th overdue (due in the past, open)."""
    rows = []
    for i, (lon, lat) in enumerate(incident_points(n, seed)):
        code = grid_of(lon, lat)
        status = "closed" if i % 5 == 0 else ("dispatched" if i % 2 else "reported")
        due = NOW - timedelta(hours=1) if i % 7 == 0 and status != "closed" \
            else NOW + timedelta(days=2)
        rows.append(Incident(category="environment", subcategory="garbage",
                             description=f"incident {i}", status=status,
                             reported_at=NOW - timedelta(days=i % 10), due_at=due,
                             closed_at=NOW if status == "closed" else None,
                             grid_code=code, community_code=code[:12],
                             township_code=STREET, geom=ewkt(Point(lon, lat))))
    session.add_all(rows)
    session.flush()
    return rows


def add_context(session) -> None:
    session.add_all([
        Camera(code="CAM-1", type="dome", status="online", geom=ewkt(Point(120.11, 30.265))),
        Camera(code="CAM-2", type="tianwang", status="offline",
               geom=ewkt(Point(120.13, 30.255))),
        Road(road_class="primary", name="Main road",
             geom=ewkt(MultiLineString([[(X0, YM), (X1, YM)]]))),
        Building(households=40, floors=6, kind="highrise", community_code=COMM_A,
                 geom=_mp((120.105, 30.262, 120.106, 30.263))),
    ])
    session.flush()


def load_district(engine: Engine, incidents: int = 60) -> None:
    with transaction(engine) as session:
        add_admin(session)
        add_grids(session)
        add_incidents(session, incidents)
        add_context(session)


@contextmanager
def live_server(database_url: str, tmp_path):
    """Run the real service (``uvicorn`` in its own process, as users run it) on a free
    loopback port against ``database_url``; yields the base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "GRIDGIS_DATABASE_URL": database_url,
           "GRIDGIS_DATA_DIR": str(tmp_path / "server-data")}
    code = ("import uvicorn; from api.app import create_app; "
            f"uvicorn.run(create_app(), host='127.0.0.1', port={port}, log_level='warning')")
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, proc, tmp_path / "server.log", timeout=30)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    """The WebMercatorQuad tile (z, x, y) holding a lon/lat point."""
    n = 2 ** z
    r = math.radians(lat)
    y = (1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n
    return z, int((lon + 180) / 360 * n), int(y)


def tiles_covering(bounds, z: int) -> list[tuple[int, int, int]]:
    _, x0, y0 = tile_of(bounds[0], bounds[3], z)
    _, x1, y1 = tile_of(bounds[2], bounds[1], z)
    return [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


VENDOR = Path(__file__).parents[1] / "api" / "static" / "vendor" / "maplibre-gl.js"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
         "--window-size=1200,800"]


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert VENDOR.exists(), "run scripts/install-web-assets.sh (MapLibre from npm)"
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    assert chromium and driver_path, "apt-get install -y chromium chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in FLAGS + [f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def overdue_ids(engine, statuses=None) -> set[int]:
    """Incidents overdue now by the pure rule (gis.incidents.overdue), read row by row:
    the reference the SQL renderings are checked against."""
    from datetime import datetime, timezone

    from sqlalchemy import text

    from gis.incidents import overdue

    now = datetime.now(timezone.utc)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, status, category, reported_at, due_at, closed_at "
                                 "FROM incidents")).all()
        parts: dict[int, list] = {}
        for p in conn.execute(text("SELECT * FROM summons")).all():
            parts.setdefault(p.incident_id, []).append(p)
    return {r.id for r in rows if (statuses is None or r.status in statuses)
            and overdue(r.status, r.category, r.reported_at, r.due_at, r.closed_at, now,
                        parts.get(r.id, ()))}
