"""Coverage in the store: a run stores one row per grid with covered + blind = target,
blind spots with incidents and nearest camera, key places; the triggers mark exactly the
grids within reach of a changed camera or building; an incremental run recomputes only
those and leaves every other grid's row (and computed_at) alone, with the same answer a
full run gives; offline cameras are excluded unless asked; the CLI stores an area."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
from sqlalchemy import text

from coverage_fixtures import A, B, C, CAMERAS, insert_district
from gis.coverage import coverage
from gis.errors import NotFound
from gis.store import cameras as cam_store
from gis.store.coverage import RunOptions, _clear_marks, run_coverage
from gis.store.db import transaction
from gis.store.users import Principal

COUNTY = "430102000000"


@pytest.fixture
def district(db):
    return insert_district(db)


def run(db, area=COUNTY, **opts) -> dict:
    with transaction(db) as session:
        return run_coverage(session, area, RunOptions(**opts))


def rows(db, sql: str, **params) -> list:
    with db.connect() as conn:
        return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def grid_rows(db) -> dict[str, dict]:
    return {r["grid_code"]: r for r in rows(db, "SELECT * FROM coverage ORDER BY grid_code")}


def stale(db) -> list[str]:
    return [r["grid_code"] for r in rows(db, "SELECT grid_code FROM coverage_stale "
                                             "ORDER BY grid_code")]


def sql(db, statement: str, **params) -> None:
    with db.begin() as conn:
        conn.execute(text(statement), params)


def test_run_stores_each_grid_with_covered_plus_blind_equal_target(db, district):
    out = run(db, mode="public")
    assert out["grids"] == 3 and out["grid_codes"] == [A, B, C]
    stored = grid_rows(db)
    assert set(stored) == {A, B, C}
    for code, r in stored.items():
        assert r["target_m2"] > 0 and r["covered_m2"] > 0, code
        assert r["covered_m2"] + r["blind_m2"] == pytest.approx(r["target_m2"], rel=1e-9)
        assert r["coverage_ratio"] == pytest.approx(r["covered_m2"] / r["target_m2"])
        spots = rows(db, "SELECT area_m2, incidents, nearest_camera, "
                         "ST_Area(geom::geography) AS geo_m2 FROM blind_spots "
                         "WHERE grid_code = :g", g=code)
        assert len(spots) == r["blind_spots"]
        assert sum(s["area_m2"] for s in spots) <= r["blind_m2"] + 1e-6
        for s in spots:  # stored lon/lat geometry has the area the analysis measured
            assert s["geo_m2"] == pytest.approx(s["area_m2"], rel=5e-3)
            assert s["nearest_camera"] in CAMERAS
    # the three incidents lie on the street in A, far from every camera
    assert stored[A]["blind_incidents"] == 3 and stored[B]["blind_incidents"] == 0
    top = rows(db, "SELECT grid_code, incidents FROM blind_spots ORDER BY incidents DESC")[0]
    assert top == {"grid_code": A, "incidents": 3}


def test_stored_figures_match_the_file_analysis(db, district):
    run(db, mode="public")
    layers = {}
    for name, cols in (("grids", "code"), ("buildings", "id"), ("roads", "class"),
                       ("cameras", "code, type, status, azimuth, fov, range_m AS range")):
        data = rows(db, f"SELECT {cols}, ST_AsText(geom) AS wkt FROM {name}")
        wkt = [d.pop("wkt") for d in data]
        layers[name] = gpd.GeoDataFrame(data, geometry=gpd.GeoSeries.from_wkt(wkt, crs=4326))
    res = coverage(layers["cameras"], layers["buildings"], layers["grids"], grid_key="code",
                   roads=layers["roads"], mode="public")
    stored = grid_rows(db)
    for r in res.grid_coverage.itertuples():
        assert stored[r.grid]["target_m2"] == pytest.approx(r.target_m2, rel=1e-6)
        assert stored[r.grid]["covered_m2"] == pytest.approx(r.covered_m2, rel=1e-6)


def test_camera_changes_mark_only_the_grids_within_reach(db, district):
    assert stale(db) == []
    sql(db, "UPDATE cameras SET azimuth = 180 WHERE code = 'west-gun'")
    assert stale(db) == [A]
    sql(db, "DELETE FROM coverage_stale")
    sql(db, "UPDATE cameras SET height_m = 9 WHERE code = 'west-gun'")  # height: no view change
    assert stale(db) == []
    sql(db, "UPDATE cameras SET status = 'offline' WHERE code = 'edge'")  # on the A/B edge
    assert stale(db) == [A, B]
    sql(db, "DELETE FROM coverage_stale")
    # moved from C (reach 125 m) to A: both the old and the new place change
    sql(db, "UPDATE cameras SET geom = ST_SetSRID(ST_MakePoint(113.005, 28.002), 4326) "
            "WHERE code = 'east'")
    assert stale(db) == [A, C]
    sql(db, "DELETE FROM coverage_stale")
    sql(db, "DELETE FROM cameras WHERE code = 'school'")
    assert stale(db) == [A]


def test_building_changes_mark_grids_within_the_largest_camera_reach(db, district):
    # a building in the middle of C: more than 125 m (largest reach) from B
    sql(db, "INSERT INTO buildings (geom) VALUES (ST_GeomFromText("
            "'MULTIPOLYGON(((113.025 28.006,113.026 28.006,113.026 28.007,113.025 28.007,"
            "113.025 28.006)))', 4326))")
    assert stale(db) == [C]
    sql(db, "DELETE FROM coverage_stale")
    sql(db, "UPDATE buildings SET households = 99")  # households do not move any view
    assert stale(db) == []
    # a bulk import (over 1000 rows in one statement) is marked by ~100 m cells
    sql(db, "INSERT INTO buildings (geom) SELECT ST_Multi(ST_MakeEnvelope(x, y, x + 0.00005, "
            "y + 0.00005, 4326)) FROM (SELECT 113.025 + (i % 50) * 0.0001 AS x, "
            "28.002 + (i / 50) * 0.0001 AS y FROM generate_series(0, 1499) i) s")
    assert stale(db) == [C]
    sql(db, "DELETE FROM coverage_stale")
    sql(db, "DELETE FROM buildings WHERE ST_XMin(geom) >= 113.025")
    assert stale(db) == [C]


def test_incremental_run_recomputes_only_the_affected_grid(db, district):
    run(db)
    before = grid_rows(db)
    with transaction(db) as session:  # rotate the gun camera in A from east to north
        cam = cam_store.get_camera(session, district["west-gun"], None)
        cam_store.update_camera(session, cam["id"], cam["version"],
                                cam_store.CameraFields(azimuth=0.0), None)
    assert stale(db) == [A]
    out = run(db, only_stale=True)
    assert out["grid_codes"] == [A] and out["stale_cleared"] == 1
    after = grid_rows(db)
    assert stale(db) == []
    for code in (B, C):  # untouched: the very same row, same computed_at
        assert after[code]["computed_at"] == before[code]["computed_at"]
        assert after[code]["id"] == before[code]["id"]
    assert after[A]["computed_at"] > before[A]["computed_at"]
    assert after[A]["covered_m2"] != pytest.approx(before[A]["covered_m2"])
    # the incremental answer is the full answer
    run(db)
    full = grid_rows(db)
    for code in (A, B, C):
        assert full[code]["covered_m2"] == pytest.approx(after[code]["covered_m2"], rel=1e-9)
        assert full[code]["blind_spots"] == after[code]["blind_spots"]


def test_nothing_stale_recomputes_nothing(db, district):
    run(db)
    before = grid_rows(db)
    out = run(db, only_stale=True)
    assert out["grids"] == 0
    assert grid_rows(db) == before


def test_offline_cameras_are_excluded_unless_asked(db, district):
    run(db, mode="grid")
    base = grid_rows(db)[A]["covered_m2"]
    sql(db, "UPDATE cameras SET status = 'offline' WHERE code = 'west-dome'")
    run(db, mode="grid", only_stale=True)
    without = grid_rows(db)[A]["covered_m2"]
    assert base - without > 1000  # its 40 m disc, minus what the gun camera also sees
    run(db, area=A, mode="grid", include_offline=True)
    assert grid_rows(db)[A]["covered_m2"] > base  # the offline school camera counts too


def test_key_places_get_their_own_coverage(db, district):
    run(db)
    (kp,) = rows(db, "SELECT * FROM key_place_coverage")
    assert kp["grid_code"] == A
    assert kp["target_m2"] == pytest.approx(98 * 111, rel=0.03)  # 0.001° square at 28°N
    assert kp["covered_m2"] == 0  # its only camera is offline
    run(db, include_offline=True)
    (kp,) = rows(db, "SELECT * FROM key_place_coverage")
    assert 0 < kp["covered_m2"] < kp["target_m2"]


def test_a_mark_made_during_a_run_survives_it(db, district):
    sql(db, "UPDATE cameras SET azimuth = 10 WHERE code = 'west-gun'")
    (seen,) = rows(db, "SELECT grid_code, seq FROM coverage_stale")
    sql(db, "UPDATE cameras SET azimuth = 20 WHERE code = 'west-gun'")  # while computing
    with transaction(db) as session:
        _clear_marks(session, {seen["grid_code"]: seen["seq"]})
    assert stale(db) == [A]


def test_areas_outside_the_scope_or_unknown_are_not_found(db, district):
    town2 = Principal(1, "analyst2", "analyst", "430102002000")
    with transaction(db) as session:
        with pytest.raises(NotFound):
            run_coverage(session, "430102001000", principal=town2)
        with pytest.raises(NotFound):
            run_coverage(session, "999999000000")
        out = run_coverage(session, None, principal=town2)  # default: the caller's area
    assert out["grid_codes"] == [C]


def test_retired_grids_lose_their_rows_on_the_next_run(db, district):
    run(db)
    sql(db, "UPDATE grids SET valid_to = now() WHERE code = :c", c=B)
    run(db, area="430102001000", only_stale=True)
    assert set(grid_rows(db)) == {A, C}
    assert not rows(db, "SELECT 1 FROM blind_spots WHERE grid_code = :c", c=B)


def test_cli_runs_and_stores_an_area(db, district, pg_url, monkeypatch):
    from typer.testing import CliRunner

    import gis.cli  # noqa: F401  (registers the commands)
    from gis.cli.app import app

    monkeypatch.setenv("GRIDGIS_DATABASE_URL", pg_url)
    result = CliRunner().invoke(app, ["coverage-db", "--area", "430102001000", "--mode", "grid",
                                      "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["grids"] == 2 and summary["grid_codes"] == [A, B]
    assert set(grid_rows(db)) == {A, B}
    assert summary["covered_m2"] == pytest.approx(
        sum(r["covered_m2"] for r in grid_rows(db).values()), abs=0.1)
    bad = CliRunner().invoke(app, ["coverage-db", "--area", A, "--since", "yesterday"])
    assert bad.exit_code != 0


def test_stored_geometry_is_valid_lonlat_multipolygons(db, district):
    run(db)
    for table in ("coverage", "blind_spots"):
        (r,) = rows(db, f"SELECT count(*) AS n, bool_and(ST_IsValid(geom)) AS ok, "
                        f"bool_and(ST_SRID(geom) = 4326) AS srid, "
                        f"bool_and(GeometryType(geom) = 'MULTIPOLYGON') AS multi "
                        f"FROM {table} WHERE geom IS NOT NULL")
        assert r["n"] > 0 and r["ok"] and r["srid"] and r["multi"], table
