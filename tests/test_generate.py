"""The demo district generator: deterministic, exact household totals, a seamless
admin hierarchy with valid codes, buildings off the streets and inside their blocks,
incidents in their 90-day window, and files the importer's reader accepts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from gis.crs import metric_crs_for
from gis.generate import generate_district, write_district
from gis.io import read_layer
from gis.vocabulary import (BUILDING_KINDS, CAMERA_TYPES, INCIDENT_CATEGORIES, INCIDENT_STATUSES,
                        ROAD_CLASSES)

HH = 5000
GPKG = ("admin_units", "roads", "blocks", "buildings", "address_points", "key_places",
        "cameras", "incidents")


@pytest.fixture(scope="module")
def district():
    return generate_district(HH, seed=11)


@pytest.fixture(scope="module")
def written(district, tmp_path_factory):
    out = tmp_path_factory.mktemp("district")
    write_district(district, out, boundaries_dir=out / "boundaries")
    return out


def _metric(gdf):
    return gdf.to_crs(metric_crs_for(gdf))


def test_same_seed_gives_byte_identical_files(written, tmp_path):
    again = generate_district(HH, seed=11)
    write_district(again, tmp_path)
    for name in [f"{n}.gpkg" for n in GPKG] + ["patrol_points.csv", "manifest.json"]:
        assert (written / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_different_seed_gives_different_district(district):
    other = generate_district(HH, seed=12)
    assert other.buildings["households"].sum() + other.address_points["households"].sum() == HH
    a = shapely.get_coordinates(district.buildings.geometry.values)
    b = shapely.get_coordinates(other.buildings.geometry.values)
    assert a.shape != b.shape or not np.allclose(a, b)


def test_households_add_up_exactly(district):
    b, p = district.buildings, district.address_points
    assert int(b["households"].sum() + p["households"].sum()) == HH
    assert int(district.blocks["households"].sum()) == HH
    assert (b["households"] >= 0).all() and p["households"].between(1, 3).all()
    assert set(b["kind"]) <= set(BUILDING_KINDS)
    high = b[b["kind"] == "highrise"]
    per_compound = high.groupby("compound")["households"].sum()
    assert per_compound.between(100, 600).all() and (high.groupby("compound").size() >= 1).all()
    assert b.loc[b["kind"] == "lowrise", "households"].between(2, 30).all()
    assert (b.loc[b["kind"] == "market", "households"] == 0).all() and (b["kind"] == "market").any()


def test_admin_codes_are_twelve_digits_and_nested(district):
    au = district.admin_units
    assert au["code"].str.fullmatch(r"\d{12}").all() and au["code"].is_unique
    county = au[au["level"] == "county"]
    assert len(county) == 1 and county["code"].iloc[0].endswith("000000")
    towns = au[au["level"] == "township"]
    serial = towns["code"].str[6:9].astype(int)
    kinds = towns["kind"].to_numpy()
    assert ((serial[kinds == "street"] <= 99).all() and serial[kinds == "town"].between(100, 199).all()
            and serial[kinds == "township"].between(200, 399).all())
    assert {"street", "town"} <= set(kinds)
    comm = au[au["level"] == "community"]
    assert (comm["code"].str[:9] + "000").isin(towns["code"]).all()
    assert (comm["parent_code"] == comm["code"].str[:9] + "000").all()
    villages = comm[comm["kind"] == "village"]
    assert villages["code"].str[9:].astype(int).between(200, 399).all()


@pytest.mark.parametrize("child_level,parent_level", [("community", "township"),
                                                       ("township", "county")])
def test_children_tile_their_parent(district, child_level, parent_level):
    au = _metric(district.admin_units)
    parents = au[au["level"] == parent_level]
    for _, parent in parents.iterrows():
        kids = au[(au["level"] == child_level) & (au["parent_code"] == parent["code"])]
        union = shapely.union_all(kids.geometry.values)
        assert abs(union.area - parent.geometry.area) < 1e-6 * parent.geometry.area
        assert abs(kids.area.sum() - union.area) < 1e-6 * union.area  # no overlaps
        assert shapely.symmetric_difference(union, parent.geometry).area < 1.0


def test_buildings_stay_off_streets_and_inside_blocks(district):
    b, roads, blocks = district.buildings, district.roads, district.blocks
    assert set(roads["class"]) <= set(ROAD_CLASSES) and len(set(roads["class"])) >= 5
    hits = shapely.STRtree(roads.geometry.values).query(b.geometry.values, predicate="intersects")
    assert hits.size == 0
    block = blocks.set_index("block_id").geometry.loc[b["block_id"]].values
    assert shapely.within(b.geometry.values, block).all()
    pts = district.address_points
    near = shapely.STRtree(roads.geometry.values).query(pts.geometry.values, predicate="intersects")
    assert near.size == 0
    codes = blocks.set_index("block_id")["community_code"].loc[b["block_id"]].to_numpy()
    assert (codes == b["community_code"].to_numpy()).all()


def test_street_network_is_not_a_lattice(district):
    roads = _metric(district.roads)
    town = roads[roads["class"].isin(["tertiary", "residential", "lane"])]
    ends = shapely.get_coordinates(shapely.get_point(town.geometry.values, -1))
    starts = shapely.get_coordinates(shapely.get_point(town.geometry.values, 0))
    bearing = np.degrees(np.arctan2(*(ends - starts).T[::-1])) % 90
    assert np.std(bearing) > 1.0  # not all at the same angle
    straightness = shapely.length(town.geometry.values) / np.hypot(*(ends - starts).T)
    assert (straightness > 1.01).any()  # some curved streets
    blocks = _metric(district.blocks)
    assert blocks.area.std() / blocks.area.mean() > 0.3  # varied block sizes


def test_incidents_within_the_ninety_days(district):
    inc = district.incidents
    assert len(inc) == HH // 10
    tz = timezone(timedelta(hours=8))
    rep = inc["reported_at"].map(datetime.fromisoformat)
    assert inc["reported_at"].str.endswith("+08:00").all()
    end = datetime(2026, 11, 1, tzinfo=tz)
    assert (rep >= end - timedelta(days=90)).all() and (rep < end).all()
    closed = inc["closed_at"].dropna().map(datetime.fromisoformat)
    assert (closed >= rep[closed.index]).all() and (closed < end).all()
    assert set(inc["status"]) <= set(INCIDENT_STATUSES) and (inc["status"] == "closed").mean() > 0.6
    assert inc.apply(lambda r: r["subcategory"] in INCIDENT_CATEGORIES[r["category"]], axis=1).all()
    on_street = shapely.STRtree(district.roads.geometry.values).query(
        inc.geometry.values, predicate="dwithin", distance=1e-7)[0]
    assert 0.2 < len(np.unique(on_street)) / len(inc) < 0.7


def test_cameras_and_patrols(district):
    cams = district.cameras
    assert set(cams["type"]) <= set(CAMERA_TYPES)
    assert 0.0 < (cams["status"] == "offline").mean() < 0.2
    assert cams[["fov", "range", "height"]].isna().any().any()
    assert HH / 150 <= len(cams) <= HH / 50
    pts = district.patrol_points
    assert pts["worker"].str.fullmatch(r"W\d{4,}").all()
    assert pts["worker"].nunique() == len(district.workers) >= HH // 500
    local = pts["time"].dt.tz_convert(timezone(timedelta(hours=8)))
    assert local.min() >= pd.Timestamp("2026-10-30T00:00:00+08:00")
    assert local.max() < pd.Timestamp("2026-11-01T00:00:00+08:00")
    assert local.dt.hour.between(8, 18).all()


def test_files_read_back_with_the_importers_reader(district, written):
    for name in GPKG:
        gdf = read_layer(written / f"{name}.gpkg")
        assert len(gdf) == len(getattr(district, name)) and gdf.crs.to_epsg() == 4326, name
    pts = read_layer(written / "patrol_points.csv")
    assert len(pts) == len(district.patrol_points)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", str(pts["time"].iloc[0]))
    au = read_layer(written / "admin_units.gpkg")
    assert au["code"].map(type).eq(str).all() and au["code"].str.len().eq(12).all()
    assert (written / "boundaries" / "admin_units.geojson").exists()
    manifest = json.loads((written / "manifest.json").read_text())
    assert manifest["seed"] == 11 and manifest["households"] == HH
    assert manifest["counts"]["buildings"] == len(district.buildings)


def test_cli_writes_district_and_rejects_bad_sizes(tmp_path):
    exe = Path(sys.executable).with_name("gridgis")
    ok = subprocess.run([str(exe), "generate", "--households", "5000", "--seed", "3",
                         "--out", str(tmp_path), "--incidents", "50", "--patrol-days", "1",
                         "--json"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    summary = json.loads(ok.stdout)
    assert summary["incidents"] == 50 and (tmp_path / "buildings.gpkg").exists()
    bad = subprocess.run([str(exe), "generate", "--households", "10", "--seed", "3",
                          "--out", str(tmp_path / "x")], capture_output=True, text=True)
    assert bad.returncode == 2 and "households" in bad.stderr
