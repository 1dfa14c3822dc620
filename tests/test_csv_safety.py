"""Issue 14 finding 5: CSV formula injection. Cells starting with =, +, -, @, tab or CR
come back with a single quote in front in every CSV gridgis writes: the crosswalk CSV of
the service (real HTTP, uvicorn, real PostGIS), and the CLI's exports and rejected-row
reports. Cells that read as numbers (-87.6) and numeric columns are left as they are."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd

from roles_fixtures import COMM1, X, Y0, Y1, centre, insert_district
from security_helpers import serve, token_headers

ROOT = Path(__file__).parents[1]
FORMULA = '=HYPERLINK("http://evil.example","x")'


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_crosswalk_csv_neutralises_a_formula_code(db, pg_url, tmp_path):
    insert_district(db)
    analyst = token_headers(db, "analyst", COMM1, "analyst1")
    ring = [[X["A"], Y0], [X["A"] + 0.01, Y0], [X["A"] + 0.01, Y1], [X["A"], Y1], [X["A"], Y0]]
    doc = json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"code": FORMULA},
        "geometry": {"type": "Polygon", "coordinates": [ring]}}]})
    with serve(pg_url, tmp_path) as base:
        r = httpx.post(f"{base}/plans/crosswalk", headers=analyst,
                       data={"area_code": COMM1, "format": "csv"},
                       files={"file": ("other.geojson", doc)})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), r.text
    rows = _rows(r.text)
    assert rows and all(row["old_code"] == "'" + FORMULA for row in rows)
    for row in rows:  # figures stay numbers a spreadsheet can sum
        for name, value in row.items():
            if name not in ("old_code", "new_code"):
                float(value)


def _cli(*args: str, pg_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRIDGIS_DATABASE_URL": pg_url}
    return subprocess.run([sys.executable, "-m", "gis.cli", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=180)


def test_cli_exports_and_rejected_row_reports_neutralise_formulas(db, pg_url, tmp_path):
    insert_district(db)
    x, y = centre("A")
    source = pd.DataFrame({
        "category": ["dispute", "dispute", "=bad"],
        "reported_at": ["2026-10-30T10:00:00+08:00"] * 3,
        "description": [FORMULA, "-2+3", "+cmd|' /C calc'!A0"],
        "reporter": ["@admin", "-87.6", "\tx"],
        "external_id": ["e1", "e2", "e3"],
        "lon": [x, x + 0.001, x], "lat": [y, y, y]})
    src, report = tmp_path / "in.csv", tmp_path / "rejected.csv"
    source.to_csv(src, index=False)
    run = _cli("import", "incidents", str(src), "--skip-invalid", "--report", str(report),
               "--json", pg_url=pg_url)
    assert run.returncode == 0, run.stderr
    rejected = _rows(report.read_text())
    assert len(rejected) == 1 and rejected[0]["category"] == "'=bad"
    assert rejected[0]["description"] == "'+cmd|' /C calc'!A0"
    assert rejected[0]["reporter"] == "'\tx"

    out = tmp_path / "incidents.csv"
    run = _cli("export", "incidents", str(out), "--filter", "category=dispute", "--json",
               pg_url=pg_url)
    assert run.returncode == 0, run.stderr
    by_id = {row["external_id"]: row for row in _rows(out.read_text())}
    assert by_id["e1"]["description"] == "'" + FORMULA
    assert by_id["e1"]["reporter"] == "'@admin"
    assert by_id["e2"]["description"] == "'-2+3"        # text, though it starts with '-'
    assert by_id["e2"]["reporter"] == "-87.6"           # reads as a number: left alone
    assert float(by_id["e2"]["lon"]) == x + 0.001       # numeric columns untouched


def test_the_rule_leaves_numbers_alone():
    from gis.csvsafe import csv_text, neutralise

    df = pd.DataFrame({"x": [-87.6, 1.5], "t": ["-87.6", "-a"], "=h": ["+1e5", "@b"]})
    rows = _rows(csv_text(df))
    assert rows == [{"x": "-87.6", "t": "-87.6", "'=h": "+1e5"},
                    {"x": "1.5", "t": "'-a", "'=h": "'@b"}]
    assert [neutralise(v) for v in ("=1+1", "\r=x", "ok", "", None, 3)] == \
        ["'=1+1", "'\r=x", "ok", "", None, 3]
