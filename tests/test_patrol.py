"""Patrol compliance with hand-built tracks whose answers are known, through the CLI
(``gridgis patrol``) and the library."""

from __future__ import annotations

import json

import geopandas as gpd
from helpers import three_grids_file
import numpy as np
import pandas as pd
import pytest
from pyproj import Geod
from typer.testing import CliRunner

import gis.cli  # noqa: F401  (registers commands)
from gis.cli.app import app
from gis.crs import wgs84_to_gcj02

runner = CliRunner()
DAY = "2026-10-30"
# Three 0.01° squares (about 980 m × 1110 m) side by side near lon 113, lat 28.
GRID_CODES = ["G-A", "G-B", "G-C"]


@pytest.fixture
def grids_file(tmp_path):
    return three_grids_file(tmp_path / "grids.geojson", GRID_CODES)


def walk(worker, times, lon0, lat0, dlon=0.0, dlat=0.0):
    """Fixes at the given local times, moving by (dlon, dlat) per fix."""
    n = len(times)
    return pd.DataFrame({"worker": worker, "time": times,
                         "lon": lon0 + dlon * np.arange(n), "lat": lat0 + dlat * np.arange(n)})


def every(start, stop, seconds):
    return [t.strftime("%Y-%m-%d %H:%M:%S")
            for t in pd.date_range(f"{DAY} {start}", f"{DAY} {stop}", freq=f"{seconds}s")]


def run(tmp_path, tracks: pd.DataFrame, grids_file, *args, name="tracks.csv"):
    tracks_path = tmp_path / name
    tracks.to_csv(tracks_path, index=False)
    out = tmp_path / "out.csv"
    res = runner.invoke(app, ["patrol", "--tracks", str(tracks_path), "--grids", str(grids_file),
                              "--grid-key", "code", "--out", str(out), "--json", *args])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    return pd.read_csv(out), summary


def cell(table, grid, window_start):
    row = table[(table["grid"] == grid) & (table["window_start"] == window_start)]
    assert len(row) == 1
    return row.iloc[0]


@pytest.mark.parametrize("min_minutes, expected", [(1.0, True), (0.5, True), (1.5, False)])
def test_grid_entered_for_one_minute(tmp_path, grids_file, min_minutes, expected):
    tracks = walk("w1", every("10:00:00", "10:01:00", 30), 113.015, 28.005, dlon=0.0001)
    table, _ = run(tmp_path, tracks, grids_file, "--min-minutes", str(min_minutes))
    b = cell(table, "G-B", f"{DAY}T00:00:00+08:00")
    assert b["minutes"] == pytest.approx(1.0)
    assert bool(b["patrolled"]) is expected
    assert not cell(table, "G-A", f"{DAY}T00:00:00+08:00")["patrolled"]


def test_track_across_window_boundary_splits_ten_minutes_each(tmp_path, grids_file):
    times = [f"{DAY} {t}" for t in ("11:50:00", "11:53:20", "11:56:40", "11:59:50",
                                    "12:00:50", "12:05:00", "12:10:00")]
    tracks = walk("w1", times, 113.002, 28.005, dlon=0.0002)
    table, summary = run(tmp_path, tracks, grids_file, "--min-minutes", "10")
    am, pm = cell(table, "G-A", f"{DAY}T00:00:00+08:00"), cell(table, "G-A", f"{DAY}T12:00:00+08:00")
    assert am["minutes"] == pytest.approx(10.0) and pm["minutes"] == pytest.approx(10.0)
    assert am["patrolled"] and pm["patrolled"]
    # distance splits with time: the walk is uniform between fixes
    geod = Geod(ellps="WGS84")
    total = geod.line_length(tracks["lon"], tracks["lat"])
    assert am["metres"] + pm["metres"] == pytest.approx(total, rel=2e-3)
    assert summary["windows"] == 2 and summary["grids"] == 3


def test_gcj02_track_lands_in_the_right_grid(tmp_path, grids_file):
    true = walk("w1", every("09:00:00", "09:10:00", 30), 113.006, 28.005, dlon=0.00015)
    assert true["lon"].max() < 113.01  # the real walk stays inside grid A
    glon, glat = wgs84_to_gcj02(true["lon"].to_numpy(), true["lat"].to_numpy())
    phone = true.assign(lon=glon, lat=glat)  # what the phone's map SDK records
    table, _ = run(tmp_path, phone, grids_file, "--crs", "gcj02")
    window = f"{DAY}T00:00:00+08:00"
    assert cell(table, "G-A", window)["minutes"] == pytest.approx(10.0)
    assert cell(table, "G-B", window)["minutes"] == 0
    # read as WGS 84 the same file wrongly puts the walk in grid B
    wrong, _ = run(tmp_path, phone, grids_file)
    assert cell(wrong, "G-A", window)["minutes"] == 0
    assert cell(wrong, "G-B", window)["minutes"] > 9


