"""Issue 15, defects 9 and 10: files as they come (layers, .csv.gz, zipped shapefiles,
KML, OSM extracts) through ``gridgis coverage``, ``map`` and ``assign`` as a user runs
them; camera defaults from OSM tags; areas excluded from the target."""

from __future__ import annotations

import gzip
import json
import math
import warnings
import zipfile

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from osm_pbf import write_osm_pbf
from typer.testing import CliRunner

import gis.cli  # noqa: F401  (registers the commands)
from gis.cli.app import app

GK = 4547
X0, Y0 = 500_000.0, 2_500_000.0
runner = CliRunner()


def gk_box(x0, y0, x1, y1):
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def lonlat(x, y):
    p = gpd.GeoSeries([shapely.Point(X0 + x, Y0 + y)], crs=GK).to_crs(4326).iloc[0]
    return p.x, p.y


def invoke(*args):
    res = runner.invoke(app, [*map(str, args), "--json"])
    return res, (json.loads(res.stdout.strip().splitlines()[-1]) if res.exit_code == 0 else None)


@pytest.fixture
def area(tmp_path):
    """One 600 m × 600 m grid (GK zone CRS), a building far from every camera."""
    grids = gpd.GeoDataFrame({"code": ["G1"]}, geometry=[gk_box(0, 0, 600, 600)], crs=GK)
    buildings = gpd.GeoDataFrame(geometry=[gk_box(560, 560, 590, 590)], crs=GK)
    paths = {"grids": tmp_path / "grids.gpkg", "buildings": tmp_path / "buildings.geojson"}
    grids.to_file(paths["grids"])
    buildings.to_crs(4326).to_file(paths["buildings"])
    return paths


def coverage(area, cameras, out, *extra):
    return invoke("coverage", "--cameras", cameras, "--buildings", area["buildings"],
                  "--grids", area["grids"], "--mode", "grid", "--min-area", "0", "--out", out,
                  *extra)


# --- defect 10: cameras from an OSM extract -----------------------------------------------

def osm_extract(path):
    cams = [  # (x, y, tags), 150 m apart: views do not overlap
        (100, 100, {"man_made": "surveillance", "surveillance:type": "camera",
                    "camera:type": "dome", "camera:mount": "pole"}),
        (300, 100, {"man_made": "surveillance", "surveillance:type": "camera",
                    "camera:type": "fixed", "camera:direction": "NE", "height": "4 m"}),
        (500, 100, {"man_made": "surveillance", "camera:type": "fixed",
                    "camera:mount": "wall"}),                      # no direction
        (100, 300, {"man_made": "surveillance", "surveillance": "indoor",
                    "camera:type": "dome"}),                       # sees no public space
        (300, 300, {"man_made": "surveillance", "surveillance:type": "guard"}),
        (500, 300, {"amenity": "bench", "backrest": "yes"}),       # not surveillance
    ]
    nodes = [(i + 1, *lonlat(x, y), tags) for i, (x, y, tags) in enumerate(cams)]
    return write_osm_pbf(path, nodes)


def test_osm_pbf_cameras_get_defaults_by_type_and_they_are_reported(area, tmp_path):
    pbf = osm_extract(tmp_path / "cameras.osm.pbf")
    assert "points" in pyogrio.list_layers(pbf)[:, 0]  # several layers: points chosen
    res, summary = coverage(area, pbf, tmp_path / "cov.gpkg")
    assert res.exit_code == 0, res.output
    osm = summary["osm"]
    assert osm["osm_cameras"] == 3 and summary["cameras_used"] == 3
    assert osm["skipped"] == {"not_surveillance": 1, "not_a_camera": 1, "indoor": 1}
    assert osm["rules"] == {"dome, mount pole: 360° 30 m": 1, "fixed, any mount: 70° 30 m": 1,
                            "fixed, mount wall: 70° 30 m": 1}
    assert osm["direction"] == {"degrees": 0, "compass": 1, "unreadable": 0,
                                "missing_on_directional": 1}
    assert summary["defaults_used"]["azimuth"] == {"xueliang_b": 1}
    views = gpd.read_file(tmp_path / "cov.gpkg", layer="views").set_index("rule")
    assert views.loc["fixed, any mount: 70° 30 m", "azimuth"] == 45.0  # NE
    assert views.loc["fixed, any mount: 70° 30 m", "height"] == 4.0
    # a dome of 30 m, and two 70° sectors of 30 m (the one without a direction as a disc
    # of the same area), not five 360° circles of 50 m as before
    sector = 70 / 360 * math.pi * 30**2
    assert summary["covered_m2"] == pytest.approx(math.pi * 30**2 + 2 * sector, rel=0.02)
    assert summary["covered_m2"] < 0.1 * 5 * math.pi * 50**2


