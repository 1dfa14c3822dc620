"""Planner edits on a 2×2 set of grids (each 0.01° square, ~1 km)."""

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import LineString, Point, box

from gis.errors import InputError
from gis.plan_edits import merge, move_area, recount, redraw, split


@pytest.fixture
def grids():
    cells = [box(113 + dx, 28 + dy, 113.01 + dx, 28.01 + dy)
             for dy in (0.01, 0) for dx in (0, 0.01)]
    return gpd.GeoDataFrame({"code": ["A", "B", "C", "D"]}, geometry=cells, crs=4326)


def _covers_same(a, b):
    return shapely.equals_exact(shapely.normalize(a.union_all()), shapely.normalize(b.union_all()),
                                tolerance=1e-9) or abs(a.union_all().symmetric_difference(b.union_all()).area) < 1e-12


def test_merge_neighbours_keeps_first_code_and_the_cover(grids):
    out = merge(grids, "A", "B")
    assert sorted(out["code"]) == ["A", "C", "D"]
    assert _covers_same(out, grids)
    assert out.loc[out["code"] == "A"].geometry.iloc[0].area == pytest.approx(2e-4)


def test_merge_of_diagonal_grids_is_refused(grids):
    with pytest.raises(InputError, match="not neighbours"):
        merge(grids, "A", "D")   # they share one corner only


def test_split_by_a_line_across_gives_two_grids(grids):
    line = LineString([(113.005, 28.0), (113.005, 28.03)])
    out = split(grids, "C", line)
    assert len(out) == 5 and out["code"].isna().sum() == 1
    assert _covers_same(out, grids)


def test_split_by_a_line_that_does_not_cross_is_refused(grids):
    with pytest.raises(InputError, match="exactly two parts"):
        split(grids, "C", LineString([(113.002, 28.002), (113.004, 28.004)]))


def test_redraw_takes_area_from_neighbours(grids):
    bigger = box(113, 28.01, 113.015, 28.02)   # A grows half into B
    out = redraw(grids, "A", bigger)
    a = out.loc[out["code"] == "A"].geometry.iloc[0]
    b = out.loc[out["code"] == "B"].geometry.iloc[0]
    assert a.area == pytest.approx(1.5e-4) and b.area == pytest.approx(0.5e-4)
    assert not a.overlaps(b)


def test_move_a_block_to_a_neighbour_and_recount(grids):
    block = box(113.008, 28.012, 113.01, 28.014)          # inside A, on A's border with B
    units = gpd.GeoDataFrame({"households": [120, 40]},
                             geometry=[box(113.0085, 28.0125, 113.0095, 28.0135),
                                       Point(113.002, 28.002).buffer(1e-4)], crs=4326)
    out = recount(move_area(grids, block, "B"), units)
    hh = dict(zip(out["code"], out["households"]))
    assert hh == {"A": 0, "B": 120, "C": 40, "D": 0}
    with pytest.raises(InputError, match="does not border"):
        move_area(grids, box(113.001, 28.011, 113.002, 28.012), "D")
