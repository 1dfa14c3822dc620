"""Input hardening as a client meets it: geometry limits on drawn and uploaded plan
geometry, unknown fields refused by every JSON body, no stack trace in any response,
body size cap, the placeholder secret refused outside development, loopback by default."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from gis.settings import PLACEHOLDER_SECRET, Settings
from roles_fixtures import COMM1, COUNTY, insert_district


@pytest.fixture
def plan(client, db, make_user):
    ids = insert_district(db)
    headers = make_user("planner", COUNTY, username="planner")
    return ids["A"]["plan"], headers


def _edit(client, plan, geometry):
    plan_id, headers = plan
    return client.post(f"/plans/{plan_id}/edits", headers=headers, json={
        "op": "redraw", "version": 1, "code": COMM1 + "0001", "geometry": geometry})


@pytest.mark.parametrize("geometry, reason", [
    ({"type": "Polygon", "coordinates": [[[113.001, 28.001], [113.1 + 3, 28.001],
                                          [113.001, 28.009], [113.001, 28.001]]]}, "degrees"),
    ({"type": "Polygon", "coordinates": [[[1000.0, 28.0], [1001.0, 28.0], [1000.0, 29.0],
                                          [1000.0, 28.0]]]}, "lon/lat"),
    ({"type": "Polygon", "coordinates": "nonsense"}, "GeoJSON"),
    ({"type": "Hexagon", "coordinates": []}, "GeoJSON"),
    ({"type": "Polygon", "coordinates": [[[113.001 + i * 1e-7, 28.001 + (i % 2) * 1e-4]
                                          for i in range(12_000)] + [[113.001, 28.001]]]},
     "vertices"),
])
def test_drawn_plan_geometry_beyond_limits_is_refused(client, plan, geometry, reason):
    r = _edit(client, plan, geometry)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "geometry" and reason in r.json()["detail"]


def test_uploaded_plan_outside_lonlat_range_is_refused(client, plan, tmp_path):
    doc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
           "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [3, 0], [3, 3], [0, 0]]]}}]}
    r = client.post("/plans/upload", headers=plan[1], data={"name": "x", "area_code": COMM1},
                    files={"file": ("huge.geojson", json.dumps(doc), "application/geo+json")})
    assert r.status_code == 422 and "degrees" in r.json()["detail"], r.text


def test_every_json_body_refuses_unknown_fields(client):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    bodies = set()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            content = op.get("requestBody", {}).get("content", {})
            ref = content.get("application/json", {}).get("schema", {}).get("$ref")
            if ref:
                bodies.add(ref.rsplit("/", 1)[-1])
    assert len(bodies) >= 8
    lenient = [name for name in bodies if schemas[name].get("additionalProperties") is not False]
    assert lenient == []


def test_an_unexpected_error_answers_500_without_a_stack_trace(db, settings):
    from fastapi.testclient import TestClient

    from api.app import create_app

    app = create_app(settings, engine=db)

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals: password=hunter2")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "Traceback" not in r.text and "hunter2" not in r.text and "RuntimeError" not in r.text


def test_bodies_over_the_cap_are_refused_with_413(db, pg_url, tmp_path, admin_headers):
    from fastapi.testclient import TestClient

    from api.app import create_app

    small = Settings(database_url=pg_url, data_dir=tmp_path, max_upload_mb=1)
    with TestClient(create_app(small, engine=db)) as c:
        r = c.post("/incidents", headers=admin_headers, content=b"x" * (2 * 1024 * 1024))
    assert r.status_code == 413 and r.json()["status"] == 413


def test_placeholder_secret_is_refused_outside_development(monkeypatch):
    monkeypatch.delenv("GRIDGIS_SECRET_KEY", raising=False)
    monkeypatch.delenv("GRIDGIS_HOST", raising=False)
    assert Settings().secret_key == PLACEHOLDER_SECRET  # fine while developing
    with pytest.raises(ValidationError, match="GRIDGIS_SECRET_KEY"):
        Settings(environment="production")
    with pytest.raises(ValidationError):
        Settings(environment="production", secret_key="short")
    assert Settings(environment="production", secret_key="k" * 40).environment == "production"


def test_the_service_listens_on_loopback_by_default(monkeypatch):
    monkeypatch.delenv("GRIDGIS_HOST", raising=False)
    assert Settings().host == "127.0.0.1"
