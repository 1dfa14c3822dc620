"""Patrol endpoints through HTTP against the real PostGIS: phones upload fixes (WGS 84
and GCJ-02), supervisors read compliance, rates, missed grids and track lines, each
limited to their scope.

Grids (tests/grid_fixtures.py): A and B in community COMM1 (township TOWN1), C in COMM2
(township TOWN2), three 0.01° squares side by side from lon 113.0.
"""

from __future__ import annotations

import pandas as pd
import pytest

from gis.crs import wgs84_to_gcj02
from grid_fixtures import COMM1, COMM2, COUNTY, TOWN1, A, B, C, insert_units_and_grids

DAY = "2026-10-30"


@pytest.fixture
def area(db):
    insert_units_and_grids(db)
    return db


def walk(start: str, minutes: float, lon0: float, lat0: float, dlon: float = 0.0, every_s: int = 30):
    """Fixes every ``every_s`` seconds from local time ``start``, moving dlon per fix."""
    n = int(minutes * 60 / every_s) + 1
    t0 = pd.Timestamp(f"{DAY}T{start}+08:00")
    return [{"time": (t0 + pd.Timedelta(seconds=every_s * i)).isoformat(),
             "lon": lon0 + dlon * i, "lat": lat0, "accuracy": 5.0} for i in range(n)]


def upload(client, headers, points, **extra):
    res = client.post("/patrol/points", json={"points": points, **extra}, headers=headers)
    assert res.status_code == 201, res.text
    return res.json()


PERIOD = {"from": f"{DAY}T00:00:00+08:00", "to": f"{DAY}T23:59:59+08:00"}


def test_upload_then_compliance_per_grid_and_window(client, area, make_user):
    phone = make_user("grid_worker", COMM1, username="li")
    upload(client, phone, walk("09:00:00", 10, 113.005, 28.005))          # A, morning, 10 min
    lon, lat = wgs84_to_gcj02(113.015, 28.005)                             # B, GCJ-02 phone
    upload(client, phone, walk("14:00:00", 2, float(lon), float(lat)), crs="gcj02")
    boss = make_user("dispatcher", COUNTY, username="boss")
    res = client.get("/patrol/compliance", params=PERIOD, headers=boss)
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["grids"] == 3 and body["windows"] == 2 and len(body["items"]) == 6
    cell = {(r["grid"], r["window_start"]): r for r in body["items"]}
    am, pm = f"{DAY}T00:00:00+08:00", f"{DAY}T12:00:00+08:00"
    assert cell[(A, am)]["patrolled"] and cell[(A, am)]["minutes"] == pytest.approx(10.0)
    assert not cell[(A, pm)]["patrolled"]
    # the GCJ-02 walk lands in B (not shifted ~500 m into another grid), 2 min < 5 min
    assert cell[(B, pm)]["minutes"] == pytest.approx(2.0) and not cell[(B, pm)]["patrolled"]
    assert cell[(C, am)]["minutes"] == 0
    low = client.get("/patrol/compliance", params={**PERIOD, "min_minutes": 1.5}, headers=boss)
    assert {(r["grid"], r["window_start"]) for r in low.json()["items"] if r["patrolled"]} == \
        {(A, am), (B, pm)}


def test_rates_by_grid_community_township_worker(client, area, make_user):
    phone = make_user("grid_worker", COMM1, username="li")
    upload(client, phone, walk("09:00:00", 10, 113.005, 28.005))          # A morning
    upload(client, phone, walk("13:00:00", 10, 113.005, 28.005))          # A afternoon
    boss = make_user("dispatcher", COUNTY, username="boss")
    # C is outside li's community: the county dispatcher uploads li's phone log there
    upload(client, boss, walk("15:00:00", 10, 113.025, 28.005), worker="li")  # C afternoon
    get = lambda by: {r[by] if by != "worker" else r["worker"]: r for r in client.get(  # noqa: E731
        "/patrol/rates", params={**PERIOD, "by": by}, headers=boss).json()["items"]}
    assert get("grid")[A]["rate"] == 1.0 and get("grid")[B]["rate"] == 0.0
    assert get("grid")[C]["rate"] == 0.5
    assert get("community")[COMM1]["rate"] == 0.5 and get("community")[COMM2]["rate"] == 0.5
    assert get("township")[TOWN1]["patrolled"] == 2
    worker = get("worker")["li"]
    assert worker["grid_windows"] == 3 and worker["windows"] == 2 and worker["rate"] == 1.0


