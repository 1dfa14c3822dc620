"""The one-screen overview figures (gis.store.overview, GET /overview/{code}) against
hand-built data (tests/overview_fixtures.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from gis.store.db import transaction
from gis.store.overview import overview, recent_period
from overview_fixtures import (C1, C2, C3, COUNTY, G11, G12, G21, G31, LOCAL, T1, T2,
                                     add_fix, insert_area, insert_recent)


@pytest.fixture
def area(db):
    insert_area(db)
    now = datetime.now(LOCAL)
    insert_recent(db, now)
    return now


def test_township_figures_counts_rates_and_bounds(db, area):
    with transaction(db) as session:
        ov = overview(session, T1, None, now=area)
    f = ov["figures"]
    assert (f["grids"], f["basic_grids"], f["households"]) == (4, 3, 250 + 400 + 600 + 900)
    assert (f["below_min"], f["above_max"], f["out_of_bounds"]) == (1, 1, 2)  # G11, G21
    # A, B, C reported in the last 12 weeks; A closed; B, C and the old D are open;
    # B and D are past due.
    assert (f["incidents"], f["closed"], f["open"], f["overdue"]) == (3, 1, 3, 2)
    assert f["resolution_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert f["per_1000"] == pytest.approx(3 * 1000 / 2150, abs=0.01)
    assert f["coverage_ratio"] == pytest.approx(160 / 200)
    assert f["blind_spots"] == 2 and f["coverage_grids"] == 2
    assert any("2 of 4 grids" in n for n in ov["notes"])
    # G11 walked 10 minutes in one window of 14; G12's 2 minutes are too short.
    assert f["patrolled_windows"] == 1 and f["patrol_windows"] == 4 * 14
    assert f["patrol_compliance"] == pytest.approx(1 / 56, abs=1e-4)
    assert sum(w["reported"] for w in ov["incident_trend"]) == 3
    assert len(ov["incident_trend"]) == 12


def test_children_rows_drill_down_and_breadcrumbs(db, area):
    with transaction(db) as session:
        county = overview(session, COUNTY, None, now=area)
        community = overview(session, C2, None, now=area)
        grid = overview(session, G11, None, now=area)
    rows = {c["code"]: c for c in county["children"]}
    assert list(rows) == [T1, T2] and county["area"]["child_level"] == "township"
    assert rows[T2]["incidents"] == 1 and rows[T2]["resolution_rate"] == 1.0
    assert rows[T2]["coverage_ratio"] is None and rows[T1]["open"] == 3
    assert county["figures"]["households"] == 2500 and county["figures"]["incidents"] == 4
    assert [c["code"] for c in community["children"]] == [C2 + "0001", C2 + "0002"]
    assert community["children"][1]["out_of_bounds"] == 0  # exclusive grid: kept whole
    assert community["figures"]["overdue"] == 1  # D, in the exclusive grid
    assert [b["code"] for b in community["breadcrumbs"]] == [COUNTY, T1, C2]
    assert grid["area"]["level"] == "grid" and grid["children"] == []
    assert grid["figures"]["coverage_ratio"] == pytest.approx(0.6)
    assert [b["code"] for b in grid["breadcrumbs"]] == [COUNTY, T1, C1, G11]


def test_patrol_windows_exclude_the_running_half_day(db):
    insert_area(db)
    now = datetime(2025, 6, 18, 10, 0, tzinfo=LOCAL)  # Wednesday morning
    period = recent_period(now, "Asia/Shanghai", half_days=4)
    assert period.patrol_end == datetime(2025, 6, 18, 0, 0, tzinfo=LOCAL)
    assert period.patrol_start == datetime(2025, 6, 16, 0, 0, tzinfo=LOCAL)
    with db.begin() as conn:
        for minutes in (0, 30):  # running window: not counted yet
            add_fix(conn, G31, now - timedelta(hours=1) + timedelta(minutes=minutes))
        for minutes in (0, 6):   # Tuesday afternoon: counted
            add_fix(conn, G31, datetime(2025, 6, 17, 15, minutes, tzinfo=LOCAL))
    with transaction(db) as session:
        f = overview(session, C3, None, now=now, half_days=4)["figures"]
    assert (f["patrolled_windows"], f["patrol_windows"]) == (1, 4)
    assert f["incidents"] == 0 and f["resolution_rate"] is None


def test_api_overview_and_units(client, area, make_user):
    headers = make_user("analyst", scope_code=T1)
    r = client.get(f"/overview/{T1}", headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["area"]["name"] == "东山街道" and body["figures"]["out_of_bounds"] == 2
    assert [c["code"] for c in body["children"]] == [C1, C2]
    assert body["breadcrumbs"][0]["code"] == T1  # the county is above the user's scope
    units = client.get(f"/overview/{T1}/units", headers=headers).json()
    assert sorted(f["properties"]["code"] for f in units["features"]) == [C1, C2]
    assert units["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    grid = client.get(f"/overview/{G21}", headers=headers).json()
    assert grid["figures"]["above_max"] == 1 and grid["figures"]["open"] == 1


def test_scope_other_township_and_county_are_404(client, area, make_user):
    headers = make_user("analyst", scope_code=T2)
    for code in (T1, C1, G12, COUNTY):
        r = client.get(f"/overview/{code}", headers=headers)
        assert r.status_code == 404, (code, r.text)
        assert client.get(f"/overview/{code}/units", headers=headers).status_code == 404
    assert client.get(f"/overview/{G31}", headers=headers).status_code == 200
    assert client.get(f"/overview/{T1}").status_code == 401


def test_bad_code_is_422_and_unknown_is_404(client, area, admin_headers):
    r = client.get("/overview/33x", headers=admin_headers)
    assert r.status_code == 422 and "code" in r.text
    assert client.get("/overview/330102009000", headers=admin_headers).status_code == 404
    r = client.get(f"/overview/{COUNTY}", headers=admin_headers)
    assert r.json()["figures"]["grids"] == 5
    assert client.get("/overview", headers=admin_headers, follow_redirects=False) \
        .status_code == 200
    assert client.get("/overview", follow_redirects=False).headers["location"] \
        .startswith("/login")


def test_area_without_grids_or_coverage_says_so(db, area):
    with transaction(db) as session:
        ov = overview(session, T2, None, now=area)
    assert ov["figures"]["coverage_ratio"] is None
    assert any("no stored camera coverage" in n for n in ov["notes"])
    assert ov["figures"]["patrol_compliance"] == 0.0 and ov["figures"]["grids"] == 1
    assert G21 not in {c["code"] for c in ov["children"]}
