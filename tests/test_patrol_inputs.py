"""``gridgis patrol`` on tracks as they come (issue 15): shuffled batch uploads, device
sequence numbers, impossible coordinates, bus rides, and long periods over many grids."""

from __future__ import annotations

import gzip
import json

import geopandas as gpd
from helpers import three_grids_file
import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

import gis.cli  # noqa: F401  (registers commands)
from gis.cli.app import app
from gis.patrol.compliance import compliance_chunks, compliance_table
from gis.patrol.windows import Windows

runner = CliRunner()
DAY = "2026-10-30"
AM = f"{DAY}T00:00:00+08:00"
CODES = ["G-A", "G-B", "G-C"]
M_PER_DEG_LON = 98_300.0  # at lat 28


@pytest.fixture
def grids_file(tmp_path):
    return three_grids_file(tmp_path / "grids.geojson", CODES)


def walk(worker, start, minutes, step_s, lon0, lat0, speed_ms=1.2, north=False):
    """Fixes every ``step_s`` seconds moving east (or north) at ``speed_ms``."""
    times = pd.date_range(f"{DAY} {start}", periods=int(minutes * 60 / step_s) + 1,
                          freq=f"{step_s}s")
    t = np.arange(len(times)) * step_s
    moved = speed_ms * t
    return pd.DataFrame({"worker": worker, "time": times.strftime("%Y-%m-%d %H:%M:%S"),
                         "lon": lon0 + (0 if north else moved / M_PER_DEG_LON),
                         "lat": lat0 + (moved / 111_000.0 if north else 0)})


def invoke(tmp_path, tracks: pd.DataFrame | None, grids_file, *args, name="tracks.csv",
           out_name="out.csv"):
    path = tmp_path / name
    if tracks is not None:
        if name.endswith(".gz"):
            with gzip.open(path, "wt") as fh:
                tracks.to_csv(fh, index=False)
        else:
            tracks.to_csv(path, index=False)
    out = tmp_path / out_name
    return runner.invoke(app, ["patrol", "--tracks", str(path), "--grids", str(grids_file),
                               "--grid-key", "code", "--out", str(out), "--json", *args]), out


def run(tmp_path, tracks, grids_file, *args, **kw):
    res, out = invoke(tmp_path, tracks, grids_file, *args, **kw)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    return (pd.read_csv(out) if out.suffix == ".csv" else out), summary, res


def cell(table, grid, window=AM):
    row = table[(table["grid"] == grid) & (table["window_start"] == window)]
    assert len(row) == 1
    return row.iloc[0]


def two_workers():
    a = walk("w1", "08:00:00", 20, 10, 113.001, 28.003)  # 20 min east through A into B
    b = walk("w2", "09:00:00", 60, 5, 113.021, 28.006, speed_ms=0.2)   # an hour in C
    return pd.concat([a, b], ignore_index=True)


# --- defect 2: shuffled batch uploads -------------------------------------------------

def test_shuffled_fixes_give_the_same_result_as_sorted(tmp_path, grids_file):
    tracks = two_workers()
    sorted_table, sorted_summary, _ = run(tmp_path, tracks, grids_file, name="sorted.csv")
    shuffled = tracks.sample(frac=1.0, random_state=7)
    assert not shuffled["time"].is_monotonic_increasing
    table, summary, _ = run(tmp_path, shuffled, grids_file, name="shuffled.csv")
    assert summary["fixes_read"] == len(tracks) == summary["fixes_kept"]
    assert sum(summary["fixes_dropped"].values()) == 0 and summary["warnings"] == []
    pd.testing.assert_frame_equal(table, sorted_table)
    assert summary["patrolled_share"] == sorted_summary["patrolled_share"] > 0
    assert cell(table, "G-C")["minutes"] == pytest.approx(60.0)


def test_sequence_number_going_backwards_is_out_of_order(tmp_path, grids_file):
    tracks = walk("w1", "08:00:00", 20, 10, 113.001, 28.003)
    tracks["seq"] = np.arange(len(tracks))
    # the phone's clock jumps back an hour for 10 fixes: their times contradict the sequence
    jump = list(range(50, 60))
    tracks.loc[jump, "time"] = (pd.to_datetime(tracks.loc[jump, "time"])
                                - pd.Timedelta(hours=1)).dt.strftime("%Y-%m-%d %H:%M:%S")
    shuffled = tracks.sample(frac=1.0, random_state=1)
    _, summary, _ = run(tmp_path, shuffled, grids_file, "--seq-col", "seq")
    assert summary["fixes_dropped"]["out_of_order"] == 10
    # without the sequence column the same rows are fixes at another time, not out of order
    _, plain, _ = run(tmp_path, shuffled, grids_file)
    assert plain["fixes_dropped"]["out_of_order"] == 0


