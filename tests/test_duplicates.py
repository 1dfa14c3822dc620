"""Duplicates: same category, within the distance (metres in a metric CRS), reported within
the hours, open and not merged; closed ones within the reopen window (重办); the merge rule;
counting a merged pair once."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from pyproj import Geod
from shapely.geometry import Point

from gis.duplicates import closed_duplicates, count_once, likely_duplicates, plan_merge
from gis.errors import Conflict, InputError

T0 = pd.Timestamp("2026-09-01 08:00", tz="Asia/Shanghai")
ORIGIN = (113.0800, 28.2500)
GEOD = Geod(ellps="WGS84")


def east(metres: float, north: float = 0.0) -> Point:
    lon, lat, _ = GEOD.fwd(*ORIGIN, 90.0, metres)
    lon, lat, _ = GEOD.fwd(lon, lat, 0.0, north)
    return Point(lon, lat)


def frame(rows: list[dict], crs=4326) -> gpd.GeoDataFrame:
    base = {"category": "environment", "status": "reported", "merged_into": None,
            "reported_at": T0}
    rows = [{**base, **r} for r in rows]
    return gpd.GeoDataFrame(rows, geometry=[r.pop("geometry") for r in rows], crs=crs)


@pytest.fixture
def nearby() -> gpd.GeoDataFrame:
    return frame([
        {"id": 1, "geometry": east(0)},
        {"id": 2, "geometry": east(30)},                                   # near
        {"id": 3, "geometry": east(49, 0)},                                # near, further
        {"id": 4, "geometry": east(60)},                                   # too far
        {"id": 5, "geometry": east(10), "category": "dispute"},            # other category
        {"id": 6, "geometry": east(10), "reported_at": T0 - pd.Timedelta(hours=73)},  # old
        {"id": 7, "geometry": east(10), "reported_at": T0 - pd.Timedelta(hours=71)},  # recent
        {"id": 8, "geometry": east(5), "status": "closed"},                # closed
        {"id": 9, "geometry": east(5), "merged_into": 2},                  # already merged
        {"id": 10, "geometry": east(20), "status": "handling"},            # open, later step
    ])


def test_same_category_near_and_recent_open_ones_nearest_first(nearby):
    found = likely_duplicates(nearby[nearby["id"] == 1], nearby)
    assert found["duplicate_id"].tolist() == [7, 10, 2, 3]
    assert found["distance_m"].tolist() == pytest.approx([10, 20, 30, 49], abs=0.2)
    assert found.loc[found["duplicate_id"] == 7, "hours_apart"].item() == pytest.approx(71)
    assert set(found["id"]) == {1}


def test_distance_and_hours_are_parameters(nearby):
    one = nearby[nearby["id"] == 1]
    wider = likely_duplicates(one, nearby, distance_m=65, within_hours=74)
    assert wider["duplicate_id"].tolist() == [6, 7, 10, 2, 3, 4]
    assert likely_duplicates(one, nearby, distance_m=15)["duplicate_id"].tolist() == [7]


def test_the_same_in_another_crs_metres_not_degrees(nearby):
    # 50 m is the radius wherever the data is projected; degrees would give ~5 km
    projected = nearby.to_crs(3857)
    found = likely_duplicates(projected[projected["id"] == 1], projected)
    assert found["duplicate_id"].tolist() == [7, 10, 2, 3]


def test_a_later_report_finds_the_earlier_and_pairs_run_both_ways(nearby):
    found = likely_duplicates(nearby[nearby["id"].isin([1, 2])], nearby)
    assert (2, 1) in set(zip(found["id"], found["duplicate_id"]))
    assert (1, 2) in set(zip(found["id"], found["duplicate_id"]))


def test_nothing_to_compare_gives_an_empty_table(nearby):
    empty = likely_duplicates(nearby[nearby["id"] == 4], nearby[nearby["id"].isin([4, 8])])
    assert empty.empty and list(empty.columns) == ["id", "duplicate_id", "distance_m",
                                                   "hours_apart"]


def test_missing_columns_or_crs_are_named(nearby):
    with pytest.raises(InputError) as err:
        likely_duplicates(nearby.drop(columns="category"), nearby)
    assert err.value.field == "category"
    with pytest.raises(InputError):
        likely_duplicates(nearby.set_crs(None, allow_override=True), nearby)
    with pytest.raises(InputError) as err:
        likely_duplicates(nearby, nearby, distance_m=0)
    assert err.value.field == "distance_m"


def test_merge_moves_reporters_and_attachments_to_the_survivor():
    plan = plan_merge({"id": 7, "status": "reported", "reporters": ["resident:138", "w-12"],
                       "attachment_ids": [31, 32]},
                      {"id": 2, "status": "handling", "reporters": ["w-12"],
                       "attachment_ids": [30]})
    assert (plan.merged_id, plan.survivor_id, plan.resolution) == (7, 2, "merged")
    assert plan.reporters == ("w-12", "resident:138")
    assert plan.attachment_ids == (31, 32)


@pytest.mark.parametrize("merged, survivor, error", [
    ({"id": 1, "status": "reported"}, {"id": 1, "status": "reported"}, InputError),
    ({"id": 1, "status": "closed"}, {"id": 2, "status": "reported"}, Conflict),
    ({"id": 1, "status": "reported"}, {"id": 2, "status": "closed"}, Conflict),
    ({"id": 1, "status": "reported", "merged_into": 5}, {"id": 2, "status": "reported"}, Conflict),
    ({"id": 1, "status": "reported"}, {"id": 2, "status": "reported", "merged_into": 5}, Conflict),
])
def test_merge_refuses_self_closed_and_already_merged(merged, survivor, error):
    with pytest.raises(error):
        plan_merge(merged, survivor)


def test_a_merged_incident_counts_once(nearby):
    counted = count_once(nearby)
    assert 9 not in set(counted["id"]) and len(counted) == len(nearby) - 1
    assert count_once(nearby.drop(columns="merged_into")).shape == nearby.drop(
        columns="merged_into").shape


def test_closed_within_the_reopen_window_whenever_reported():
    day = pd.Timedelta(days=1)
    candidates = frame([
        {"id": 1, "geometry": east(0)},
        {"id": 2, "geometry": east(20), "status": "closed", "closed_at": T0 - 29 * day,
         "reported_at": T0 - 40 * day},                                    # in the window
        {"id": 3, "geometry": east(10), "status": "closed", "closed_at": T0 - 31 * day},
        {"id": 4, "geometry": east(5), "status": "closed", "closed_at": T0 - day,
         "merged_into": 2},                                                # merged: never
        {"id": 5, "geometry": east(60), "status": "closed", "closed_at": T0},  # too far
        {"id": 6, "geometry": east(5), "status": "closed", "closed_at": T0,
         "category": "dispute"},
        {"id": 7, "geometry": east(40), "status": "handling", "closed_at": None},  # open
    ]).astype({"closed_at": "datetime64[ns, Asia/Shanghai]"})
    found = closed_duplicates(candidates[candidates["id"] == 1], candidates,
                              closed_since=T0 - 30 * day)
    assert found["duplicate_id"].tolist() == [2]
    assert found["distance_m"].iloc[0] == pytest.approx(20, abs=0.1)
    assert found["hours_apart"].iloc[0] == pytest.approx(40 * 24)
    assert likely_duplicates(candidates[candidates["id"] == 1], candidates)[
        "duplicate_id"].tolist() == [7]
    with pytest.raises(InputError) as err:
        closed_duplicates(candidates, candidates.drop(columns="closed_at"), closed_since=T0)
    assert err.value.field == "closed_at"


def test_a_closed_survivor_reopens_only_within_the_window():
    window, now = pd.Timedelta(days=30).to_pytimedelta(), T0.to_pydatetime()
    new = {"id": 9, "status": "reported", "reporters": ["w-12"]}
    recent = {"id": 2, "status": "closed", "closed_at": now - window / 2, "reporters": ["r"]}
    plan = plan_merge(new, recent, reopen_window=window, now=now)
    assert (plan.survivor_id, plan.reopen, plan.reporters) == (2, True, ("r", "w-12"))
    assert not plan_merge(new, {"id": 3, "status": "handling"}, reopen_window=window,
                          now=now).reopen
    old = {**recent, "closed_at": now - window * 1.1}
    with pytest.raises(Conflict, match="more than 30 days ago"):
        plan_merge(new, old, reopen_window=window, now=now)
    with pytest.raises(Conflict, match="already merged"):
        plan_merge(new, {**recent, "merged_into": 5}, reopen_window=window, now=now)
    with pytest.raises(Conflict):                     # closed and no window given
        plan_merge(new, recent)