def test_teleporting_fix_is_dropped_and_its_distance_not_counted(tmp_path, grids_file):
    tracks = walk("w1", every("10:00:00", "10:10:00", 30), 113.002, 28.005, dlon=0.00003)
    i = 10  # 10:05:00 jumps 2 km east into grid C and back
    tracks.loc[i, ["lon", "lat"]] = [113.025, 28.005]
    table, summary = run(tmp_path, tracks, grids_file, "--min-minutes", "1")
    assert summary["fixes_dropped"]["too_fast"] == 1
    assert summary["fixes_read"] == len(tracks) and summary["fixes_kept"] == len(tracks) - 1
    window = f"{DAY}T00:00:00+08:00"
    c = cell(table, "G-C", window)
    assert c["minutes"] == 0 and c["metres"] == 0 and not c["patrolled"]
    a = cell(table, "G-A", window)
    kept = tracks.drop(index=i)
    assert a["metres"] == pytest.approx(Geod(ellps="WGS84").line_length(kept["lon"], kept["lat"]),
                                        rel=2e-3)
    assert a["minutes"] == pytest.approx(10.0)


def test_duplicates_dropped_and_late_rows_placed_by_time(tmp_path, grids_file):
    tracks = walk("w1", every("10:00:00", "10:04:00", 60), 113.005, 28.005, dlon=0.0001)
    dup = tracks.iloc[[2]]
    late = pd.DataFrame({"worker": ["w1"], "time": [f"{DAY} 10:02:30"],
                         "lon": [113.015], "lat": [28.005]})  # a bad fix uploaded late, grid B
    table, summary = run(tmp_path, pd.concat([tracks, dup, late]), grids_file)
    assert summary["fixes_dropped"]["duplicate"] == 1
    # a row arriving late is not "out of order": placed by its time, it is a 1 km jump
    assert summary["fixes_dropped"]["out_of_order"] == 0
    assert summary["fixes_dropped"]["too_fast"] == 1
    window = f"{DAY}T00:00:00+08:00"
    assert cell(table, "G-A", window)["minutes"] == pytest.approx(4.0)
    assert cell(table, "G-B", window)["minutes"] == 0


def test_every_grid_and_window_listed_with_offset(tmp_path, grids_file):
    a = walk("w1", every("08:00:00", "08:20:00", 60), 113.005, 28.005, dlat=0.0001)
    b = walk("w2", [f"2026-10-31 {t}" for t in ("15:00:00", "15:03:00")], 113.015, 28.002)
    table, summary = run(tmp_path, pd.concat([a, b]), grids_file)
    windows = [f"{DAY}T00:00:00+08:00", f"{DAY}T12:00:00+08:00",
               "2026-10-31T00:00:00+08:00", "2026-10-31T12:00:00+08:00"]
    assert summary["windows"] == 4 and len(table) == 3 * 4
    assert sorted(table["window_start"].unique()) == windows
    assert set(table["grid"]) == set(GRID_CODES)
    c = table[table["grid"] == "G-C"]
    assert (c["minutes"] == 0).all() and not c["patrolled"].any()
    assert cell(table, "G-A", windows[0])["patrolled"]
    assert not cell(table, "G-B", windows[3])["patrolled"]  # 3 minutes < 5
    assert summary["patrolled_share"] == pytest.approx(1 / 12)


def test_from_to_snap_to_windows_and_min_metres(tmp_path, grids_file):
    tracks = walk("w1", every("08:00:00", "08:02:00", 30), 113.005, 28.005, dlat=0.0002)
    table, summary = run(tmp_path, tracks, grids_file, "--from", f"{DAY}T07:00", "--to",
                         "2026-10-31T13:00+08:00", "--min-minutes", "30", "--min-metres", "50")
    assert summary["windows"] == 4  # 30 Oct am, pm, 31 Oct am, pm
    a = cell(table, "G-A", f"{DAY}T00:00:00+08:00")
    assert a["metres"] > 50 and a["minutes"] == pytest.approx(2.0) and a["patrolled"]


def test_custom_columns_window_and_gpkg_output(tmp_path, grids_file):
    tracks = walk("w1", every("10:00:00", "10:20:00", 60), 113.005, 28.005, dlon=0.0001)
    tracks = tracks.rename(columns={"worker": "staff", "time": "ts", "lon": "X", "lat": "Y"})
    src = tmp_path / "odd.csv"
    tracks.to_csv(src, index=False)
    out = tmp_path / "compliance.gpkg"
    res = runner.invoke(app, ["patrol", "--tracks", str(src), "--grids", str(grids_file),
                              "--grid-key", "code", "--window", "6h", "--worker-col", "staff",
                              "--time-col", "ts", "--lon-col", "X", "--lat-col", "Y",
                              "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    layer = gpd.read_file(out)
    assert len(layer) == 3 and layer.crs.to_epsg() == 4326
    assert set(layer["window_start"]) == {f"{DAY}T06:00:00+08:00"}
    assert layer.set_index("grid").loc["G-A", "minutes"] == pytest.approx(20.0)
    assert layer.geometry.geom_type.eq("Polygon").all()


def test_missing_column_is_a_clear_error(tmp_path, grids_file):
    src = tmp_path / "t.csv"
    pd.DataFrame({"who": ["w"], "time": [f"{DAY} 10:00"], "lon": [113.0], "lat": [28.0]}).to_csv(
        src, index=False)
    res = runner.invoke(app, ["patrol", "--tracks", str(src), "--grids", str(grids_file),
                              "--out", str(tmp_path / "o.csv")])
    assert res.exit_code != 0
    assert "worker" in str(res.exception) and "t.csv" in str(res.exception)
    assert not (tmp_path / "o.csv").exists()
