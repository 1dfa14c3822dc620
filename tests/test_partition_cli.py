"""gridgis partition on files as they come: census blocks (EPSG:4269, HOUSING20) + TIGER roads."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import shapely
from typer.testing import CliRunner

import gis.cli  # noqa: F401  (registers the commands)
from gis.cli.app import app
from partition_fixtures import assert_seamless, lattice_blocks


def _census(tmp_path):
    blocks = lattice_blocks(16, 16, total=8_000).rename(columns={"households": "HOUSING20"})
    blocks["HOUSING20"] = blocks["HOUSING20"].astype(float)
    blocks.loc[3, "HOUSING20"] = np.nan  # missing value
    blocks.loc[4, "HOUSING20"] = 0
    x0, y0, x1, y1 = blocks.geometry.iat[5].bounds
    blocks.loc[5, "geometry"] = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    blocks["GEOID20"] = [f"27053{i:010d}" for i in range(len(blocks))]
    lines = shapely.get_parts(shapely.union_all(shapely.boundary(blocks.geometry.values)))
    far = shapely.affinity.translate(lines[0], 0.5, 0.0)  # road piece far outside the parent
    roads = gpd.GeoDataFrame({"MTFCC": ["S1400"] * (len(lines) + 1)},
                             geometry=list(lines) + [far], crs=4326)
    blocks.to_crs(4269).to_file(tmp_path / "tabblock20.shp")
    roads.to_crs(4269).to_file(tmp_path / "roads.shp")
    return blocks


def test_partition_census_blocks_with_tiger_roads(tmp_path):
    blocks = _census(tmp_path)
    out = tmp_path / "grids.gpkg"
    res = CliRunner().invoke(app, ["partition", "--units", str(tmp_path / "tabblock20.shp"),
                                   "--households", "HOUSING20", "--roads",
                                   str(tmp_path / "roads.shp"), "--out", str(out),
                                   "--code-prefix", "270530001001", "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout.strip().splitlines()[-1])
    for key in ("grids", "within_bounds_share", "households_min", "households_max",
                "compactness_mean", "street_boundary_share", "seconds"):
        assert key in report
    assert report["within_bounds_share"] == 1.0
    assert report["street_boundary_share"] >= 0.98
    grids = assert_seamless(out, 4269)
    assert grids.crs.to_epsg() == 4269  # written in the blocks' own CRS
    assert {"code", "households", "geometry"} <= set(grids.columns)
    assert grids["households"].sum() == int(np.nansum(blocks["HOUSING20"]))
    assert grids["code"].str.startswith("270530001001").all()


def test_bad_household_field_is_a_clear_error(tmp_path):
    _census(tmp_path)
    res = CliRunner().invoke(app, ["partition", "--units", str(tmp_path / "tabblock20.shp"),
                                   "--households", "POP20", "--out", str(tmp_path / "g.gpkg")])
    assert res.exit_code != 0
    assert "POP20" in str(res.exception) + res.output
    assert not (tmp_path / "g.gpkg").exists()


def test_rebalance_and_crosswalk_commands_on_files(tmp_path):
    import pandas as pd

    from partition_fixtures import street_town

    buildings, roads, parent = street_town(n=8)
    for name, gdf in (("b.gpkg", buildings), ("roads.gpkg", roads), ("parent.gpkg", parent)):
        gdf.set_crs(4326, allow_override=True).to_file(tmp_path / name)
    run = CliRunner().invoke
    res = run(app, ["partition", "--units", str(tmp_path / "b.gpkg"), "--roads",
                    str(tmp_path / "roads.gpkg"), "--parent", str(tmp_path / "parent.gpkg"),
                    "--code-prefix", "510104001001", "--out", str(tmp_path / "grids.gpkg")])
    assert res.exit_code == 0, res.output
    m = buildings.to_crs(4544)
    x0, y0, x1, y1 = m[m["block"] == "3,3"].total_bounds
    site = shapely.box((x0 + x1) / 2 - 10, (y0 + y1) / 2 - 10, (x0 + x1) / 2 + 10,
                       (y0 + y1) / 2 + 10)
    new = gpd.GeoDataFrame({"households": [400]}, geometry=[site], crs=4544).to_crs(4326)
    now = gpd.GeoDataFrame(pd.concat([buildings, new], ignore_index=True), crs=4326)
    now.rename(columns={"households": "HH"}).to_file(tmp_path / "now.gpkg")
    res = run(app, ["rebalance", "--grids", str(tmp_path / "grids.gpkg"), "--units",
                    str(tmp_path / "now.gpkg"), "--households", "HH", "--roads",
                    str(tmp_path / "roads.gpkg"), "--out", str(tmp_path / "after.gpkg"),
                    "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout.strip().splitlines()[-1])
    assert 1 <= report["grids_changed"] <= 4 and report["households_kept_share"] >= 0.95
    assert_seamless(tmp_path / "grids.gpkg", 4326)
    after = assert_seamless(tmp_path / "after.gpkg", 4326)
    assert after["households"].sum() == now["households"].sum()
    assert after["households"].between(300, 500).all()
    out = tmp_path / "cw.csv"
    res = run(app, ["crosswalk", "--old", str(tmp_path / "grids.gpkg"), "--new",
                    str(tmp_path / "after.gpkg"), "--units", str(tmp_path / "now.gpkg"),
                    "--households", "HH", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out, dtype={"old_code": str, "new_code": str})
    assert table["households"].sum() == now["households"].sum()
    unchanged = table[table["old_code"] == table["new_code"]]
    assert unchanged["households"].sum() >= 0.95 * now["households"].sum() - 400
    res = run(app, ["crosswalk", "--old", str(tmp_path / "grids.gpkg"), "--new",
                    str(tmp_path / "after.gpkg"), "--old-code", "FXWG", "--out", str(out)])
    assert res.exit_code != 0 and "FXWG" in str(res.exception) + res.output
