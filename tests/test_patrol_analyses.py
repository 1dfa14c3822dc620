"""Tracks readers, cleaning rules, compliance rates, street coverage and stops, each
against answers worked out by hand."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod

from gis.crs import metric_crs, wgs84_to_bd09
from gis.errors import InputError
from gis.patrol import (Columns, GridIndex, PatrolParams, clean_fixes, compliance_table,
                        missed_grids, patrol_presence, rates, read_tracks, track_lines,
                        window_starts, worker_rates)
from gis.patrol.stops import detect_stops, household_visits
from gis.patrol.streets import street_coverage

CRS = metric_crs((113.0, 28.0, 113.03, 28.01))
GEOD = Geod(ellps="WGS84")
GPX = """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">
 <trk><name>李四</name><trkseg>
  <trkpt lat="28.005" lon="113.005"><time>2026-10-30T02:00:00Z</time></trkpt>
  <trkpt lat="28.0051" lon="113.005"><time>2026-10-30T02:00:30Z</time></trkpt>
  <trkpt lat="28.0052" lon="113.005"><time>2026-10-30T02:01:00Z</time></trkpt>
 </trkseg></trk>
</gpx>"""


@pytest.fixture
def grids():
    boxes = [shapely.box(113.0 + 0.01 * i, 28.0, 113.01 + 0.01 * i, 28.01) for i in range(3)]
    return gpd.GeoDataFrame({"code": ["A", "B", "C"], "community": ["c1", "c1", "c2"]},
                            geometry=boxes, crs=4326)


def fixes(rows):
    df = pd.DataFrame(rows, columns=["worker", "time", "lon", "lat"])
    from gis.patrol import fixes_from_frame

    return fixes_from_frame(df)


def test_gpx_track_named_worker_and_utc_times(tmp_path):
    path = tmp_path / "walk.gpx"
    path.write_text(GPX, encoding="utf-8")
    f = read_tracks(path)
    assert list(f["worker"].unique()) == ["李四"] and len(f) == 3
    assert f["time"].iloc[0] == pd.Timestamp("2026-10-30T10:00:00+08:00")
    line = track_lines(f)
    assert len(line) == 1 and line["fixes"].iloc[0] == 3 and line["day"].iloc[0] == "2026-10-30"


def test_geojson_and_bd09_csv_agree(tmp_path):
    lon, lat = np.array([113.004, 113.005]), np.array([28.004, 28.004])
    pts = gpd.GeoDataFrame({"worker": ["w", "w"], "time": ["2026-10-30 08:00", "2026-10-30 08:01"]},
                           geometry=gpd.points_from_xy(lon, lat), crs=4326)
    pts.to_file(tmp_path / "t.geojson")
    blon, blat = wgs84_to_bd09(lon, lat)
    pd.DataFrame({"who": ["w", "w"], "t": ["2026-10-30T08:00+08:00", "2026-10-30T00:01Z"],
                  "x": blon, "y": blat}).to_csv(tmp_path / "t.csv", index=False)
    a = read_tracks(tmp_path / "t.geojson")
    b = read_tracks(tmp_path / "t.csv", Columns("who", "t", "x", "y"), crs="bd09")
    assert (a["time"].to_numpy() == b["time"].to_numpy()).all()
    assert np.allclose(a["lon"], b["lon"], atol=1e-8) and np.allclose(a["lat"], b["lat"], atol=1e-8)


def test_unreadable_time_names_file_row_and_field(tmp_path):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"worker": ["w", "w"], "time": ["2026-10-30 08:00", "yesterday"],
                  "lon": [113.0, 113.0], "lat": [28.0, 28.0]}).to_csv(path, index=False)
    # cleaning keeps the row flagged, to be counted as unreadable...
    assert list(read_tracks(path)["flag"]) == [0, 2]
    # ...and strict reading refuses the file, naming the row and field
    with pytest.raises(InputError) as err:
        read_tracks(path, strict=True)
    assert err.value.problem.row == 2 and err.value.field == "time"
    assert "bad.csv" in str(err.value)


def test_cleaning_reasons_and_order():
    f = fixes([("w", "2026-10-30 08:00:00", 113.001, 28.001),
               ("w", "2026-10-30 08:00:30", 113.0011, 28.001),
               ("w", "2026-10-30 08:00:30", 113.0011, 28.001),   # duplicate
               ("w", "2026-10-30 08:00:10", 113.0011, 28.001),   # late row: kept, by time
               ("w", None, 113.0011, 28.001),                     # missing time
               ("w", "2026-10-30 08:01:00", 113.101, 28.001),    # teleport, 10 km
               ("w", "2026-10-30 08:01:30", 113.0012, 28.001),
               ("v", "2026-10-30 07:00:00", 113.002, 28.002)])
    f["accuracy"] = [5, 5, 5, 5, 5, 5, 5, 150.0]
    clean, dropped = clean_fixes(f, CRS, speed_max=2.0, accuracy_max=50)
    assert dropped == {"unreadable": 0, "out_of_range": 0, "missing": 1, "poor_accuracy": 1,
                       "duplicate": 1, "out_of_order": 0, "too_fast": 1}
    assert list(clean["worker"]) == ["w"] * 4
    assert clean["time"].is_monotonic_increasing and {"x", "y"} <= set(clean.columns)


def test_rates_missed_and_worker_rates(grids):
    f = fixes([("w1", "2026-10-30 08:00", 113.005, 28.005), ("w1", "2026-10-30 08:10", 113.0051, 28.005),
               ("w1", "2026-10-30 14:00", 113.005, 28.005), ("w1", "2026-10-30 14:10", 113.0051, 28.005),
               ("w2", "2026-10-30 09:00", 113.015, 28.005), ("w2", "2026-10-30 09:06", 113.0151, 28.005)])
    index = GridIndex(grids, "code")
    params = PatrolParams()
    res = patrol_presence(f, index, params)
    starts = window_starts(params.windows, res.first_ns, res.last_ns)
    table = compliance_table(res.presence, index.keys, params.windows, starts)
    per_grid = rates(table).set_index("grid")
    assert per_grid.loc["A", "rate"] == 1.0 and per_grid.loc["B", "rate"] == 0.5
    assert per_grid.loc["C", "rate"] == 0.0
    per_unit = rates(table, grids, by="community", key="code").set_index("community")
    assert per_unit.loc["c1", "rate"] == pytest.approx(3 / 4) and per_unit.loc["c2", "rate"] == 0
    missed = missed_grids(table, last_n=1).set_index("grid")
    assert set(missed.index) == {"B", "C"}
    assert missed.loc["B", "last_patrolled"] == "2026-10-30T00:00:00+08:00"
    assert missed.loc["C", "last_patrolled"] is None and missed.loc["C", "missed_all"]
    workers = worker_rates(res.presence, starts).set_index("worker")
    assert workers.loc["w1", "windows"] == 2 and workers.loc["w2", "rate"] == 0.5
    assert workers.loc["w1", "minutes"] == pytest.approx(20.0)


def test_street_coverage_half_a_street(grids):
    streets = gpd.GeoDataFrame(geometry=[shapely.LineString([(113.0, 28.005), (113.01, 28.005)]),
                                         shapely.LineString([(113.005, 28.0), (113.005, 28.01)])],
                               crs=4326)
    times = pd.date_range("2026-10-30 08:00", periods=11, freq="50s").strftime("%Y-%m-%d %H:%M:%S")
    walk = fixes([("w", t, 113.0 + 0.0005 * i, 28.00505) for i, t in enumerate(times)])
    cov = street_coverage(walk, streets, grids, key="code", distance=20, step=2).set_index("grid")
    horizontal = GEOD.line_length([113.0, 113.01], [28.005, 28.005])
    vertical = GEOD.line_length([113.005, 113.005], [28.0, 28.01])
    assert cov.loc["A", "street_m"] == pytest.approx(horizontal + vertical, rel=2e-3)
    # half the horizontal street, ~20 m past the track's end, ~±20 m of the cross street
    expected = horizontal / 2 + 20 + 2 * np.sqrt(20**2 - 5.5**2)
    assert cov.loc["A", "covered_m"] == pytest.approx(expected, abs=8)
    assert np.isnan(cov.loc["B", "share"]) and len(cov) == 3


def test_stops_near_buildings_count_as_visits():
    rows, t = [], pd.Timestamp("2026-10-30 09:00")

    def stay(worker, lon, lat, minutes):
        nonlocal t
        for k in range(int(minutes * 2) + 1):
            rows.append((worker, (t + pd.Timedelta(seconds=30 * k)).isoformat(), lon + 1e-5 * (k % 2), lat))
        t += pd.Timedelta(minutes=minutes, seconds=60)

    stay("w", 113.001, 28.001, 6)    # at building 0: a visit
    stay("w", 113.004, 28.001, 2)    # too short
    stay("w", 113.008, 28.008, 4)    # a stop, but no building near
    for i in range(5):                # v visits five buildings
        stay("v", 113.001 + 0.002 * i, 28.001, 3.5)
    feet = gpd.GeoDataFrame({"id": [f"b{i}" for i in range(5)]},
                            geometry=[shapely.Point(113.001 + 0.002 * i, 28.0011).buffer(0.0001)
                                      for i in range(5)], crs=4326)
    stops = detect_stops(fixes(rows), CRS, radius=30, min_minutes=3)
    assert list(stops.groupby("worker").size().sort_index()) == [5, 2]
    assert stops[stops["worker"] == "w"]["minutes"].round(1).tolist() == [6.0, 4.0]
    visits = household_visits(stops, feet, CRS, distance=30, key="id").set_index("worker")
    assert visits.loc["w", "visits"] == 1 and not visits.loc["w", "meets_norm"]
    assert visits.loc["v", "visits"] == 5 and visits.loc["v", "meets_norm"]
