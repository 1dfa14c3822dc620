"""Rebalance and crosswalk through HTTP against PostGIS: POST /plans/rebalance after a new
compound, POST /plans/crosswalk with an uploaded thematic grid system."""

from __future__ import annotations

import csv
import io
import json

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import MultiLineString, MultiPolygon
from sqlalchemy import text

from partition_fixtures import street_town

COUNTY, TOWNSHIP, COMMUNITY = "510104000000", "510104001000", "510104001001"
OTHER = "510104002000"


def _mp(geom):
    return MultiPolygon([geom]).wkt


@pytest.fixture
def town(db):
    """An 8×8-block street town (7,000-odd households in 256 buildings) as one community."""
    buildings, roads, parent = street_town(n=8)
    area = parent.geometry.iat[0]
    ins = text("INSERT INTO admin_units (code, name, level, kind, parent_code, geom) "
               "VALUES (:c, :n, :l, :k, :p, ST_GeomFromText(:g, 4326))")
    with db.begin() as c:
        c.execute(ins, dict(c=COUNTY, n="x", l="county", k="county", p=None, g=_mp(area.buffer(0.05))))
        c.execute(ins, dict(c=TOWNSHIP, n="x", l="township", k="street", p=COUNTY, g=_mp(area)))
        c.execute(ins, dict(c=OTHER, n="x", l="township", k="street", p=COUNTY,
                            g=_mp(shapely.affinity.translate(area, 0.02))))
        c.execute(ins, dict(c=COMMUNITY, n="x", l="community", k="community", p=TOWNSHIP, g=_mp(area)))
        for line in roads.geometry:
            c.execute(text("INSERT INTO roads (class, geom) VALUES ('residential', "
                           "ST_GeomFromText(:g, 4326))"), {"g": MultiLineString([line]).wkt})
        for h, geom in zip(buildings["households"], buildings.geometry):
            c.execute(text("INSERT INTO buildings (households, kind, community_code, geom) "
                           "VALUES (:h, 'lowrise', :c, ST_GeomFromText(:g, 4326))"),
                      {"h": int(h), "c": COMMUNITY, "g": _mp(geom)})
    return buildings, parent


def _published(client, headers) -> dict:
    plan = client.post("/plans", json={"name": "base", "area_code": COMMUNITY}, headers=headers)
    assert plan.status_code == 201, plan.text
    pub = client.post(f"/plans/{plan.json()['id']}/publish",
                      json={"version": plan.json()["version"]}, headers=headers)
    assert pub.status_code == 200, pub.text
    return plan.json()


def _add_compound(db, buildings, households=400):
    m = buildings.to_crs(4544)
    x0, y0, x1, y1 = m[m["block"] == "3,3"].total_bounds
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    site = gpd.GeoSeries([shapely.box(cx - 10, cy - 10, cx + 10, cy + 10)], crs=4544).to_crs(4326)
    with db.begin() as c:
        c.execute(text("INSERT INTO buildings (households, kind, community_code, geom) "
                       "VALUES (:h, 'highrise', :c, ST_GeomFromText(:g, 4326))"),
                  {"h": households, "c": COMMUNITY, "g": _mp(site.iat[0])})


def _current(db) -> dict:
    with db.connect() as c:
        rows = c.execute(text("SELECT code, ST_AsBinary(geom) FROM grids WHERE valid_to IS NULL"))
        return {code: shapely.from_wkb(bytes(wkb)) for code, wkb in rows}


