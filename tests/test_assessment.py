"""The 123456 assessment on a hand-built month whose figures are known
(tests/assessment_fixtures.py says why each figure is what it is), through the library
(``gis.assessment.assess``) and the command line (``gridgis assess``)."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import assessment_fixtures as F
import gis.cli  # noqa: F401  (registers commands)
from gis.assessment import COLUMNS, Norms, assess, stars
from gis.cli.app import app
from gis.crs import wgs84_to_gcj02
from gis.patrol import GridIndex, PatrolParams, compliance_table, patrol_presence, window_starts
from gis.patrol.tracks import fixes_from_frame

runner = CliRunner()


@pytest.fixture(scope="module")
def month():
    return assess(F.tracks(), F.staff(), F.grids(), F.incidents(), F.visits(),
                  F.key_households(), F.MONTH, F.TZ, roster=F.roster(),
                  buildings=F.buildings(), building_key="id")


def figures(table: pd.DataFrame, worker: str) -> dict:
    row = table[table["worker"] == worker]
    assert len(row) == 1
    return {k: int(v) for k, v in row.iloc[0].items() if k in F.EXPECTED[worker]}


@pytest.mark.parametrize("worker", sorted(F.EXPECTED))
def test_known_month_figures(month, worker):
    assert list(month.workers.columns) == list(COLUMNS)
    assert figures(month.workers, worker) == F.EXPECTED[worker]


def test_stars_follow_the_documented_weighting(month):
    got = month.workers.set_index("worker")
    for worker, row in F.EXPECTED.items():
        off = 2 if worker == "w1" else 0
        assert got.loc[worker, "stars"] == F.expected_stars(row, off), worker
    assert got.loc["w4", "stars"] == 5 and got.loc["w2", "stars"] == 1
    assert got.loc["w1", "patrol_rate"] == pytest.approx(25 / 58)
    assert np.isnan(got.loc["w3", "patrol_rate"])  # nothing required: no rate, not zero


def test_stars_cut_points():
    rates = pd.DataFrame({"patrol": [1.0, 0.9, 0.75, 0.6, 0.4, 0.39, np.nan],
                          "key_visits": np.nan, "must_attend": np.nan,
                          "visit_days": [1.0, 0.9, 0.75, 0.6, 0.4, 0.39, 0.0],
                          "report_weeks": np.nan})
    s, score = stars(rates)
    assert s.tolist() == [5, 5, 4, 3, 2, 1, 1]
    assert score[-1] == 0.0


def test_dispute_attended_at_20_minutes_is_proved_by_the_fix(month):
    c = month.cases.set_index("incident")
    assert c.loc["D1", "verified"] and not c.loc["D2", "verified"] and not c.loc["D3", "verified"]
    assert "D5" not in c.index  # merged as a duplicate: not a case
    assert c.loc["D1", "proof_time"] == pd.Timestamp("2026-10-07 09:20", tz=F.TZ)
    assert (c.loc["D1", "proof_lon"], c.loc["D1", "proof_lat"]) == pytest.approx((113.003, 28.0032))
    assert 20 < c.loc["D1", "proof_distance_m"] < 25
    assert c.loc["D1", "attend_by"] == pd.Timestamp("2026-10-07 09:30", tz=F.TZ)  # accept limit
    assert c.loc["D4", "worker"] == "w2" and not c.loc["D4", "verified"]  # w1's fix is not w2's


def test_attend_limit_is_a_norm(month):
    a = assess(F.tracks(), F.staff(), F.grids(), F.incidents(), F.visits(), F.key_households(),
               F.MONTH, F.TZ, roster=F.roster(), buildings=F.buildings(), building_key="id",
               norms=Norms(attend_limit_h=3.0))
    assert figures(a.workers, "w1")["must_attend_verified"] == 2  # +3 h now in time


def test_days_and_weeks_behind_the_counts(month):
    d = month.days[month.days["worker"] == "w1"].set_index("day")
    assert d.loc["2026-10-01", "households"] == 5 and d.loc["2026-10-01", "ok"]
    assert d.loc["2026-10-02", "households"] == 4 and not d.loc["2026-10-02", "ok"]
    assert d.loc["2026-10-03", "households"] == 4  # five visits, one household twice
    assert d.loc["2026-10-04", "households"] == 5 and d.loc["2026-10-04", "ok"]  # by position
    assert "2026-09-30" not in d.index and "2026-10-31" in d.index
    w = month.weeks[month.weeks["worker"] == "w1"].set_index("week")
    assert w["reports"].to_dict() == {"2026-W40": 0, "2026-W41": 6, "2026-W42": 5,
                                      "2026-W43": 5, "2026-W44": 6}
    assert w["days_in_month"].to_dict() == {"2026-W40": 4, "2026-W41": 7, "2026-W42": 7,
                                            "2026-W43": 7, "2026-W44": 6}


def test_notes_name_what_is_missing_and_the_days_off(month):
    notes = month.workers.set_index("worker")["notes"]
    assert "off duty 2026-10-30, 2026-10-31" in notes["w1"]
    assert "no fixes in the month" in notes["w2"]
    assert "grid G-Z not among the grids" in notes["w3"]
    assert "no key households" in notes["w4"] and "no fixes" not in notes["w4"]
    assert month.counts["fixes_of_other_workers"] == 210  # the stranger's walks


def test_patrol_figure_is_the_patrol_rule(month):
    """w1's windows done equal what gis.patrol says of w1's own fixes in G-A, minus the
    days off: the assessment does not have a second patrol rule."""
    fx = F.tracks()
    fx = fixes_from_frame(fx[fx["worker"] == "w1"].sort_values("time"), tz=F.TZ)
    index = GridIndex(F.grids(), "code")
    params = PatrolParams(tz=F.TZ)
    res = patrol_presence(fx, index, params)
    start = pd.Timestamp("2026-10-01", tz=F.TZ).value
    end = pd.Timestamp("2026-11-01", tz=F.TZ).value
    table = compliance_table(res.presence, index.keys, params.windows,
                             window_starts(params.windows, None, None, start, end))
    a = table[(table["grid"] == "G-A") & table["patrolled"]
              & ~table["window_start"].str[:10].isin(["2026-10-30", "2026-10-31"])]
    assert len(a) == figures(month.workers, "w1")["patrol_windows_done"] == 25


def test_bad_rows_are_dropped_and_counted_not_fatal():
    v = pd.concat([F.visits(), pd.DataFrame([
        {"worker": None, "time": "2026-10-01 10:00", "household": "x"},
        {"worker": "w1", "time": "not a time", "household": "x"},
        {"worker": "w1", "time": "2026-10-01 10:00"}])], ignore_index=True)
    inc = pd.concat([F.incidents(), pd.DataFrame([
        {"category": None, "reported_at": "2026-10-01 10:00"},
        {"category": "dispute", "reported_at": ""}])], ignore_index=True)
    a = assess(F.tracks(), F.staff(), F.grids(), inc, v, F.key_households(), F.MONTH, F.TZ,
               roster=F.roster(), buildings=F.buildings(), building_key="id")
    assert a.dropped["visits"] == {"missing": 1, "bad_time": 1,
                                   "no_household_building_or_position": 1}
    assert a.dropped["incidents"] == {"missing_category": 1, "bad_time": 1,
                                      "no_position_kept_as_report": 2}
    assert figures(a.workers, "w1") == F.EXPECTED["w1"]


# ---- the command line, with files as they come ------------------------------------------

def write_files(tmp_path) -> dict[str, str]:
    """The same month as files: tracks in GCJ-02 and shuffled; grids GeoJSON; key
    households a GeoPackage in a Gauss–Krüger CRS; incidents with Chinese column names."""
    p = {k: tmp_path / v for k, v in dict(
        tracks="tracks.csv", grids="grids.geojson", staff="staff.csv", roster="roster.csv",
        incidents="incidents.csv", visits="visits.csv", keyhh="key.gpkg",
        buildings="buildings.gpkg").items()}
    t = F.tracks()
    t["lon"], t["lat"] = wgs84_to_gcj02(t["lon"].to_numpy(), t["lat"].to_numpy())
    t.rename(columns={"worker": "userid", "time": "gps_time"}).to_csv(p["tracks"], index=False)
    F.grids().to_file(p["grids"])
    F.staff().to_csv(p["staff"], index=False)
    F.roster().to_csv(p["roster"], index=False)
    inc = F.incidents()
    has = inc["lon"].notna()
    inc.loc[has, "lon"], inc.loc[has, "lat"] = wgs84_to_gcj02(inc.loc[has, "lon"].to_numpy(float),
                                                              inc.loc[has, "lat"].to_numpy(float))
    inc.rename(columns={"category": "类别", "reported_at": "上报时间", "reporter": "上报人"}
               ).to_csv(p["incidents"], index=False)
    v = F.visits()
    has = v["lon"].notna()
    v.loc[has, "lon"], v.loc[has, "lat"] = wgs84_to_gcj02(v.loc[has, "lon"].to_numpy(float),
                                                          v.loc[has, "lat"].to_numpy(float))
    v.to_csv(p["visits"], index=False)
    kh = F.key_households()
    geom = gpd.points_from_xy(kh["lon"], kh["lat"], crs=4326)
    gpd.GeoDataFrame(kh.drop(columns=["lon", "lat"]), geometry=geom).to_crs(4547).to_file(p["keyhh"])
    F.buildings().to_crs(4547).to_file(p["buildings"])
    return {k: str(v) for k, v in p.items()}


def run_cli(p: dict, tmp_path, *more):
    out, cases = tmp_path / "assessment.csv", tmp_path / "cases.csv"
    res = runner.invoke(app, [
        "assess", "--tracks", p["tracks"], "--grids", p["grids"], "--staff", p["staff"],
        "--incidents", p["incidents"], "--visits", p["visits"], "--key-households", p["keyhh"],
        "--month", F.MONTH, "--tz", F.TZ, "--roster", p["roster"], "--buildings", p["buildings"],
        "--grid-key", "code", "--crs", "gcj02", "--worker-col", "userid", "--time-col", "gps_time",
        "--incidents-map", "类别=category", "--incidents-map", "上报时间=reported_at",
        "--incidents-map", "上报人=reporter", "--out", str(out), "--cases", str(cases),
        "--json", *more])
    assert res.exit_code == 0, res.output
    return pd.read_csv(out, keep_default_na=False), pd.read_csv(cases), json.loads(res.stdout.strip().splitlines()[-1])


def test_cli_gives_the_known_figures(tmp_path):
    p = write_files(tmp_path)
    table, cases, summary = run_cli(p, tmp_path)
    assert list(table.columns) == list(COLUMNS)
    assert sorted(table["worker"]) == ["w1", "w2", "w3", "w4"]
    for worker, expected in F.EXPECTED.items():
        assert figures(table, worker) == expected
    assert table.set_index("worker")["stars"].to_dict() == {"w1": 1, "w2": 1, "w3": 1, "w4": 5}
    d1 = cases[cases["incident"] == "D1"].iloc[0]
    assert d1["verified"] and d1["proof_time"].startswith("2026-10-07 09:20:00")
    assert (d1["proof_lon"], d1["proof_lat"]) == pytest.approx((113.003, 28.0032), abs=2e-6)
    assert summary["workers"] == 4 and summary["must_attend_verified"] == 1
    assert summary["fixes_of_other_workers"] == 210
    assert summary["stars"] == {"1": 3, "2": 0, "3": 0, "4": 0, "5": 1}


def test_cli_neutralises_formula_cells(tmp_path):
    p = write_files(tmp_path)
    staff = pd.read_csv(p["staff"])
    staff.loc[staff["worker"] == "w3", "worker"] = "=HYPERLINK(\"http://x\")"
    staff.to_csv(p["staff"], index=False)
    table, _, _ = run_cli(p, tmp_path)
    assert "'=HYPERLINK(\"http://x\")" in set(table["worker"])


def test_cli_names_a_missing_column(tmp_path):
    p = write_files(tmp_path)
    res = runner.invoke(app, ["assess", "--tracks", p["tracks"], "--grids", p["grids"],
                              "--staff", p["staff"], "--incidents", p["incidents"],
                              "--visits", p["visits"], "--key-households", p["keyhh"],
                              "--month", F.MONTH, "--out", str(tmp_path / "o.csv")])
    assert res.exit_code != 0
    assert "worker" in str(res.exception) or "worker" in res.output


def test_cli_refuses_a_bad_month(tmp_path):
    p = write_files(tmp_path)
    res = runner.invoke(app, ["assess", "--tracks", p["tracks"], "--grids", p["grids"],
                              "--staff", p["staff"], "--incidents", p["incidents"],
                              "--visits", p["visits"], "--key-households", p["keyhh"],
                              "--month", "2026-13", "--out", str(tmp_path / "o.csv"),
                              "--worker-col", "userid", "--time-col", "gps_time"])
    assert res.exit_code != 0 and "2026-13" in str(res.exception)
    assert not (tmp_path / "o.csv").exists()


def test_bench_peer_gives_the_same_answers(tmp_path):
    """The benchmark's plain GeoPandas implementation and gis.assessment agree on every
    figure of a small synthetic county month (the ratio in bench/results compares equals)."""
    from bench.bench_assess import INT_COLUMNS, case_geopandas, case_gridgis, make_files

    paths = make_files(str(tmp_path), 0.002)
    ours, peer = case_gridgis(paths)["table"], case_geopandas(paths)["table"]
    assert len(ours) == 20 and ours["patrol_windows_done"].sum() > 0
    assert ours["must_attend_verified"].sum() > 0 and ours["visit_days_ok"].sum() > 0
    pd.testing.assert_frame_equal(ours.reset_index(drop=True)[["worker"] + INT_COLUMNS],
                                  peer.reset_index(drop=True)[["worker"] + INT_COLUMNS],
                                  check_dtype=False)