def test_a_run_dropping_many_fixes_says_so_with_counts_by_reason(tmp_path, grids_file):
    tracks = two_workers()
    bad = tracks.sample(frac=0.1, random_state=3).index
    tracks.loc[bad, "lat"] = 400.0  # a tenth of the file is impossible
    unreadable = tracks.index.difference(bad)[:20]
    tracks.loc[unreadable, "time"] = "not a time"
    res, _ = invoke(tmp_path, tracks, grids_file)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["fixes_dropped"]["out_of_range"] == len(bad)
    assert summary["fixes_dropped"]["unreadable"] == 20
    lost = sum(summary["fixes_dropped"].values())
    assert lost >= len(bad) + 20
    assert summary["dropped_share"] == pytest.approx(lost / len(tracks), abs=1e-4)
    assert len(summary["warnings"]) == 1 and "out_of_range" in summary["warnings"][0]
    assert "warning" in res.stderr and "out_of_range" in res.stderr


# --- defect 3: one impossible coordinate ----------------------------------------------

def test_latitude_400_is_a_counted_bad_fix_and_strict_refuses(tmp_path, grids_file):
    tracks = two_workers().astype({"lon": object})
    tracks.loc[17, "lat"] = 400.0
    tracks.loc[18, "lon"] = "abc"
    table, summary, _ = run(tmp_path, tracks, grids_file, name="t.csv.gz")
    assert summary["fixes_dropped"]["out_of_range"] == 1
    assert summary["fixes_dropped"]["unreadable"] == 1
    assert summary["fixes_kept"] == len(tracks) - 2
    assert cell(table, "G-C")["minutes"] == pytest.approx(60.0)
    res, out = invoke(tmp_path, tracks.drop(index=18), grids_file, "--strict", name="t2.csv",
                      out_name="s.csv")
    assert res.exit_code != 0 and not out.exists()
    problem = res.exception.problem  # file, row (header = row 0) and field
    assert problem.file.endswith("t2.csv") and problem.row == 18 and problem.field == "lat"
    assert "out of range" in str(res.exception)


def test_out_of_range_point_in_a_vector_tracks_file_is_counted(tmp_path, grids_file):
    tracks = two_workers()
    tracks.loc[5, "lat"] = -95.0
    gdf = gpd.GeoDataFrame(tracks.drop(columns=["lon", "lat"]),
                           geometry=gpd.points_from_xy(tracks["lon"], tracks["lat"]), crs=4326)
    gdf.to_file(tmp_path / "tracks.gpkg", layer="fixes")
    gdf.head(3).to_file(tmp_path / "tracks.gpkg", layer="sample")
    res, _ = invoke(tmp_path, None, grids_file, name="tracks.gpkg")
    assert res.exit_code != 0 and res.exception.field == "layer"  # two layers: which one?
    assert "fixes (Point)" in str(res.exception) and "sample (Point)" in str(res.exception)
    table, summary, _ = run(tmp_path, None, grids_file, "--tracks-layer", "fixes",
                            name="tracks.gpkg")
    assert summary["fixes_dropped"]["out_of_range"] == 1
    assert summary["fixes_kept"] == len(tracks) - 1


# --- defect 11: vehicle travel ---------------------------------------------------------

def bus_day():
    """20 min on foot in A, then a bus east through B into C at 22 km/h (6.1 m/s, below
    the 7 m/s teleport limit), then an e-bike patrol north in C at 14 km/h."""
    foot = walk("w1", "08:00:00", 20, 10, 113.001, 28.003, speed_ms=0.5)
    bus = walk("w1", "08:21:00", 5, 10, 113.0095, 28.003, speed_ms=6.1)
    bike = walk("w1", "08:35:00", 4, 5, 113.021, 28.0005, speed_ms=3.9, north=True)
    return pd.concat([foot, bus, bike], ignore_index=True)


def test_bus_ride_is_not_patrol_and_is_reported(tmp_path, grids_file):
    table, summary, _ = run(tmp_path, bus_day(), grids_file)
    assert summary["patrol_speed_max_kmh"] == pytest.approx(18.0)
    assert cell(table, "G-B")["minutes"] == 0 and not cell(table, "G-B")["patrolled"]
    assert 20.0 <= cell(table, "G-A")["minutes"] <= 21.0  # (with the minute to the bus stop)
    c = cell(table, "G-C")["minutes"]
    assert 4.0 + 9.0 - 0.1 <= c <= 4.0 + 9.0 + 0.1  # the e-bike and the wait for it count
    excluded = summary["excluded_above_patrol_speed"]
    assert 5.0 <= excluded["minutes"] <= 6.1
    assert excluded["metres"] == pytest.approx(5 * 60 * 6.1, rel=0.15)
    assert excluded["fixes"] >= 30
    # the rule is explicit: turned off, the bus ride counts as patrol in B
    off, off_summary, _ = run(tmp_path, bus_day(), grids_file, "--patrol-speed-max", "0")
    assert cell(off, "G-B")["minutes"] > 2 and off_summary["excluded_above_patrol_speed"]["fixes"] == 0
    assert cell(off, "G-C")["minutes"] > c + 2  # the bus's minutes in C
    # and configurable: at 25 km/h the bus counts too
    fast, _, _ = run(tmp_path, bus_day(), grids_file, "--patrol-speed-max", "25")
    assert cell(fast, "G-B")["minutes"] == pytest.approx(cell(off, "G-B")["minutes"])