def test_rebalance_after_a_new_compound_changes_few_grids(client, town, db, make_user):
    buildings, _parent = town
    planner = make_user("planner", COUNTY)
    _published(client, planner)
    before = _current(db)
    _add_compound(db, buildings)
    resp = client.post("/plans/rebalance", json={"area_code": COMMUNITY}, headers=planner)
    assert resp.status_code == 201, resp.text
    plan = resp.json()
    assert plan["source"] == "rebalance"
    report = plan["report"]
    assert 1 <= report["grids_changed"] <= 4
    assert report["households_kept_share"] >= 0.95
    changed = {c["code"] for c in report["changes"] if c["change"] != "kept"}
    features = client.get(f"/plans/{plan['id']}/grids", headers=planner).json()["features"]
    assert sum(f["properties"]["households"] for f in features) == \
        buildings["households"].sum() + 400
    for f in features:  # untouched grids keep code and outline: a neighbour of a redrawn
        code = f["properties"]["code"]  # grid gains at most a vertex its new seam needs
        if code not in changed:
            geom = shapely.geometry.shape(f["geometry"])
            assert shapely.hausdorff_distance(geom, before[code]) < 1e-8, code  # < 1 mm
            assert abs(geom.area - before[code].area) < 1e-12, code
    bad = client.get(f"/plans/{plan['id']}/violations", headers=planner).json()
    assert bad["valid"], [f["properties"] for f in bad["features"]]
    diff = client.get(f"/plans/{plan['id']}/diff", headers=planner).json()
    assert diff["changed"] + diff["added"] + diff["removed"] >= 1
    assert diff["unchanged"] >= len(before) - 4


def test_rebalance_needs_grids_scope_and_known_fields(client, town, make_user):
    planner = make_user("planner", COUNTY)
    none_yet = client.post("/plans/rebalance", json={"area_code": COMMUNITY}, headers=planner)
    assert none_yet.status_code == 422 and none_yet.json()["field"] == "area_code"
    outsider = make_user("planner", OTHER, username="other-planner")
    assert client.post("/plans/rebalance", json={"area_code": COMMUNITY},
                       headers=outsider).status_code == 403
    extra = client.post("/plans/rebalance", json={"area_code": COMMUNITY, "k": 3},
                        headers=planner)
    assert extra.status_code == 422 and extra.json()["field"] == "k"


def _halves(parent) -> bytes:
    m = parent.to_crs(4544).geometry.iat[0]
    x0, y0, x1, y1 = m.bounds
    halves = gpd.GeoDataFrame({"FXWG": ["west", "east"]}, geometry=[
        shapely.box(x0, y0, (x0 + x1) / 2, y1), shapely.box((x0 + x1) / 2, y0, x1, y1)],
        crs=4544).to_crs(4326)
    return halves.to_json().encode()


def test_crosswalk_upload_as_json_and_csv(client, town, make_user):
    buildings, parent = town
    planner = make_user("planner", COUNTY)
    _published(client, planner)
    analyst = make_user("analyst", COUNTY, username="analyst")
    files = {"file": ("flood.geojson", _halves(parent), "application/geo+json")}
    resp = client.post("/plans/crosswalk", headers=analyst, files=files,
                       data={"area_code": COMMUNITY, "code_field": "FXWG"})
    assert resp.status_code == 200, resp.text
    rows = resp.json()["rows"]
    assert {r["old_code"] for r in rows} == {"west", "east"}
    assert sum(r["households"] for r in rows) == buildings["households"].sum()
    for old in ("west", "east"):
        assert sum(r["area_share"] for r in rows if r["old_code"] == old) == pytest.approx(1.0)
    files = {"file": ("flood.geojson", _halves(parent), "application/geo+json")}
    got = client.post("/plans/crosswalk", headers=analyst, files=files,
                      data={"area_code": COMMUNITY, "code_field": "FXWG", "format": "csv"})
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(got.text)))
    assert len(table) == len(rows) and {"old_code", "new_code", "households"} <= set(table[0])


def test_crosswalk_names_a_missing_code_field(client, town, make_user):
    _buildings, parent = town
    planner = make_user("planner", COUNTY)
    _published(client, planner)
    files = {"file": ("flood.geojson", _halves(parent), "application/geo+json")}
    resp = client.post("/plans/crosswalk", headers=planner, files=files,
                       data={"area_code": COMMUNITY})
    assert resp.status_code == 422
    body = resp.json()
    assert body["field"] == "code_field" and "FXWG" in json.dumps(body)
    viewer = make_user("viewer", COUNTY, username="viewer")
    files = {"file": ("flood.geojson", _halves(parent), "application/geo+json")}
    assert client.post("/plans/crosswalk", headers=viewer, files=files,
                       data={"area_code": COMMUNITY, "code_field": "FXWG"}).status_code == 403
