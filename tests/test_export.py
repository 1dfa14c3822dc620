"""gridgis export, and the round trip file -> PostGIS -> file for every format and for the
CRS cases users bring (WGS 84, CGCS2000, a Gauss–Krüger zone, GCJ-02, BD-09): geometry
must come back within 1e-7 degrees and attributes unchanged."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, box
from sqlalchemy import text

from gis.crs import wgs84_to_offset
from gis.errors import InputError
from gis.io import read_layer, write_layer
from gis.store.exporter import export_layer, read_table
from gis.services.imports import import_file

FORMATS = ["gpkg", "geojson", "shp", "fgb", "parquet", "csv"]
TOL_DEG = 1e-7


def incidents(n: int = 12) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(7)
    lon = 113.0 + rng.random(n) * 0.1
    lat = 28.0 + rng.random(n) * 0.1
    return gpd.GeoDataFrame({
        "external_id": [f"E{i:03d}" for i in range(n)],
        "category": np.resize(["dispute", "environment", "safety_hazard"], n),
        "status": np.resize(["reported", "closed"], n),
        "reported_at": pd.date_range("2024-05-01 08:00", periods=n, freq="7h",
                                     tz="Asia/Shanghai"),
        "description": ["楼道堆物"] * n,
    }, geometry=gpd.points_from_xy(lon, lat), crs=4326)


def buildings(n: int = 8) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(3)
    x = 113.0 + rng.random(n) * 0.1
    y = 28.0 + rng.random(n) * 0.1
    shapes = [shapely.MultiPolygon([shapely.Polygon([(a, b), (a + 4e-4, b), (a + 5e-4, b + 3e-4),
                                                     (a, b + 4e-4)])]) for a, b in zip(x, y)]
    return gpd.GeoDataFrame({"source_id": [f"B{i}" for i in range(n)],
                             "households": rng.integers(0, 200, n), "floors": [6] * n,
                             "kind": "highrise"}, geometry=shapes, crs=4326)


def by_key(gdf: gpd.GeoDataFrame, key: str) -> gpd.GeoDataFrame:
    col = key if key in gdf else key[:10]  # Shapefiles cut field names to 10 characters
    return gdf.set_index(gdf[col].astype(str)).sort_index()


def assert_same_geometry(got: gpd.GeoDataFrame, expected: gpd.GeoDataFrame, key: str) -> None:
    got, expected = by_key(got, key), by_key(expected, key)
    assert list(got.index) == list(expected.index)
    gap = shapely.hausdorff_distance(got.geometry.to_numpy(), expected.geometry.to_numpy())
    assert np.nanmax(gap) < TOL_DEG


@pytest.mark.parametrize("fmt", FORMATS)
def test_incidents_round_trip_every_format(db, tmp_path, fmt):
    original = incidents()
    source = write_layer(original, tmp_path / f"in.{fmt}")
    assert import_file(db, "incidents", source).rows_loaded == len(original)
    out = tmp_path / f"out.{fmt}"
    assert export_layer(db, "incidents", out) == len(original)
    back = read_layer(out)
    assert_same_geometry(back, original, "external_id")
    back, expected = by_key(back, "external_id"), by_key(original, "external_id")
    assert back["category"].tolist() == expected["category"].tolist()
    assert back["status"].tolist() == expected["status"].tolist()
    reported = back["reported_at" if fmt != "shp" else "reported_a"]
    when = pd.to_datetime(reported.astype(str), format="mixed", utc=True)
    assert (when.to_numpy() == expected["reported_at"].dt.tz_convert("UTC").to_numpy()).all()
    # and the exported file imports again as it is
    assert import_file(db, "incidents", out, replace=True).rows_rejected == 0


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "csv"])
def test_building_polygons_round_trip_every_vector_format(db, tmp_path, fmt):
    original = buildings()
    import_file(db, "buildings", write_layer(original, tmp_path / f"in.{fmt}"))
    out = tmp_path / f"out.{fmt}"
    export_layer(db, "buildings", out)
    back = read_layer(out)
    assert_same_geometry(back, original, "source_id")
    assert by_key(back, "source_id")["households"].astype(int).tolist() == \
        by_key(original, "source_id")["households"].tolist()


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:4490", "EPSG:4547"])
def test_declared_crs_is_converted_on_import_and_export(db, tmp_path, crs):
    """Files in CGCS2000 and in the 114°E Gauss–Krüger zone (metres) load as WGS 84 and
    export back into the same CRS."""
    original = buildings()
    source = write_layer(original.to_crs(crs), tmp_path / "in.gpkg")
    result = import_file(db, "buildings", source)
    assert result.source_crs == crs
    assert_same_geometry(read_table(db, "buildings"), original, "source_id")
    out = export_layer(db, "buildings", tmp_path / "out.gpkg", crs=crs) and tmp_path / "out.gpkg"
    exported = gpd.read_file(out)
    assert exported.crs.to_string() == crs
    assert_same_geometry(exported.to_crs(4326), original, "source_id")


@pytest.mark.parametrize("offset", ["gcj02", "bd09"])
def test_phone_offsets_round_trip_through_the_store(db, tmp_path, offset):
    """Points from a phone app in GCJ-02/BD-09: stored as WGS 84 (with the original kept),
    exported with --crs back to the phone's coordinates."""
    original = incidents()
    phone = original.set_geometry(wgs84_to_offset(original.geometry.values, offset), crs=4326)
    path = write_layer(phone, tmp_path / "phone.csv")
    import_file(db, "incidents", path, crs=offset)
    assert_same_geometry(read_table(db, "incidents"), original, "external_id")
    with db.connect() as conn:
        kept = conn.execute(text("SELECT external_id, src_crs, src_x, src_y FROM incidents "
                                 "ORDER BY external_id")).all()
    given = by_key(phone, "external_id")
    assert {k[1] for k in kept} == {offset}
    assert np.allclose([k[2] for k in kept], given.geometry.x, atol=1e-9)
    export_layer(db, "incidents", tmp_path / "back.csv", crs=offset)
    assert_same_geometry(read_layer(tmp_path / "back.csv"), phone, "external_id")


