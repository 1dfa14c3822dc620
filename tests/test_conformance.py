"""What schemathesis found (issue 14, finding 8), each as a plain request a client would
make: the published document names every status and content type the service answers,
a word beside an id route is not taken for an id, and a number is not a timestamp."""

from __future__ import annotations

import pytest

from roles_fixtures import COUNTY, insert_district

PROBLEM = "application/problem+json"


@pytest.fixture
def doc(client):
    return client.get("/openapi.json").json()


def _ops(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            yield path, method, op


def test_every_error_status_is_documented_as_problem_json(doc):
    assert doc["components"]["schemas"]["Problem"]["required"] == ["type", "status", "title"]
    for path, method, op in _ops(doc):
        errors = {s: r for s, r in op["responses"].items() if s.startswith(("4", "5"))}
        assert {"429", "503"} <= set(errors), (method, path)
        for status, response in errors.items():
            assert list(response["content"]) == [PROBLEM], (method, path, status)
        if op.get("parameters") or op.get("requestBody"):
            assert {"404", "422"} <= set(errors), (method, path)
        if method in ("post", "patch", "put", "delete"):
            assert "409" in errors, (method, path)
    incident = doc["paths"]["/incidents/{incident_id}"]["get"]
    assert {"401", "403", "404"} <= set(incident["responses"])
    assert incident["security"] == [{"bearer": []}, {"cookie": []}]
    assert "401" in doc["paths"]["/auth/login"]["post"]["responses"]  # a wrong password
    assert "security" not in doc["paths"]["/health"]["get"]


def test_answers_carry_the_documented_status_and_content_type(client, admin_headers, doc):
    missing = client.get("/incidents/987654321", headers=admin_headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    documented = doc["paths"]["/incidents/{incident_id}"]["get"]["responses"]["404"]
    assert PROBLEM in documented["content"]
    anonymous = client.get("/incidents")
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == PROBLEM


def test_get_on_the_import_route_is_405_not_an_incident_id(client, admin_headers):
    r = client.get("/incidents/import", headers=admin_headers)
    assert r.status_code == 405, r.text
    assert r.headers["allow"] == "POST"
    assert r.headers["content-type"] == PROBLEM
    assert client.get("/incidents/abc", headers=admin_headers).status_code == 404


@pytest.mark.parametrize("url,field", [
    ("/incidents?start=0.5", "start"),
    ("/incidents?end=1700000000", "end"),
    ("/patrol/rates?from=1500-01-01T00:00:00Z", "from"),
    ("/audit?since=12", "since"),
    ("/patrol/rates?from=0.5", "from"),
])
def test_a_number_or_a_year_out_of_range_is_not_a_timestamp(client, admin_headers, url, field):
    r = client.get(url, headers=admin_headers)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field


def test_an_iso_timestamp_is_still_accepted(client, admin_headers):
    r = client.get("/incidents?start=2026-10-01T00:00:00%2B08:00&end=2026-11-01",
                   headers=admin_headers)
    assert r.status_code == 200, r.text
    future = client.get("/audit?since=2999-01-01T00:00:00Z", headers=admin_headers)
    assert future.status_code == 200 and future.json()["numberMatched"] == 0


def test_cross_field_rules_are_listed_where_json_schema_cannot_state_them(doc):
    assert "since" in doc["paths"]["/audit"]["get"]["x-constraints"]
    assert "file" in doc["paths"]["/plans/upload"]["post"]["x-constraints"]
    assert "subcategory" in doc["paths"]["/incidents"]["post"]["x-constraints"]


def test_an_unreadable_plan_upload_names_the_field_not_a_server_path(client, db, make_user):
    insert_district(db)
    headers = make_user("planner", COUNTY)
    r = client.post("/plans/upload", headers=headers,
                    files={"file": ("drawn.gpkg", b"not a geopackage")},
                    data={"name": "x", "area_code": COUNTY})
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["field"] == "file"
    assert "drawn.gpkg" in problem["detail"] and "/tmp" not in problem["detail"]
