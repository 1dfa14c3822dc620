def test_health_reports_database_and_postgis_versions(client):
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["postgis"].startswith("3.")
    assert int(body["postgresql"].split(".")[0]) >= 13


def test_unknown_path_is_a_problem_document(client):
    resp = client.get("/no/such/thing")
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["status"] == 404
