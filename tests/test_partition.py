"""partition(): exact cover, bounds, contiguity, streets, exclusive compounds, violations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from gis.errors import InputError
from gis.partition import partition, validate
from gis.partition.quality import polsby_popper
from partition_fixtures import assert_seamless, lattice_blocks, street_town


def _area_m2(gdf):
    return gdf.to_crs(4544).area


def test_blocks_cover_parent_exactly_within_bounds():
    blocks = lattice_blocks(20, 20, total=20_000)  # ~50 households a block, as in cities
    res = partition(blocks, "households", community_code="510104001001")
    assert_seamless(res.grids)
    grids = res.grids
    assert grids.crs.to_epsg() == 4326
    assert (grids["households"].between(300, 500)).all()
    assert grids["households"].sum() == blocks["households"].sum()
    parent = shapely.union_all(blocks.geometry.values)
    assert validate(grids, parent, blocks).empty  # no gap, overlap, spill, cut or bounds
    assert abs(_area_m2(grids).sum() - _area_m2(blocks).sum()) < 1.0
    assert (shapely.get_num_geometries(grids.geometry.values) == 1).all()
    rep = res.report
    assert rep["within_bounds_share"] == 1.0 and rep["contiguous_share"] == 1.0
    assert rep["lower_bound"] == int(np.ceil(blocks["households"].sum() / 500))
    assert rep["excess_over_lower_bound"] <= 0.15
    assert rep["compactness_mean"] >= 0.55
    assert rep["street_boundary_share"] is None  # no roads given
    assert res.violations.empty


def test_grid_codes_are_community_code_plus_serial():
    res = partition(lattice_blocks(8, 8, total=8_000), community_code="510104001001")
    assert_seamless(res.grids)
    codes = res.grids["code"]
    assert codes.is_unique
    assert codes.str.len().eq(16).all() and codes.str.startswith("510104001001").all()
    assert sorted(codes.str[-4:].astype(int)) == list(range(1, len(codes) + 1))


def test_roads_make_street_boundaries_and_compound_stays_whole():
    buildings, roads, parent = street_town()
    buildings.loc[buildings["block"] == "2,2", "compound"] = "Lotus Garden"
    res = partition(buildings, roads=roads, parent=parent, exclusive="compound")
    assert_seamless(res.grids)
    grids = res.grids
    excl = grids[grids["kind"] == "exclusive"]
    assert len(excl) == 1 and excl["code"].iat[0].endswith("9001")
    compound = buildings[buildings["compound"].notna()]
    assert excl["households"].iat[0] == compound["households"].sum()
    assert res.report["street_boundary_share"] >= 0.98
    basic = grids[grids["kind"] == "basic"]
    assert basic["households"].between(300, 500).all()
    problems = validate(grids, parent, buildings)
    assert set(problems["rule"]) <= {"below_min"}  # only the small compound, by design
    assert abs(_area_m2(grids).sum() - _area_m2(parent).sum()) < 1.0


def test_building_above_max_is_reported_and_never_cut():
    buildings, roads, parent = street_town()
    buildings.loc[0, "households"] = 620
    res = partition(buildings, roads=roads, parent=parent)
    assert_seamless(res.grids)
    v = res.violations
    big = v[v["rule"] == "above_max"]
    assert len(big) == 1 and "620" in big["detail"].iat[0]
    assert (res.grids["households"] > 500).sum() == 1
    others = res.grids[res.grids["households"] <= 500]
    assert others["households"].between(300, 500).all()
    assert "building_cut" not in set(validate(res.grids, parent, buildings)["rule"])


def test_address_points_without_roads_tile_parent():
    rng = np.random.default_rng(4)
    blocks = lattice_blocks(6, 6, total=3_000)
    pts = blocks.to_crs(4544).sample_points(5, rng=rng).explode().to_crs(4326)
    units = pts.to_frame("geometry").set_geometry("geometry")
    units["hh"] = 3_000 // len(units)
    parent = shapely.union_all(blocks.geometry.values)
    res = partition(units, "hh", parent=parent)
    assert_seamless(res.grids)
    assert res.report["within_bounds_share"] == 1.0
    assert validate(res.grids, parent, units, "hh").empty


def test_village_below_min_stays_one_grid_with_a_violation():
    village = lattice_blocks(3, 3, total=180)
    res = partition(village)
    assert_seamless(res.grids)
    assert len(res.grids) == 1
    assert list(res.violations["rule"]) == ["parent_below_min"]


def test_messy_household_values_and_invalid_geometry():
    blocks = lattice_blocks(6, 6, total=4_000)
    blocks["households"] = blocks["households"].astype(object)
    blocks.loc[0, "households"] = None
    blocks.loc[1, "households"] = "n/a"
    x0, y0, x1, y1 = blocks.geometry.iat[2].bounds
    blocks.loc[2, "geometry"] = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    res = partition(blocks)
    assert_seamless(res.grids)
    expected = pd.to_numeric(blocks["households"], errors="coerce").fillna(0).sum()
    assert res.grids["households"].sum() == expected


def test_negative_households_name_the_row():
    blocks = lattice_blocks(3, 3, total=900)
    blocks.loc[4, "households"] = -5
    with pytest.raises(InputError, match="row 5"):
        partition(blocks)


def test_township_parts_partitioned_per_community():
    blocks = lattice_blocks(10, 6, total=9_000)
    m = blocks.to_crs(4544)
    xmid = float(np.median(m.centroid.x))
    west = shapely.union_all(m[m.centroid.x < xmid].geometry.values)
    east = shapely.union_all(m[m.centroid.x >= xmid].geometry.values)
    import geopandas as gpd
    parents = gpd.GeoDataFrame({"code": ["510104001001", "510104001002"]},
                               geometry=[west, east], crs=4544).to_crs(4326)
    res = partition(blocks, parent=parents)
    assert_seamless(res.grids)
    grids = res.grids.to_crs(4544)
    for code, geom in zip(["510104001001", "510104001002"], [west, east]):
        mine = grids[grids["community_code"] == code]
        assert mine["code"].str.startswith(code).all()
        inside = shapely.area(shapely.intersection(mine.geometry.values, geom))
        assert np.allclose(inside, mine.area, rtol=1e-6)  # never across communities


def test_validate_returns_gaps_and_overlaps_as_polygons():
    blocks = lattice_blocks(8, 8, total=8_000)
    res = partition(blocks)
    assert_seamless(res.grids)
    grids = res.grids.copy()
    m = grids.to_crs(4544)
    m.loc[0, "geometry"] = m.geometry.iat[0].buffer(-5)  # opens a gap
    m.loc[1, "geometry"] = m.geometry.iat[1].buffer(5)  # overlaps its neighbours
    bad = validate(m.to_crs(4326), shapely.union_all(blocks.geometry.values), blocks)
    assert {"gap", "overlap"} <= set(bad["rule"])
    assert bad[bad["rule"] == "gap"].geom_type.isin(["Polygon", "MultiPolygon"]).all()
    assert polsby_popper(np.array([shapely.box(0, 0, 1, 1)]))[0] == pytest.approx(np.pi / 4)


def test_pocket_walled_off_by_compounds_joins_a_grid_through_a_corridor():
    buildings, roads, parent = street_town(n=4)
    walls = buildings["block"].isin(["1,0", "0,1"])  # the corner block 0,0 is cut off
    buildings.loc[walls, "compound"] = np.where(buildings.loc[walls, "block"] == "1,0",
                                                "East Garden", "North Garden")
    res = partition(buildings, roads=roads, parent=parent, exclusive="compound")
    assert_seamless(res.grids)
    grids = res.grids
    basic = grids[grids["kind"] == "basic"]
    assert basic["households"].between(300, 500).all(), basic["households"].tolist()
    assert (shapely.get_num_geometries(grids.geometry.values) == 1).all()
    for name in ("East Garden", "North Garden"):
        mine = buildings[buildings["compound"] == name]
        assert mine["households"].sum() in set(grids.loc[grids["kind"] == "exclusive",
                                                         "households"])
    assert set(validate(grids, parent, buildings)["rule"]) <= {"below_min"}  # compounds only
    assert abs(_area_m2(grids).sum() - _area_m2(parent).sum()) < 1.0


def test_compound_sharing_a_block_takes_only_its_own_buildings():
    buildings, roads, parent = street_town(n=4)
    first = buildings.index[buildings["block"] == "1,1"][:2]
    buildings.loc[first, "compound"] = "Lotus Garden"
    res = partition(buildings, roads=roads, parent=parent, exclusive="compound")
    assert_seamless(res.grids)
    excl = res.grids[res.grids["kind"] == "exclusive"]
    assert excl["households"].tolist() == [buildings.loc[first, "households"].sum()]
    assert "building_cut" not in set(validate(res.grids, parent, buildings)["rule"])
    assert res.report["within_bounds_share"] == 1.0


def test_village_between_one_and_two_grids_misses_the_bounds_least():
    from gis.partition.regions import choose_k

    assert choose_k(520, 300, 500, 450) == 1  # one grid 20 over beats two grids 80 short
    assert choose_k(580, 300, 500, 450) == 2  # two grids 20 short beat one grid 80 over
    assert choose_k(1200, 300, 500, 450) == 3
