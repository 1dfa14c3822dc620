"""The duty roster over HTTP (POST /rosters/import) on PostGIS: after importing the roster
file, GET /workers/assessment gives exactly the figures of ``gridgis assess --roster`` on
the same month's files (days off not required); bad files are refused whole; scope and
roles."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from sqlalchemy import text

import assessment_fixtures as F
from grid_fixtures import COMM1, COMM2, COUNTY
from test_assessment import run_cli, write_files
from test_assessment_api import CODES, load_month

MONTH = {"month": F.MONTH}


@pytest.fixture
def month_db(db):
    load_month(db)
    return db


def _roster_csv(df: pd.DataFrame | None = None) -> bytes:
    return (F.roster() if df is None else df).to_csv(index=False).encode()


def _import(client, headers, body: bytes, name: str = "roster.csv"):
    return client.post("/rosters/import", headers=headers, files={"file": (name, body, "text/csv")})


def test_http_after_the_roster_equals_the_cli_with_roster(client, month_db, make_user, tmp_path):
    staff = make_user("dispatcher", COUNTY)
    res = _import(client, staff, _roster_csv())
    assert res.status_code == 200, res.text
    assert res.json()["days_stored"] == 3 and res.json()["off_days"] == 2
    got = client.get("/workers/assessment", params={**MONTH, "f": "csv"}, headers=staff)
    http = pd.read_csv(io.StringIO(got.text), keep_default_na=False).set_index("worker")
    cli, _, _ = run_cli(write_files(tmp_path), tmp_path)
    cli = cli.set_index("worker")
    for name, code in CODES.items():  # the files name grids G-A...; the database by code
        cli["notes"] = cli["notes"].str.replace(f"grid {name} ", f"grid {code} ", regex=False)
    pd.testing.assert_frame_equal(http.sort_index(), cli.sort_index(), check_dtype=False)
    # the roster's two days off: 4 windows fewer required, the patrol on one not counted
    assert (http.loc["w1", "patrol_windows_required"], http.loc["w1", "patrol_windows_done"]) \
        == (F.EXPECTED["w1"]["patrol_windows_required"], F.EXPECTED["w1"]["patrol_windows_done"])
    assert "2026-10-30" in http.loc["w1", "notes"]


def test_a_later_import_replaces_the_same_days(client, month_db, make_user):
    staff = make_user("dispatcher", COMM1)
    assert _import(client, staff, _roster_csv()).status_code == 200
    back_on = pd.DataFrame({"worker": ["w1", "w1"], "date": ["2026-10-30", "2026-10-31"],
                            "on": ["on", "on"]})
    assert _import(client, staff, _roster_csv(back_on)).status_code == 200
    w1 = client.get("/workers/assessment", params=MONTH, headers=staff).json()["workers"][0]
    assert w1["worker"] == "w1" and w1["patrol_windows_required"] == 62  # no day off left
    with month_db.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM rosters")) == 3


@pytest.mark.parametrize("csv, field, row", [
    ("worker,date\nw1,2026-10-30\n", "on", None),
    ("worker,date,on\nw1,2026-10-30,off\nw1,2026-13-01,off\n", "date", 2),
    ("worker,date,on\nw1,2026-10-30,maybe\n", "on", 1),
    ("worker,date,on\n,2026-10-30,off\n", "worker", 1),
    ("worker,date,on\nw1,2026-10-30,off\nw4,2026-10-30,off\n", "worker", None),  # COMM2's
])
def test_a_bad_roster_is_refused_whole(client, month_db, make_user, csv, field, row):
    res = _import(client, make_user("dispatcher", COMM1), csv.encode())
    assert res.status_code == 422, res.text
    problem = res.json()
    first = problem["errors"][0] if problem.get("errors") else problem
    assert first["field"] == field and first.get("row") == row
    with month_db.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM rosters")) == 0


def test_an_empty_roster_is_named_as_sent(client, month_db, make_user):
    res = _import(client, make_user("dispatcher", COMM1), b"", name="duty.csv")
    assert res.status_code == 422 and "duty.csv" in res.text and "gg-upload-" not in res.text


def test_a_roster_is_csv(client, month_db, make_user):
    res = _import(client, make_user("dispatcher", COMM1), b"x", name="roster.xlsx")
    assert res.status_code == 422 and res.json()["field"] == "file"


@pytest.mark.parametrize("role, status", [("viewer", 403), ("planner", 403), ("analyst", 403),
                                          ("grid_worker", 403), ("dispatcher", 200),
                                          ("admin", 200)])
def test_roles(client, month_db, make_user, role, status):
    assert _import(client, make_user(role, COMM1), _roster_csv()).status_code == status


def test_another_communitys_staff_cannot_set_a_roster(client, month_db, make_user):
    res = _import(client, make_user("dispatcher", COMM2, username="c2"), _roster_csv())
    assert res.status_code == 422 and "w1 is on no grid of your area" in res.text
