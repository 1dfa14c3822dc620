"""Grid codes: reading order, exclusive serials, stable codes, retired codes never reused."""

from __future__ import annotations

import numpy as np
import shapely

from gis.partition import partition
from gis.partition.codes import assign_codes, reading_order
from partition_fixtures import lattice_blocks

SQUARES = np.array([shapely.box(0, 100, 100, 200), shapely.box(100, 100, 200, 200),   # NW NE
                    shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100)], dtype=object)


def test_codes_run_west_to_east_then_north_to_south():
    shuffled = SQUARES[[3, 1, 2, 0]]  # SE, NE, SW, NW
    codes = assign_codes(shuffled, ["basic"] * 4, "510104001001", 4)
    assert list(codes) == ["5101040010010004", "5101040010010002",
                           "5101040010010003", "5101040010010001"]
    assert list(reading_order(SQUARES)) == [0, 1, 2, 3]


def test_exclusive_grids_take_the_top_serials_and_width_is_configurable():
    codes = assign_codes(SQUARES, ["basic", "exclusive", "basic", "basic"], "110101001001", 3)
    assert list(codes) == ["110101001001001", "110101001001901",
                           "110101001001002", "110101001001003"]


def test_retired_codes_are_never_reused():
    codes = assign_codes(SQUARES, ["basic"] * 4, "510104001001", 4,
                         used=["5101040010010001", "5101040010010007"])
    assert "5101040010010001" not in codes and "5101040010010007" not in codes
    assert sorted(codes)[0] == "5101040010010008"


def test_unchanged_grids_keep_their_codes_across_runs():
    blocks = lattice_blocks(8, 8, total=8_000)
    first = partition(blocks, community_code="510104001001")
    old = first.grids.copy()
    old["code"] = [f"510104001001{5000 + i:04d}" for i in range(len(old))]  # as published
    again = partition(blocks, community_code="510104001001", previous=old,
                      retired_codes=["5101040010018000"])
    kept = set(again.grids["code"]) & set(old["code"])
    assert len(kept) == len(old)  # same units, same grids: every code kept