# --- defect 4: unbounded output --------------------------------------------------------

def test_period_printed_summaries_and_streamed_formats_agree(tmp_path, grids_file):
    tracks = pd.concat([two_workers(), walk("w3", "08:00:00", 30, 30, 113.001, 28.001)
                        .assign(time=lambda d: pd.to_datetime(d["time"]) + pd.Timedelta(days=40))
                        .assign(time=lambda d: d["time"].dt.strftime("%Y-%m-%d %H:%M:%S"))])
    table, summary, res = run(tmp_path, tracks, grids_file, "--summary",
                              str(tmp_path / "per_grid.csv"), "--worker-summary",
                              str(tmp_path / "per_worker.csv"))
    period = summary["period"]
    assert period["from"] == AM and period["to"] == "2026-12-09T12:00:00+08:00"
    assert period["windows"] == summary["windows"] == 81 and period["source"] == "span of the data"
    assert summary["rows"] == len(table) == 3 * 81
    per_grid = pd.read_csv(tmp_path / "per_grid.csv")
    assert list(per_grid["grid"]) == CODES and (per_grid["windows"] == 81).all()
    for code in CODES:
        rows = table[table["grid"] == code]
        g = per_grid.set_index("grid").loc[code]
        assert g["patrolled"] == rows["patrolled"].sum()
        assert g["minutes"] == pytest.approx(rows["minutes"].sum())
    per_worker = pd.read_csv(tmp_path / "per_worker.csv")
    assert sorted(per_worker["worker"]) == ["w1", "w2", "w3"]
    # the period is printed for a person reading the terminal
    plain = runner.invoke(app, ["patrol", "--tracks", str(tmp_path / "tracks.csv"), "--grids",
                                str(grids_file), "--summary", str(tmp_path / "only.csv")])
    assert plain.exit_code == 0, plain.output
    assert "period: 2026-10-30T00:00:00+08:00 to 2026-12-09T12:00:00+08:00" in plain.stderr
    # every streamed format holds the same rows
    for suffix in ("gpkg", "parquet"):
        _, s2, _ = run(tmp_path, tracks, grids_file, out_name=f"out.{suffix}")
        back = gpd.read_file(tmp_path / f"out.{suffix}") if suffix == "gpkg" else \
            gpd.read_parquet(tmp_path / f"out.{suffix}")
        assert len(back) == len(table) and back.geometry.notna().all()
        assert back["minutes"].sum() == pytest.approx(table["minutes"].sum())


def test_grid_keys_that_look_like_formulas_are_neutralised(tmp_path):
    boxes = [shapely.box(113.0 + 0.01 * i, 28.0, 113.01 + 0.01 * i, 28.01) for i in range(2)]
    grids = tmp_path / "g.geojson"
    gpd.GeoDataFrame({"code": ["=HYPERLINK(1)", "B"]}, geometry=boxes, crs=4326).to_file(grids)
    table, _, _ = run(tmp_path, two_workers(), grids, "--summary", str(tmp_path / "s.csv"))
    assert "'=HYPERLINK(1)" in set(table["grid"])
    assert "'=HYPERLINK(1)" in set(pd.read_csv(tmp_path / "s.csv")["grid"])


def test_chunks_are_the_table_in_pieces():
    windows = Windows.of("12h")
    starts = windows.span(pd.Timestamp("2026-01-01T00:00+08:00").value,
                          pd.Timestamp("2026-03-31T23:00+08:00").value)
    rng = np.random.default_rng(0)
    n = 500
    presence = pd.DataFrame({"grid": rng.integers(0, 40, n), "window": rng.choice(starts, n),
                             "worker": rng.choice(["a", "b", "c"], n),
                             "seconds": rng.uniform(0, 900, n), "metres": rng.uniform(0, 500, n),
                             "entries": rng.integers(0, 3, n), "exits": 0})
    keys = np.array([f"g{i:02d}" for i in range(40)], dtype=object)
    whole = compliance_table(presence, keys, windows, starts)
    pieces = list(compliance_chunks(presence, keys, windows, starts, rows=1000))
    assert len(pieces) == 8 and max(len(p) for p in pieces) <= 1000
    pd.testing.assert_frame_equal(pd.concat(pieces, ignore_index=True), whole)
