"""The monthly report's section on grid workers (123456, worst first, with the evidence
counts) over the real PostGIS: the hand-built month of tests/assessment_fixtures.py, with
its roster imported; the report's figures (HTTP GET /reports/monthly and ``gridgis
report``) equal GET /workers/assessment for the same area and month."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

import assessment_fixtures as F
import gis.cli  # noqa: F401  (registers the commands)
from gis.cli.app import app
from gis.report import WORKER_EVIDENCE
from grid_fixtures import COMM1, COMM2, COUNTY
from test_assessment_api import load_month

MONTH = {"month": F.MONTH}


@pytest.fixture
def month_db(db, client, make_user):
    load_month(db)
    res = client.post("/rosters/import", headers=make_user("admin", username="loader"),
                      files={"file": ("r.csv", F.roster().to_csv(index=False).encode())})
    assert res.status_code == 200, res.text
    return db


def report_rows(html: str) -> list[tuple[str, dict]]:
    """The workers' section as (worker, {key: text}) in the order shown."""
    section = html[html.index('id="workers"'):]
    section = section[:section.index("</table>")]
    rows = re.findall(r'<tr data-worker="([^"]+)">(.*?)</tr>', section, re.S)
    return [(w, dict(re.findall(r'data-key="(\w+)">([^<]*)<', body))) for w, body in rows]


def expected_rows(client, headers, area) -> dict[str, dict]:
    res = client.get("/workers/assessment", params={**MONTH, "area": area}, headers=headers)
    assert res.status_code == 200, res.text
    return {w["worker"]: {"stars": str(w["stars"]), "must_report": str(w["must_report_count"]),
                          **{k: f"{w[d]}/{w[q]}" for k, _, d, q in WORKER_EVIDENCE}}
            for w in res.json()["workers"]}


def test_report_figures_equal_the_assessment(client, month_db, make_user):
    boss = make_user("dispatcher", COUNTY, username="boss")
    res = client.get("/reports/monthly", params={**MONTH, "area": COUNTY}, headers=boss)
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/html")
    rows = report_rows(res.text)
    assert dict(rows) == expected_rows(client, boss, COUNTY)
    # worst first: the three one-star workers before w4's five stars; w1's roster applied
    assert [w for w, _ in rows][-1] == "w4" and [int(r["stars"]) for _, r in rows] == \
        sorted(int(r["stars"]) for _, r in rows)
    w1 = dict(rows)["w1"]
    assert w1["patrol"] == f"{F.EXPECTED['w1']['patrol_windows_done']}/" \
                           f"{F.EXPECTED['w1']['patrol_windows_required']}"
    assert w1["must_attend"] == "1/3" and w1["key_visits"] == "1/2"


def test_a_community_report_shows_its_own_workers(client, month_db, make_user):
    comm1 = make_user("analyst", COMM1, username="c1")
    rows = report_rows(client.get("/reports/monthly", params={**MONTH, "area": COMM1},
                                  headers=comm1).text)
    assert dict(rows) == expected_rows(client, comm1, COMM1)
    assert sorted(w for w, _ in rows) == ["w1", "w2", "w3"]
    other = make_user("dispatcher", COMM2, username="c2")
    assert client.get("/reports/monthly", params={**MONTH, "area": COMM1},
                      headers=other).status_code == 404


@pytest.mark.parametrize("role, status", [("viewer", 403), ("planner", 403),
                                          ("grid_worker", 403), ("analyst", 200),
                                          ("dispatcher", 200)])
def test_roles(client, month_db, make_user, role, status):
    res = client.get("/reports/monthly", params={**MONTH, "area": COMM1},
                     headers=make_user(role, COMM1))
    assert res.status_code == status


def test_cli_report_has_the_same_section(client, month_db, make_user, pg_url, tmp_path,
                                         monkeypatch):
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", pg_url)
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", "--area", COUNTY, "--month", F.MONTH,
                                      "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    rows = report_rows(out.read_text(encoding="utf-8"))
    assert dict(rows) == expected_rows(client, make_user("analyst", COUNTY), COUNTY)
