"""gridgis import: every row checked before anything is written, one transaction per file,
repairs where safe, clear file/row/field problems, the rejected-rows report, and the
Chinese web offsets checked against independent reference coordinates."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, Polygon, box
from sqlalchemy import text

from gis.crs import (bd09_to_gcj02, bd09_to_wgs84, gcj02_to_bd09, gcj02_to_wgs84,
                     wgs84_to_gcj02)
from gis.errors import InputError, InvalidRows
from gis.store.db import transaction
from gis.services.imports import import_file
from gis.store.importer import import_frame

GRIDGIS = str(Path(sys.executable).with_name("gridgis"))
COUNTY, STREET, COMMUNITY, VILLAGE = ("430102000000", "430102001000", "430102001001",
                                      "430102001002")


def units() -> gpd.GeoDataFrame:
    """A county with one street and two communities near Changsha (lon 113, lat 28)."""
    return gpd.GeoDataFrame({
        "code": [COUNTY, STREET, COMMUNITY, VILLAGE],
        "name": ["芙蓉区", "文艺路街道", "东湖社区", "西湖村"],
    }, geometry=[box(113.0, 28.0, 113.1, 28.1), box(113.0, 28.0, 113.1, 28.05),
                 box(113.0, 28.0, 113.05, 28.05), box(113.05, 28.0, 113.1, 28.05)], crs=4326)


def buildings(n: int = 6) -> gpd.GeoDataFrame:
    x = 113.001 + 0.002 * np.arange(n)
    return gpd.GeoDataFrame({
        "id": [f"b{i}" for i in range(n)], "HOUSING20": np.arange(n) * 10,
        "层数": [6] * n, "community_code": [COMMUNITY] * n,
    }, geometry=[box(v, 28.001, v + 0.0005, 28.0015) for v in x], crs=4326)


def incidents_csv(path: Path, n: int = 5, **overrides) -> Path:
    df = pd.DataFrame({
        "事件编号": [f"E{i}" for i in range(n)], "经度": 113.01 + 0.001 * np.arange(n),
        "纬度": [28.01] * n, "事件类型": ["矛盾纠纷"] * n, "上报时间": ["2024-05-01 08:30"] * n,
        "状态": ["已结案"] * n,
    })
    for col, (i, value) in overrides.items():
        df[col] = df[col].astype(object)
        df.loc[i, col] = value
    df.to_csv(path, index=False)
    return path


def count(engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def load_units(db, tmp_path) -> None:
    units().to_file(tmp_path / "units.gpkg")
    import_file(db, "admin_units", tmp_path / "units.gpkg")


def run_cli(settings, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRIDGIS_DATABASE_URL": settings.database_url,
           "GRIDGIS_DATA_DIR": str(settings.data_dir)}
    return subprocess.run([GRIDGIS, *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=120)


def test_admin_units_get_level_kind_and_parent_from_their_codes(db, tmp_path):
    load_units(db, tmp_path)
    with db.connect() as conn:
        rows = conn.execute(text("SELECT code, level, kind, parent_code, ST_GeometryType(geom) "
                                 "FROM admin_units ORDER BY code")).all()
    assert rows == [
        (COUNTY, "county", "county", None, "ST_MultiPolygon"),
        (STREET, "township", "street", COUNTY, "ST_MultiPolygon"),
        (COMMUNITY, "community", "community", STREET, "ST_MultiPolygon"),
        (VILLAGE, "community", "community", STREET, "ST_MultiPolygon"),
    ]


def test_incident_csv_with_chinese_headers_loads_with_local_time_and_source(db, tmp_path):
    report = import_file(db, "incidents", incidents_csv(tmp_path / "events.csv"))
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (5, 5, 0)
    with db.connect() as conn:
        row = conn.execute(text(
            "SELECT external_id, category, status, reported_at AT TIME ZONE 'UTC', "
            "src_crs, src_x, src_y, grid_code FROM incidents ORDER BY id LIMIT 1")).one()
    # 08:30 in Asia/Shanghai is 00:30 UTC; the original coordinates are kept.
    assert row[:3] == ("E0", "dispute", "closed")
    assert str(row[3]) == "2024-05-01 00:30:00"
    assert row[4] == "EPSG:4326" and row[5:7] == pytest.approx((113.01, 28.01))
    assert row[7] is None  # grid assignment is done by gis.store.assignment (not yet wired)


def test_one_bad_row_leaves_the_database_unchanged_and_names_file_row_field(db, tmp_path):
    load_units(db, tmp_path)
    gdf = buildings()
    gdf.loc[3, "HOUSING20"] = -4
    path = tmp_path / "bad.gpkg"
    gdf.to_file(path)
    before = count(db, "buildings")
    with pytest.raises(InvalidRows) as err:
        import_file(db, "buildings", path)
    assert count(db, "buildings") == before == 0
    [problem] = err.value.problems
    assert (problem.file, problem.row, problem.field) == (str(path), 4, "households")
    assert "≥ 0" in problem.reason


def test_bad_row_in_the_last_chunk_still_writes_nothing(db, tmp_path):
    # 250 rows in chunks of 40: the first six chunks are staged before the bad one is seen.
    path = incidents_csv(tmp_path / "events.csv", n=250, 事件类型=(247, "外星人"))
    with pytest.raises(InvalidRows) as err:
        import_file(db, "incidents", path, chunksize=40)
    assert count(db, "incidents") == 0
    assert [(p.row, p.field) for p in err.value.problems] == [(248, "category")]


def test_skip_invalid_loads_the_rest_and_writes_the_report(db, tmp_path):
    path = incidents_csv(tmp_path / "events.csv", n=6, 纬度=(2, "abc"), 上报时间=(4, "yesterday"))
    result = import_file(db, "incidents", path, skip_invalid=True, chunksize=4)
    assert (result.rows_loaded, result.rows_rejected) == (4, 2)
    assert count(db, "incidents") == 4
    assert result.report_file == str(tmp_path / "events.csv.rejected.csv")
    rejected = pd.read_csv(result.report_file, dtype=str)
    assert list(rejected.columns[:3]) == ["row", "field", "reason"]
    assert rejected[["row", "field"]].values.tolist() == [["3", "geometry"],
                                                          ["5", "reported_at"]]
    assert rejected.loc[1, "事件编号"] == "E4" and rejected.loc[1, "上报时间"] == "yesterday"


def test_cli_refuses_a_bad_file_with_exit_2_naming_row_and_field(db, settings, tmp_path):
    path = incidents_csv(tmp_path / "events.csv", n=3, 事件类型=(1, "外星人"))
    refused = run_cli(settings, "import", "incidents", path)
    assert refused.returncode == 2
    assert "row 2" in refused.stderr and "category" in refused.stderr
    assert count(db, "incidents") == 0


def test_cli_skip_invalid_writes_the_named_report(db, settings, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import gis.cli  # noqa: F401  (registers the commands)
    from gis.cli.app import app

    monkeypatch.setenv("GRIDGIS_DATABASE_URL", settings.database_url)
    path = incidents_csv(tmp_path / "events.csv", n=3, 事件类型=(1, "外星人"))
    report = tmp_path / "bad-rows.csv"
    done = CliRunner().invoke(app, ["import", "incidents", str(path), "--skip-invalid",
                                    "--report", str(report), "--json"])
    assert done.exit_code == 0, done.output
    assert '"rows_loaded": 2' in done.stdout
    assert pd.read_csv(report)["row"].tolist() == [2]
    assert count(db, "incidents") == 2


def test_bowtie_is_repaired_into_a_multipolygon_of_the_same_area(db, tmp_path):
    load_units(db, tmp_path)
    bowtie = Polygon([(113.01, 28.01), (113.02, 28.02), (113.02, 28.01), (113.01, 28.02)])
    gdf = gpd.GeoDataFrame({"households": [30]}, geometry=[bowtie], crs=4326)
    with transaction(db) as session:
        result = import_frame(session, "buildings", gdf)
    assert result.rows_repaired == 1
    with db.connect() as conn:
        kind, parts, area = conn.execute(text(
            "SELECT ST_GeometryType(geom), ST_NumGeometries(geom), ST_Area(geom) "
            "FROM buildings")).one()
    assert (kind, parts) == ("ST_MultiPolygon", 2)
    assert area == pytest.approx(0.5 * 0.01 * 0.01)  # two triangles, each a quarter square


@pytest.mark.parametrize("geom, reason", [
    # A hole that crosses its shell: a repair would add 12 % of area that was a hole.
    (Polygon([(113, 28), (113.01, 28), (113.01, 28.01), (113, 28.01)],
             [[(113.002, 28.002), (113.012, 28.002), (113.012, 28.008), (113.002, 28.008)]]),
     "change its area"),
    # All vertices on one line: the repair is a line, not a polygon.
    (Polygon([(113, 28), (113.01, 28), (113.02, 28)]), "not a polygon"),
    (LineString([(113, 28), (113.01, 28.01)]), "expected polygon geometry"),
    (None, "missing geometry"),
])
def test_unsafe_repairs_and_wrong_kinds_are_rejected(db, geom, reason):
    good = box(113.03, 28.03, 113.031, 28.031)
    gdf = gpd.GeoDataFrame({"households": [5, 5]}, geometry=[good, geom], crs=4326)
    with pytest.raises(InvalidRows) as err:
        with transaction(db) as session:
            import_frame(session, "buildings", gdf, file="upload.geojson")
    [problem] = err.value.problems
    assert (problem.row, problem.field) == (2, "geometry") and reason in problem.reason
    assert count(db, "buildings") == 0


def _write_truncated_geojson(path: Path) -> None:
    buildings().to_file(path.with_suffix(".full.geojson"))
    whole = path.with_suffix(".full.geojson").read_text()
    path.write_text(whole[: len(whole) // 2])


def _write_projected_as_4326(path: Path) -> None:
    # Gauss–Krüger metres (EPSG:4547) with a file that claims lon/lat.
    projected = buildings().to_crs(4547)
    projected.set_crs(4326, allow_override=True).to_file(path)


@pytest.mark.parametrize("name, make, words", [
    ("truncated.geojson", _write_truncated_geojson, "cannot read"),
    ("empty.geojson", lambda p: p.write_text(""), "cannot read"),
    ("empty.csv", lambda p: p.write_text(""), "empty"),
    ("header-only.csv", lambda p: p.write_text("lon,lat,households\n"), "no rows"),
    ("projected.gpkg", _write_projected_as_4326, "out of range"),
    ("huge.csv", lambda p: p.write_text("lon,lat\n113.01,28.01\n1e300,1e300\n"), "out of"),
])
def test_broken_files_give_a_clear_error_and_write_nothing(db, tmp_path, name, make, words):
    load_units(db, tmp_path)
    path = tmp_path / name
    make(path)
    layer = "address_points" if name.endswith(".csv") else "buildings"
    with pytest.raises((InputError, InvalidRows)) as err:
        import_file(db, layer, path)
    assert str(path) in str(err.value) and words in str(err.value)
    assert count(db, layer) == 0


def test_missing_required_column_asks_for_a_mapping_which_then_works(db, tmp_path):
    path = tmp_path / "cams.csv"
    pd.DataFrame({"x": [113.01], "y": [28.01], "kind_of_cam": ["天网"]}).to_csv(path, index=False)
    with pytest.raises(InputError) as err:
        import_file(db, "cameras", path)
    assert err.value.field == "type" and "--map" in str(err.value)
    import_file(db, "cameras", path, mapping={"kind_of_cam": "type"})
    assert count(db, "cameras") == 1


def test_camera_defaults_by_type_azimuth_north_and_unique_codes(db, tmp_path):
    path = tmp_path / "cams.csv"
    pd.DataFrame({"lng": [113.01, 113.02], "lat": [28.01, 28.02], "设备编号": ["C1", "C2"],
                  "类型": ["天网", "dome"], "方位角": [360, 90], "distance": [None, 35]}
                 ).to_csv(path, index=False)
    import_file(db, "cameras", path)
    with db.connect() as conn:
        rows = conn.execute(text("SELECT code, type, azimuth, fov, range_m, height_m, status "
                                 "FROM cameras ORDER BY code")).all()
    assert rows == [("C1", "tianwang", 0.0, 70.0, 100.0, 8.0, "online"),
                    ("C2", "dome", 90.0, 360.0, 35.0, 6.0, "online")]
    with pytest.raises(InvalidRows) as err:  # same codes again: already in the table
        import_file(db, "cameras", path)
    assert {p.field for p in err.value.problems} == {"code"}
    assert "already exists" in err.value.problems[0].reason
    import_file(db, "cameras", path, replace=True)
    assert count(db, "cameras") == 2


def test_references_and_duplicates_are_checked_before_writing(db, tmp_path):
    load_units(db, tmp_path)
    gdf = buildings(3)
    gdf.loc[1, "community_code"] = "430102009009"   # no such community
    gdf.loc[2, "community_code"] = "4301"           # not 12 digits
    path = tmp_path / "b.gpkg"
    gdf.to_file(path)
    with pytest.raises(InvalidRows) as err:
        import_file(db, "buildings", path)
    assert [(p.row, p.field) for p in err.value.problems] == [(2, "community_code"),
                                                              (3, "community_code")]
    assert "import admin_units first" in err.value.problems[0].reason
    assert "12-digit" in err.value.problems[1].reason


def test_roads_map_osm_and_census_classes_and_become_multilines(db, tmp_path):
    lines = [LineString([(113.0, 28.0 + i / 1000), (113.01, 28.0 + i / 1000)]) for i in range(3)]
    gdf = gpd.GeoDataFrame({"highway": ["trunk", "S1400", "footway"],
                            "NAME": ["五一大道", None, "小巷"]}, geometry=lines, crs=4326)
    gdf.to_file(tmp_path / "roads.shp")
    import_file(db, "roads", tmp_path / "roads.shp")
    with db.connect() as conn:
        rows = conn.execute(text("SELECT class, name, ST_GeometryType(geom) FROM roads "
                                 "ORDER BY id")).all()
    assert rows == [("primary", "五一大道", "ST_MultiLineString"),
                    ("residential", None, "ST_MultiLineString"),
                    ("lane", "小巷", "ST_MultiLineString")]


def test_grid_staff_csv_without_geometry_and_grids_need_their_community(db, tmp_path):
    load_units(db, tmp_path)
    grids = gpd.GeoDataFrame({"网格编码": [COMMUNITY + "0001", VILLAGE + "0001"],
                              "网格类型": ["基础网格", "专属网格"],
                              "community_code": [COMMUNITY, VILLAGE], "户数": [420, 380]},
                             geometry=[box(113.0, 28.0, 113.05, 28.05),
                                       box(113.05, 28.0, 113.1, 28.05)], crs=4326)
    grids.to_parquet(tmp_path / "grids.parquet")
    import_file(db, "grids", tmp_path / "grids.parquet")
    pd.DataFrame({"姓名": ["张三", "李四"], "职务": ["网格长", "网格警长"],
                  "网格编码": [COMMUNITY + "0001"] * 2, "电话": ["13800000000", None]}
                 ).to_csv(tmp_path / "staff.csv", index=False)
    import_file(db, "grid_staff", tmp_path / "staff.csv")
    with db.connect() as conn:
        assert conn.execute(text("SELECT kind, households FROM grids ORDER BY code")).all() == [
            ("basic", 420), ("exclusive", 380)]
        assert conn.execute(text("SELECT role, phone FROM grid_staff ORDER BY id")).all() == [
            ("grid_leader", "13800000000"), ("police", None)]


def test_key_places_keep_points_and_polygons_and_patrol_points_load(db, tmp_path):
    places = gpd.GeoDataFrame({"name": ["一中", "人民医院"], "amenity": ["school", "医院"]},
                              geometry=[box(113.01, 28.01, 113.012, 28.012),
                                        Point(113.02, 28.02)], crs=4326)
    with transaction(db) as session:
        import_frame(session, "key_places", places)
        pts = gpd.GeoDataFrame({"worker_id": ["w1", "w1"], "timestamp": [
            "2024-05-01T08:00:00+08:00", "2024-05-01T08:00:10+08:00"], "acc": [5, 8]},
            geometry=[Point(113.01, 28.01), Point(113.0101, 28.0101)], crs=4326)
        import_frame(session, "patrol_points", pts)
    with db.connect() as conn:
        assert conn.execute(text("SELECT kind, ST_GeometryType(geom) FROM key_places "
                                 "ORDER BY id")).all() == [("school", "ST_Polygon"),
                                                           ("hospital", "ST_Point")]
        assert conn.execute(text("SELECT min(time) AT TIME ZONE 'UTC' FROM patrol_points")
                            ).scalar_one().isoformat() == "2024-05-01T00:00:00"


# -- GCJ-02 / BD-09 against independent reference coordinates ----------------------------
# Sources (published test vectors of open-source libraries, not our code):
#   googollee/eviltransform python/test.py  TESTS: (wgsLat, wgsLng, gcjLat, gcjLng)
#   wandergis/coordtransform test/app.js    results for (116.404, 39.915)
#   hujiulong/gcoord test/unit/crs/{GCJ02,BD09,WGS84}.spec.ts  for (123, 45)
EVIL_WGS_GCJ = [  # (wgs lon, wgs lat, gcj lon, gcj lat)
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),     # Shanghai
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),     # Shenzhen
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),     # Beijing
]
REFERENCE = [  # (function, input lon/lat, expected lon/lat, source)
    (wgs84_to_gcj02, (116.404, 39.915), (116.41024449916938, 39.91640428150164), "coordtransform"),
    (gcj02_to_wgs84, (116.404, 39.915), (116.39775550083061, 39.91359571849836), "coordtransform"),
    (gcj02_to_bd09, (116.404, 39.915), (116.41036949371029, 39.92133699351021), "coordtransform"),
    (bd09_to_gcj02, (116.404, 39.915), (116.39762729119315, 39.90865673957631), "coordtransform"),
    (gcj02_to_wgs84, (123, 45), (122.99395597, 44.99804071), "gcoord"),
    (gcj02_to_bd09, (123, 45), (123.00636499, 45.00636899), "gcoord"),
    (bd09_to_gcj02, (123, 45), (122.99363304, 44.99365430), "gcoord"),
    (bd09_to_wgs84, (123, 45), (122.98762210, 44.99171540), "gcoord"),
    (wgs84_to_gcj02, (123, 45), (123.00607541, 45.00197815), "gcoord"),
]
# The references' own inverses are approximate (one closed-form step, or a 1e-6 degree
# stop), ours iterate to 1e-10 degrees: the worst difference is 0.09 m (BD-09 -> WGS 84 at
# (123, 45), gcoord). The forward offsets agree to 0.00 m.
TOLERANCE_M = 0.15


def metres(lon1, lat1, lon2, lat2) -> float:
    dx = (np.asarray(lon1) - lon2) * 111_320.0 * np.cos(np.radians(lat2))
    return float(np.hypot(dx, (np.asarray(lat1) - lat2) * 110_574.0))


@pytest.mark.parametrize("fn, given, expected, source", REFERENCE)
def test_offsets_match_published_reference_coordinates(fn, given, expected, source):
    assert metres(*fn(*given), *expected) < TOLERANCE_M, source


@pytest.mark.parametrize("wgs_lon, wgs_lat, gcj_lon, gcj_lat", EVIL_WGS_GCJ)
def test_gcj02_both_ways_match_eviltransform_vectors(wgs_lon, wgs_lat, gcj_lon, gcj_lat):
    assert metres(*wgs84_to_gcj02(wgs_lon, wgs_lat), gcj_lon, gcj_lat) < 0.01
    assert metres(*gcj02_to_wgs84(gcj_lon, gcj_lat), wgs_lon, wgs_lat) < 0.01


def test_phone_coordinates_in_gcj02_and_bd09_import_as_the_reference_wgs84(db, tmp_path):
    gcj = pd.DataFrame({"lng": [r[2] for r in EVIL_WGS_GCJ], "lat": [r[3] for r in EVIL_WGS_GCJ],
                        "category": "other", "time": "2024-05-01 09:00"})
    gcj.to_csv(tmp_path / "gcj.csv", index=False)
    import_file(db, "incidents", tmp_path / "gcj.csv", crs="gcj02")
    bd = pd.DataFrame({"lng": [123.0], "lat": [45.0], "category": "other",
                       "time": "2024-05-01 09:00"})
    bd.to_csv(tmp_path / "bd.csv", index=False)
    import_file(db, "incidents", tmp_path / "bd.csv", crs="bd09")
    with db.connect() as conn:
        got = conn.execute(text("SELECT ST_X(geom), ST_Y(geom), src_crs, src_x, src_y "
                                "FROM incidents ORDER BY id")).all()
    expected = [(r[0], r[1]) for r in EVIL_WGS_GCJ] + [(122.98762210, 44.99171540)]
    worst = max(metres(g[0], g[1], *e) for g, e in zip(got, expected))
    assert worst < TOLERANCE_M
    assert [g[2] for g in got] == ["gcj02"] * 3 + ["bd09"]
    assert got[3][3:] == pytest.approx((123.0, 45.0), abs=1e-9)  # as the phone gave it


def test_generated_district_loads_for_every_layer(db, tmp_path):
    from gis.generate import generate_district, write_district
    from gis.store.registry import LAYERS

    paths = write_district(generate_district(5000, seed=3), tmp_path / "demo")
    layers = [name for name in LAYERS if name in paths]  # registry order: parents first
    assert {"admin_units", "buildings", "roads", "incidents", "cameras"} <= set(layers)
    for layer in layers:
        result = import_file(db, layer, paths[layer])
        assert result.rows_rejected == 0 and result.rows_loaded == result.rows_read > 0, layer
    with db.connect() as conn:  # buildings keep their community and households
        orphans = conn.execute(text(
            "SELECT count(*) FROM buildings WHERE community_code IS NULL")).scalar_one()
        households = conn.execute(text("SELECT sum(households) FROM buildings")).scalar_one()
    assert orphans == 0 and households > 0
