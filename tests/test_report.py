"""The monthly report (gis.report, gis.store.monthly, ``gridgis report``) for a hand-built
May 2025 against April in township T1 of tests/overview_fixtures.py."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from typer.testing import CliRunner

import gis.cli  # noqa: F401  (registers the commands)
from gis.cli.app import app
from gis.report import change, render_html
from gis.store.db import transaction
from gis.store.monthly import monthly_data
from overview_fixtures import C1, C2, G11, G12, G21, G22, LOCAL, T1, add_fix, add_incident, \
    insert_area


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=LOCAL)


@pytest.fixture
def may(db):
    """April: 3 incidents (G11 1, G12 2), all closed, one late. May: G11 3 (closed in
    time: 12 per 1,000 households, the worst), G12 2 (one open past due at the end of
    May), G21 1 (open, due in June). G11 patrolled in 2 half days of May."""
    insert_area(db)
    day = timedelta(days=1)
    with db.begin() as conn:
        add_incident(conn, G11, at(4, 3), at(4, 6), closed=at(4, 4))
        add_incident(conn, G12, at(4, 10), at(4, 12), closed=at(4, 11))
        add_incident(conn, G12, at(4, 20), at(4, 21), closed=at(4, 25))  # late
        for d in (2, 9, 16):
            add_incident(conn, G11, at(5, d), at(5, d) + 3 * day, closed=at(5, d) + day)
        add_incident(conn, G12, at(5, 5), at(5, 8), closed=at(5, 7))
        add_incident(conn, G12, at(5, 20), at(5, 22))                       # open, overdue
        add_incident(conn, G21, at(5, 30), at(6, 5))                        # open, not due
        for d, h in ((3, 9), (3, 15)):
            add_fix(conn, G11, at(5, d, h))
            add_fix(conn, G11, at(5, d, h) + timedelta(minutes=10))
    return db


def test_change_arrows_and_direction():
    assert change(6, 3, "incidents") == {"text": "▲ +3 (+100.0%)", "cls": "worse"}
    assert change(2 / 3, 1.0, "resolution_rate") == {"text": "▼ -33.3 pp", "cls": "worse"}
    assert change(0.5, 0.25, "patrol_compliance")["cls"] == "better"
    assert change(None, 3, "incidents")["text"] == "—"
    assert change(4, 4, "open")["text"] == "= 0"


def test_monthly_figures(may):
    with transaction(may) as session:
        data = monthly_data(session, T1, "2025-05", now=at(7, 1))
    assert (data.month, data.previous) == ("2025-05", "2025-04")
    t, p = data.total, data.total_prev
    assert (t["incidents"], t["closed"], t["open"], t["overdue"], t["late"]) == (6, 4, 2, 1, 1)
    assert (p["incidents"], p["closed"], p["late"]) == (3, 3, 1)
    assert t["patrolled_windows"] == 2 and t["patrol_windows"] == 4 * 62  # 31 days
    grids = data.grids.set_index("code")
    assert grids.loc[G11, "per_1000"] == 12.0 and grids.loc[G11, "incidents_prev"] == 1
    assert grids.loc[G22, "incidents"] == 0 and grids.loc[G21, "above_max"] == 1
    assert list(data.units["code"]) == [C1, C2]
    assert data.units.set_index("code").loc[C1, "incidents"] == 5


def test_cli_writes_self_contained_html_and_pdf(may, pg_url, tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", pg_url)
    out = tmp_path / "t1-2025-05.html"
    result = CliRunner().invoke(app, ["report", "--area", T1, "--month", "2025-05",
                                      "--out", str(out), "--pdf", "--json"])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "东山街道" in html and "2025-05" in html and "2025-04" in html
    # the worst grid first: in the ranking by incidents per 1,000 households and overall
    ranked = html[html.index('id="rank-per_1000"'):]
    assert re.findall(r'data-code="(\d+)"', ranked)[:3] == [G11, G12, G21]
    every = html[html.index('id="grids"'):]
    assert re.search(r'data-code="(\d+)"', every).group(1) == G11
    ranked_rate = html[html.index('id="rank-resolution_rate"'):]
    assert re.search(r'data-code="(\d+)"', ranked_rate).group(1) == G21  # 0 of 1 closed
    # month-on-month changes of the area
    row = re.search(r'<tr data-key="incidents">.*?</tr>', html, re.S).group(0)
    assert "6" in row and "3" in row and "▲ +3 (+100.0%)" in row
    row = re.search(r'<tr data-key="resolution_rate">.*?</tr>', html, re.S).group(0)
    assert "66.7%" in row and "100.0%" in row and "▼ -33.3 pp" in row
    assert html.count("data:image/png;base64,") >= 3
    assert not re.findall(r"https?://", html), "the report must not load anything"
    assert out.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"


def test_bad_month_and_unknown_area(may, pg_url, tmp_path, monkeypatch):
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", pg_url)
    out = tmp_path / "r.html"
    for args, word in ((["--area", T1, "--month", "2025-13"], "month"),
                       (["--area", "330102009000", "--month", "2025-05"], "330102009000")):
        result = CliRunner().invoke(app, ["report", *args, "--out", str(out)])
        assert result.exit_code != 0 and word in str(result.exception or result.output)
    assert not out.exists()


def test_grid_area_report_without_charts(may):
    with transaction(may) as session:
        data = monthly_data(session, G12, "2025-05", now=at(7, 1))
    html = render_html(data, charts=False)
    assert len(data.units) == 0 and list(data.grids["code"]) == [G12]
    assert "青石二网格" in html
    row = re.search(r'<tr data-key="incidents">.*?</tr>', html, re.S).group(0)
    assert "= 0" in row  # 2 incidents in both months
    assert data.total["overdue"] == 1