def test_export_filters_and_bbox_select_rows(db, tmp_path):
    original = incidents()
    import_file(db, "incidents", write_layer(original, tmp_path / "in.gpkg"))
    closed = export_layer(db, "incidents", tmp_path / "closed.geojson", status="closed")
    assert closed == (original["status"] == "closed").sum()
    either = export_layer(db, "incidents", tmp_path / "two.geojson",
                          category=["dispute", "environment"])
    assert either == original["category"].isin(["dispute", "environment"]).sum()
    bbox = (113.0, 28.0, 113.05, 28.05)
    inside = original.cx[bbox[0]:bbox[2], bbox[1]:bbox[3]]
    n = export_layer(db, "incidents", tmp_path / "box.gpkg", bbox=bbox, status="closed")
    assert n == (inside["status"] == "closed").sum()
    assert set(gpd.read_file(tmp_path / "box.gpkg")["external_id"]) == \
        set(inside.loc[inside["status"] == "closed", "external_id"])
    with pytest.raises(InputError) as err:  # free SQL is not a filter
        export_layer(db, "incidents", tmp_path / "x.gpkg", **{"status='x' OR 1=1 --": "x"})
    assert "cannot filter" in str(err.value)


def test_grid_staff_export_to_csv_and_refused_for_geometry_formats(db, tmp_path):
    pd.DataFrame({"name": ["王五"], "role": ["volunteer"], "grid_code": ["4301020010010001"]}
                 ).to_csv(tmp_path / "staff.csv", index=False)
    import_file(db, "grid_staff", tmp_path / "staff.csv")
    assert export_layer(db, "grid_staff", tmp_path / "out.csv") == 1
    assert pd.read_csv(tmp_path / "out.csv", dtype=str).loc[0, "name"] == "王五"
    with pytest.raises(InputError):
        export_layer(db, "grid_staff", tmp_path / "out.gpkg")


def test_cli_export_writes_the_filtered_layer(db, settings, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import gis.cli  # noqa: F401  (registers the commands)
    from gis.cli.app import app

    monkeypatch.setenv("GRIDGIS_DATABASE_URL", settings.database_url)
    cams = gpd.GeoDataFrame({"code": ["C1", "C2"], "type": ["face", "ptz"],
                             "status": ["online", "offline"]},
                            geometry=[Point(113.01, 28.01), Point(113.2, 28.2)], crs=4326)
    import_file(db, "cameras", write_layer(cams, tmp_path / "cams.geojson"))
    out = tmp_path / "offline.fgb"
    done = CliRunner().invoke(app, ["export", "cameras", str(out), "--filter", "status=offline",
                                    "--bbox", "113.1,28.1,113.3,28.3", "--json"])
    assert done.exit_code == 0, done.output
    assert '"rows": 1' in done.stdout
    assert gpd.read_file(out)["code"].tolist() == ["C2"]
    assert box(113.1, 28.1, 113.3, 28.3).contains(gpd.read_file(out).geometry[0])
