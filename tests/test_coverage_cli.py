"""``gridgis coverage`` end to end on real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from typer.testing import CliRunner

import gis.cli  # noqa: F401  (registers the commands)
from gis.cli.app import app

GK = 4547
X0, Y0 = 500_000.0, 2_500_000.0
GRIDGIS = Path(sys.executable).with_name("gridgis")


def box(x0, y0, x1, y1):
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


@pytest.fixture()
def files(tmp_path):
    grids = gpd.GeoDataFrame({"code": ["G1", "G2"]}, geometry=[box(0, -50, 100, 100),
                             box(100, -50, 200, 100)], crs=GK).to_crs(4326)
    buildings = gpd.GeoDataFrame(geometry=[box(20, 10, 45, 40), box(120, 10, 150, 45)],
                                 crs=GK).to_crs(4326)
    roads = gpd.GeoDataFrame({"class": ["secondary", "lane"]}, geometry=[
        shapely.LineString([(X0, Y0), (X0 + 200, Y0)]),
        shapely.LineString([(X0 + 100, Y0 - 50), (X0 + 100, Y0 + 100)])], crs=GK).to_crs(4326)
    cams = gpd.GeoDataFrame({"KIND": ["xueliang_a", "dome", "face"],
                             "STATE": ["online", "online", "offline"], "DIR": [90, None, 0]},
                            geometry=gpd.points_from_xy([X0 + 5, X0 + 100, X0 + 180],
                                                        [Y0, Y0 + 60, Y0]), crs=GK).to_crs(4326)
    incidents = gpd.GeoDataFrame({"reported_at": ["2024-05-01"] * 2},  # near the street
                                 geometry=gpd.points_from_xy([X0 + 195, X0 + 190],
                                                             [Y0 - 25, Y0 - 20]), crs=GK)
    paths = {"grids": tmp_path / "grids.gpkg", "buildings": tmp_path / "buildings.geojson",
             "roads": tmp_path / "roads.gpkg", "incidents": tmp_path / "incidents.geojson",
             "cameras": tmp_path / "cameras.csv"}
    grids.to_file(paths["grids"])
    buildings.to_file(paths["buildings"])
    roads.to_file(paths["roads"])
    incidents.to_crs(4326).to_file(paths["incidents"])
    pd.DataFrame({"经度": cams.geometry.x, "纬度": cams.geometry.y, "KIND": cams.KIND,
                  "STATE": cams.STATE, "DIR": cams.DIR}).to_csv(paths["cameras"], index=False)
    return paths


def _args(files, out, *extra):
    return ["coverage", "--cameras", str(files["cameras"]), "--buildings",
            str(files["buildings"]), "--grids", str(files["grids"]), "--roads",
            str(files["roads"]), "--incidents", str(files["incidents"]), "--map", "KIND=type",
            "--map", "STATE=status", "--map", "DIR=azimuth", "--out", str(out), "--json", *extra]


def test_cli_writes_layers_and_a_json_summary(files, tmp_path):
    out = tmp_path / "cov.gpkg"
    res = CliRunner().invoke(app, _args(files, out, "--suggest", "2", "--min-area", "0"))
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["cameras_used"] == 2 and summary["cameras_offline"] == 1
    assert 0 < summary["coverage_ratio"] < 1
    assert summary["covered_m2"] + summary["blind_m2"] == pytest.approx(summary["target_m2"],
                                                                        abs=0.2)
    assert summary["defaults_used"]["range"] == {"dome": 1, "xueliang_a": 1}
    layers = set(pyogrio.list_layers(out)[:, 0])
    assert {"coverage", "blind_spots", "grid_coverage", "views", "sites"} <= layers
    table = gpd.read_file(out, layer="grid_coverage")
    assert sorted(table["grid"]) == ["G1", "G2"]
    spots = gpd.read_file(out, layer="blind_spots")
    assert spots["incidents"].sum() == 2
    sites = gpd.read_file(out, layer="sites")
    assert len(sites) == 2 and sites["gain_m2"].sum() == pytest.approx(summary["sites_gain_m2"],
                                                                        abs=0.2)


def test_cli_bad_camera_row_names_file_row_and_field(files, tmp_path):
    df = pd.read_csv(files["cameras"])
    df.loc[1, "KIND"] = "laser"
    df.to_csv(files["cameras"], index=False)
    out = tmp_path / "cov.gpkg"
    env = {**os.environ, "COLUMNS": "400"}  # rich would wrap the long tmp path
    proc = subprocess.run([str(GRIDGIS), *_args(files, out)], capture_output=True, text=True,
                          env=env)
    assert proc.returncode == 2
    assert "cameras.csv: row 2" in proc.stderr and "'type'" in proc.stderr and "laser" in proc.stderr
    assert not out.exists()  # nothing half-written
