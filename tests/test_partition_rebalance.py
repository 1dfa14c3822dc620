"""rebalance() after a new compound; crosswalk() between grid systems."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from gis.partition import crosswalk, partition, rebalance, validate
from partition_fixtures import assert_seamless, street_town


def _with_compound(buildings, households=400):
    m = buildings.to_crs(4544)
    x0, y0, x1, y1 = m[m["block"] == "3,3"].total_bounds
    site = shapely.box((x0 + x1) / 2 - 10, (y0 + y1) / 2 - 10, (x0 + x1) / 2 + 10,
                       (y0 + y1) / 2 + 10)
    new = gpd.GeoDataFrame({"households": [households], "block": ["3,3"]}, geometry=[site],
                           crs=4544).to_crs(4326)
    return pd.concat([buildings, new], ignore_index=True)


def test_new_compound_changes_few_grids_and_most_households_keep_their_code():
    buildings, roads, parent = street_town(n=8)
    before = partition(buildings, roads=roads, parent=parent).grids
    after = _with_compound(buildings)
    res = rebalance(before, after, roads=roads)
    assert_seamless(res.grids)
    assert res.report["grids_changed"] <= 4
    assert res.report["households_kept_share"] >= 0.95
    assert res.report["within_bounds_share"] == 1.0
    changed = set(res.changes.loc[res.changes["change"] != "kept", "code"])
    untouched = before[~before["code"].isin(changed)].set_index("code")
    now = res.grids.set_index("code").loc[untouched.index]
    # untouched grids keep their outline: a neighbour of a redrawn grid gains at most the
    # vertices its seam needs to stay a valid coverage (无缝覆盖), moving nothing by 1 mm
    moved = gpd.GeoSeries(now.geometry.values, crs=4326).to_crs(4544).hausdorff_distance(
        gpd.GeoSeries(untouched.geometry.values, crs=4326).to_crs(4544))
    assert moved.max() < 1e-3
    assert shapely.coverage_is_valid(res.grids.geometry.values)
    assert validate(res.grids, parent, after).empty


def test_crosswalk_shares_households_and_area():
    buildings, roads, parent = street_town(n=4)
    grids = partition(buildings, roads=roads, parent=parent).grids
    m = parent.to_crs(4544).geometry.iat[0]
    x0, y0, x1, y1 = m.bounds
    halves = gpd.GeoDataFrame({"FXWG": ["west", "east"]}, geometry=[
        shapely.box(x0, y0, (x0 + x1) / 2, y1), shapely.box((x0 + x1) / 2, y0, x1, y1)],
        crs=4544).to_crs(4326)
    cw = crosswalk(halves, grids, buildings, old_code="FXWG")
    assert cw["households"].sum() == buildings["households"].sum()
    assert cw.groupby("old_code")["area_share"].sum().round(6).eq(1.0).all()
    assert set(cw["new_code"]) <= set(grids["code"])


def test_grid_the_counts_cannot_fit_is_left_as_it_is():
    # 520 households: one grid 20 over the maximum is the least miss; no redraw can fit
    buildings, roads, parent = street_town(n=3, per_block=4)
    buildings["households"] = 0
    buildings.loc[buildings.index[:8], "households"] = 65
    before = partition(buildings, roads=roads, parent=parent).grids
    assert sorted(before.loc[before["households"] > 0, "households"]) == [520]
    res = rebalance(before, buildings, roads=roads)
    assert_seamless(res.grids)
    assert res.report["grids_changed"] == 0
    assert shapely.equals(res.grids.set_index("code").loc[before["code"]].geometry.values,
                          before.geometry.values).all()
