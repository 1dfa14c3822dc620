"""Grids made of whole street blocks, and over-full blocks cut along straight gaps."""

import geopandas as gpd
import numpy as np
import shapely

from gis.partition import partition, validate
from gis.partition.graph import shared_edges
from tests.partition_fixtures import METRIC, _out, assert_seamless


def _row_block(rows=4, per_row=10, hh=20, gap=12.0, origin=(0.0, 0.0)):
    """Buildings of one block in ``rows`` rows with ``gap`` metres between rows."""
    x0, y0 = origin
    return [shapely.box(x0 + 10 + c * 18, y0 + 10 + r * (14 + gap),
                        x0 + 10 + c * 18 + 12, y0 + 10 + r * (14 + gap) + 14)
            for r in range(rows) for c in range(per_row)], hh


def _town(blocks_hh, width=200.0, height=120.0):
    """Blocks in one row along a street, each ``width`` × ``height``; households given
    per block, shared evenly between 40 buildings in 4 rows."""
    geoms, hh, lines = [], [], []
    for b, total in enumerate(blocks_hh):
        bs, _ = _row_block(origin=(b * width, 0.0))
        geoms += bs
        hh += [total / len(bs)] * len(bs)
    n = len(blocks_hh)
    lines += [shapely.LineString([(x, -30), (x, height + 30)]) for x in np.arange(n + 1) * width]
    lines += [shapely.LineString([(-30, y), (n * width + 30, y)]) for y in (0.0, height)]
    units = _out(gpd.GeoDataFrame({"households": hh}, geometry=geoms))
    roads = _out(gpd.GeoDataFrame(geometry=lines))
    parent = _out(gpd.GeoDataFrame({"community_code": ["510104001001"]},
                                   geometry=[shapely.box(0, 0, n * width, height)]))
    return units, roads, parent


def test_whole_blocks_are_kept_when_they_can_meet_the_bounds():
    # 250+250 | 200+200 | 350: bisection by area would cut blocks; whole blocks fit
    units, roads, parent = _town([250, 250, 200, 200, 350])
    res = partition(units, roads=roads, parent=parent)
    assert_seamless(res.grids)
    rep = res.report
    assert rep["within_bounds_share"] == 1.0
    assert rep["street_boundary_share"] > 0.999
    assert validate(res.grids, parent, units=units).empty


def test_over_full_block_is_cut_by_one_straight_line_between_rows():
    units, roads, parent = _town([800])
    res = partition(units, roads=roads, parent=parent)
    assert_seamless(res.grids)
    assert sorted(res.grids["households"].round()) == [400, 400]
    grids = res.grids.to_crs(METRIC)
    _i, _j, lines = shared_edges(np.asarray(grids.geometry.values))
    line = shapely.line_merge(shapely.union_all(lines))
    # one straight cut: its length equals the distance between its ends
    ends = shapely.get_coordinates(line)
    straight = np.hypot(*(ends[-1] - ends[0]))
    assert line.geom_type == "LineString" and abs(line.length - straight) < 0.5
    assert validate(res.grids, parent, units=units).empty  # no building cut, exact cover


def test_cut_follows_an_internal_lane_when_one_runs_between_the_rows():
    units, roads, parent = _town([800])
    # a dead-end lane into the block between the second and third rows of buildings
    lane_y = 10 + 2 * 26 - 6.0
    lane = _out(gpd.GeoDataFrame(geometry=[shapely.LineString([(0, lane_y), (150, lane_y)])]))
    roads = gpd.GeoDataFrame(geometry=list(roads.geometry) + list(lane.geometry), crs=4326)
    res = partition(units, roads=roads, parent=parent)
    assert_seamless(res.grids)
    assert res.report["within_bounds_share"] == 1.0
    # the lane carries 150 of the 200 metres of the cut
    assert res.report["street_boundary_share"] > 0.7