def test_scope_limits_grids_and_outside_area_is_404(client, area, make_user):
    make_user("grid_worker", COMM1, username="li")
    boss = make_user("dispatcher", COUNTY, username="boss")
    upload(client, boss, walk("09:00:00", 10, 113.025, 28.005), worker="li")  # in C (COMM2)
    local = make_user("dispatcher", COMM1, username="local")
    res = client.get("/patrol/compliance", params=PERIOD, headers=local)
    assert {r["grid"] for r in res.json()["items"]} == {A, B}
    assert client.get("/patrol/compliance", params={**PERIOD, "area": COMM2},
                      headers=local).status_code == 404
    assert client.get("/patrol/rates", params={**PERIOD, "area": C},
                      headers=local).status_code == 404
    # the track in C is outside this dispatcher's community: not shown
    assert client.get("/patrol/tracks", params=PERIOD, headers=local).json()["features"] == []
    other = make_user("dispatcher", COMM2, username="other")
    feats = client.get("/patrol/tracks", params=PERIOD, headers=other).json()["features"]
    assert len(feats) == 1 and feats[0]["properties"]["worker"] == "li"
    assert feats[0]["properties"]["fixes"] == 21 and feats[0]["geometry"]["type"] == "LineString"


def test_missed_grids_in_last_windows_and_geojson_choropleth(client, area, make_user):
    phone = make_user("grid_worker", COMM1, username="li")
    upload(client, phone, walk("09:00:00", 10, 113.005, 28.005))          # A, 30 Oct am
    boss = make_user("dispatcher", COUNTY, username="boss")
    res = client.get("/patrol/missed", params={"last": 2, "to": f"{DAY}T23:00:00+08:00"},
                     headers=boss)
    assert res.status_code == 200, res.text
    items = {r["grid"]: r for r in res.json()["items"]}
    # last two complete windows before 23:00: 29 Oct pm and 30 Oct am
    assert items[A]["missed"] == 1 and not items[A]["missed_all"]
    assert items[A]["last_patrolled"] == f"{DAY}T00:00:00+08:00"
    assert items[B]["missed_all"] and items[B]["last_patrolled"] is None
    geo = client.get("/patrol/compliance", params={**PERIOD, "f": "geojson"}, headers=boss).json()
    props = {f["properties"]["grid"]: f["properties"] for f in geo["features"]}
    assert geo["type"] == "FeatureCollection" and len(props) == 3
    assert props[A]["rate"] == 0.5 and props[B]["rate"] == 0.0
    assert geo["features"][0]["geometry"]["type"] == "MultiPolygon"


def test_upload_rules(client, area, make_user):
    phone = make_user("grid_worker", COMM1, username="li")
    pts = walk("09:00:00", 1, 113.005, 28.005)
    assert client.post("/patrol/points", json={"points": pts, "worker": "zhang"},
                       headers=phone).status_code == 403
    boss = make_user("dispatcher", COUNTY, username="boss")
    make_user("grid_worker", COMM1, username="zhang")
    assert upload(client, boss, pts, worker="zhang") == {"worker": "zhang", "added": 3}
    viewer = make_user("viewer", COUNTY, username="v")
    assert client.post("/patrol/points", json={"points": pts}, headers=viewer).status_code == 403
    bad = client.post("/patrol/points", json={"points": [{**pts[0], "lat": 95}]}, headers=phone)
    assert bad.status_code == 422
    extra = client.post("/patrol/points", json={"points": [{**pts[0], "speed": 3}]}, headers=phone)
    assert extra.status_code == 422
    assert client.get("/patrol/compliance", params={**PERIOD, "window": "7h"},
                      headers=boss).status_code == 422
    assert client.get("/patrol/compliance", params=PERIOD).status_code == 401


def test_street_coverage_and_household_visits(client, area, make_user):
    from sqlalchemy import text

    with area.begin() as conn:  # a street across grid A, a building in A, none in B or C
        conn.execute(text("INSERT INTO roads (geom) VALUES (ST_GeomFromEWKT("
                          "'SRID=4326;MULTILINESTRING((113.0 28.005, 113.01 28.005))'))"))
        conn.execute(text("INSERT INTO buildings (households, geom) VALUES (12, ST_GeomFromEWKT("
                          "'SRID=4326;MULTIPOLYGON(((113.0069 28.0071, 113.0071 28.0071, "
                          "113.0071 28.0073, 113.0069 28.0073, 113.0069 28.0071)))'))"))
    phone = make_user("grid_worker", COMM1, username="li")
    upload(client, phone, walk("09:00:00", 10, 113.0, 28.005, dlon=0.00025))  # half the street
    upload(client, phone, walk("09:20:00", 6, 113.007, 28.007))              # 6 min at the door
    boss = make_user("dispatcher", COUNTY, username="boss")
    cov = client.get("/patrol/streets", params={**PERIOD, "distance": 20}, headers=boss)
    assert cov.status_code == 200, cov.text
    share = {r["grid"]: r["share"] for r in cov.json()["items"]}
    assert 0.45 < share[A] < 0.6 and share[B] is None  # ~500 + 20 m of ~980 m
    res = client.get("/patrol/visits", params=PERIOD, headers=boss).json()
    assert res["norm"] == 5
    assert res["items"] == [{"worker": "li", "day": DAY, "visits": 1, "stops": 1,
                             "meets_norm": False}]