def test_osm_tags_as_columns_and_compass_directions(area, tmp_path):
    pts = [lonlat(100, 100), lonlat(300, 300)]
    cams = gpd.GeoDataFrame({"man_made": ["surveillance"] * 2,
                             "camera:type": ["fixed", "panning"],
                             "camera:direction": ["SW", None]},
                            geometry=gpd.points_from_xy(*zip(*pts)), crs=4326)
    path = tmp_path / "overpass.geojson"
    cams.to_file(path)
    res, summary = coverage(area, path, tmp_path / "cov.gpkg")
    assert res.exit_code == 0, res.output
    assert summary["osm"]["rules"] == {"fixed, any mount: 70° 30 m": 1,
                                       "panning, any mount: 360° 50 m": 1}
    views = gpd.read_file(tmp_path / "cov.gpkg", layer="views")
    assert sorted(views["azimuth"]) == [0.0, 225.0]


def test_excluded_water_and_railway_are_not_blind_spots(area, tmp_path):
    cams = gpd.GeoDataFrame({"type": ["dome"], "range": [40]},
                            geometry=[shapely.Point(X0 + 100, Y0 + 100)], crs=GK)
    cams.to_file(tmp_path / "cams.gpkg")
    lake = gk_box(300, 300, 500, 500)                        # 40,000 m² of water
    rail = shapely.LineString([(X0, Y0 + 550), (X0 + 600, Y0 + 550)])  # 600 m of track
    gpd.GeoDataFrame({"kind": ["water", "railway"]}, geometry=[lake, rail],
                     crs=GK).to_file(tmp_path / "exclude.gpkg")
    res, base = coverage(area, tmp_path / "cams.gpkg", tmp_path / "a.gpkg")
    assert res.exit_code == 0, res.output
    res, cut = coverage(area, tmp_path / "cams.gpkg", tmp_path / "b.gpkg", "--exclude",
                        tmp_path / "exclude.gpkg")
    assert res.exit_code == 0, res.output
    expected = 200 * 200 + 600 * 10  # the lake and a 10 m rail corridor
    assert cut["excluded"]["area_m2"] == pytest.approx(expected, rel=0.01)
    assert cut["excluded"]["lines_buffered"] == 1
    assert base["blind_m2"] - cut["blind_m2"] == pytest.approx(expected, rel=0.01)
    assert cut["covered_m2"] == pytest.approx(base["covered_m2"], rel=1e-6)
    assert cut["coverage_ratio"] > base["coverage_ratio"]


# --- defect 9: layers ------------------------------------------------------------------------

def test_map_draws_a_coverage_result_and_is_told_other_layers(area, tmp_path):
    cams = gpd.GeoDataFrame({"type": ["dome"]}, geometry=[shapely.Point(X0 + 100, Y0 + 100)],
                            crs=GK)
    cams.to_file(tmp_path / "cams.gpkg")
    result = tmp_path / "cov.gpkg"
    res, _ = coverage(area, tmp_path / "cams.gpkg", result)
    assert res.exit_code == 0, res.output
    assert len(pyogrio.list_layers(result)) >= 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "more than one layer" warning leaks
        res, summary = invoke("map", "--grids", result, "--out", tmp_path / "m.html")
    assert res.exit_code == 0, res.output
    assert summary["layer"] == "grid_coverage" and summary["grids"] == 1
    res, summary = invoke("map", "--grids", f"{result}:blind_spots", "--choropleth", "area_m2",
                          "--out", tmp_path / "b.html")
    assert res.exit_code == 0, res.output
    assert summary["layer"] == "blind_spots" and summary["grids"] >= 1
    res, summary = invoke("map", "--grids", result, "--layer", "views", "--out",
                          tmp_path / "v.html")
    assert res.exit_code == 0 and summary["layer"] == "views"
    # two layers and neither is a grids layer: listed, not guessed
    two = tmp_path / "two.gpkg"
    gpd.read_file(result, layer="views").to_file(two, layer="a")
    gpd.read_file(result, layer="views").to_file(two, layer="b")
    res, _ = invoke("map", "--grids", two, "--out", tmp_path / "x.html")
    assert res.exit_code != 0 and res.exception.field == "layer"
    assert "a (" in str(res.exception) and "b (" in str(res.exception)


