"""``gridgis map``: a self-contained HTML map from files that renders with no network."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import pandas as pd
import pytest
from shapely import box
from typer.testing import CliRunner

import gis.cli  # noqa: F401  (registers the commands)
from gis.cli.app import app
from gis.errors import InputError
from layers_data import GRIDS, browser, incident_points  # noqa: F401


@pytest.fixture
def files(tmp_path):
    grids = gpd.GeoDataFrame({"网格编码": list(GRIDS), "households": [400, 520, 610, 380]},
                             geometry=[box(*b) for b in GRIDS.values()], crs=4326)
    grids.to_file(tmp_path / "grids.gpkg")
    pts = incident_points(40)
    pd.DataFrame({"经度": pts[:, 0], "纬度": pts[:, 1],
                  "status": ["closed", "reported"] * 20}).to_csv(tmp_path / "events.csv",
                                                                 index=False)
    return tmp_path


def _run(*args):
    return CliRunner().invoke(app, ["map", *map(str, args)], catch_exceptions=True)


def test_map_with_choropleth_and_incidents_is_self_contained(files):
    out = files / "map.html"
    result = _run("--grids", files / "grids.gpkg", "--incidents", files / "events.csv",
                  "--lon", "经度", "--lat", "纬度", "--choropleth", "households",
                  "--grid-key", "网格编码", "--out", out, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["grids"] == 4 and summary["incidents"] == summary["points_drawn"] == 40
    page = out.read_text(encoding="utf-8")
    assert not re.search(r'<script[^>]+src=|<link[^>]+href=', page)  # nothing to fetch
    assert "L.map(" in page and all(code in page for code in GRIDS)
    assert page.count('"status": "closed"') == 20


def test_unknown_choropleth_field_names_it(files):
    result = _run("--grids", files / "grids.gpkg", "--choropleth", "colour", "--out",
                  files / "x.html")
    assert isinstance(result.exception, InputError)
    assert result.exception.field == "choropleth"
    assert not (files / "x.html").exists()


def test_map_renders_offline_in_chromium(files, browser):
    out = files / "offline.html"
    result = _run("--grids", files / "grids.gpkg", "--incidents", files / "events.csv",
                  "--lon", "经度", "--lat", "纬度", "--choropleth", "incidents", "--out", out)
    assert result.exit_code == 0, result.output
    browser.set_network_conditions(offline=True, latency=0, download_throughput=0,
                                   upload_throughput=0)
    browser.get(out.as_uri())
    shapes = browser.execute_script("return typeof L !== 'undefined' && "
                                    "document.querySelectorAll('.leaflet-interactive').length")
    assert shapes == 4 + 40  # four grids and forty incident dots drawn by Leaflet