def test_coverage_reads_layers_named_either_way(area, tmp_path):
    both = tmp_path / "inputs.gpkg"
    gpd.read_file(area["grids"]).to_file(both, layer="grids")
    gpd.read_file(area["buildings"]).to_file(both, layer="buildings")
    gpd.GeoDataFrame({"type": ["dome"]}, geometry=[shapely.Point(X0 + 100, Y0 + 100)],
                     crs=GK).to_file(both, layer="cams")
    res, summary = invoke("coverage", "--cameras", f"{both}:cams", "--buildings", both,
                          "--grids", both, "--layer", "buildings=buildings", "--layer",
                          "grids=grids", "--mode", "grid", "--out", tmp_path / "c.gpkg")
    assert res.exit_code == 0, res.output
    assert summary["grids"] == 1 and summary["cameras_used"] == 1
    res, _ = invoke("coverage", "--cameras", f"{both}:cams", "--buildings", both,
                    "--grids", f"{both}:grids", "--out", tmp_path / "d.gpkg")
    assert res.exit_code != 0 and "3 layers" in str(res.exception)
    res, _ = invoke("coverage", "--cameras", f"{both}:cams", "--buildings", f"{both}:buildings",
                    "--grids", both, "--layer", "grids=nope", "--out", tmp_path / "e.gpkg")
    assert res.exit_code != 0 and "no layer named 'nope'" in str(res.exception)


# --- defect 9: .csv.gz, zipped shapefiles, KML; assign --check rates --------------------------

@pytest.fixture
def districts(tmp_path):
    """Two grids side by side, as a zipped shapefile and as KML."""
    g = gpd.GeoDataFrame({"code": ["A", "B"]}, geometry=[gk_box(0, 0, 500, 500),
                         gk_box(500, 0, 1000, 500)], crs=GK).to_crs(4326)
    g.to_file(tmp_path / "districts.shp")
    with zipfile.ZipFile(tmp_path / "districts.shp.zip", "w") as z:
        for ext in ("shp", "shx", "dbf", "prj", "cpg"):
            z.write(tmp_path / f"districts.{ext}", f"districts.{ext}")
    g.to_file(tmp_path / "districts.kml", driver="KML")
    return tmp_path


def test_assign_reads_gz_zip_and_kml_and_reports_both_check_rates(districts, tmp_path):
    pts = [(100, 250, "A"), (200, 250, "A"), (495, 250, "B"), (505, 250, "B"), (800, 250, "B"),
           (900, 250, "A")]  # (495: recorded B, 5 m from B: a candidate; 900: wrong record)
    xy = [lonlat(x, y) for x, y, _ in pts]
    df = pd.DataFrame({"id": range(1, 7), "lon": [p[0] for p in xy], "lat": [p[1] for p in xy],
                       "recorded": [r for *_, r in pts]})
    df.loc[len(df)] = [7, 113.0, 400.0, "A"]  # an impossible latitude: counted, not fatal
    with gzip.open(tmp_path / "points.csv.gz", "wt") as fh:
        df.to_csv(fh, index=False)
    for grids in ("districts.shp.zip", "districts.kml"):
        res, summary = invoke("assign", tmp_path / "points.csv.gz", "--grids", tmp_path / grids,
                              "--grid-key", "code", "--check", "recorded", "--out",
                              tmp_path / "out.csv")
        assert res.exit_code == 0, res.output
        assert summary["rows"] == 7 and summary["assigned"] == 6
        assert summary["out_of_range"] == 1
        assert summary["checked"] == 7
        assert summary["exact"] == 4 and summary["exact_pct"] == pytest.approx(100 * 4 / 7, abs=1e-3)
        assert summary["reproduced"] == 5
        assert summary["with_candidates_pct"] == pytest.approx(100 * 5 / 7, abs=1e-3)
        assert summary["reproduced_pct"] == summary["with_candidates_pct"]  # its old meaning
        out = pd.read_csv(tmp_path / "out.csv")
        assert list(out["id"]) == list(range(1, 8)) and out.loc[6, "lat"] == 400.0
    # --strict refuses the file at the impossible latitude instead, writing nothing
    for name in ("points.csv.gz", "points.csv"):
        if name == "points.csv":
            df.to_csv(tmp_path / name, index=False)
        res, _ = invoke("assign", tmp_path / name, "--grids", tmp_path / "districts.kml",
                        "--grid-key", "code", "--strict", "--out", tmp_path / "strict.csv")
        assert res.exit_code != 0 and not (tmp_path / "strict.csv").exists()
        p = res.exception.problem
        assert p.file.endswith(name) and p.row == 7 and p.field == "lat", str(res.exception)
