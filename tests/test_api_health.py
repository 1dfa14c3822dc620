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


def test_oversized_bodies_are_refused_with_413(db, settings):
    from fastapi.testclient import TestClient

    from api.app import create_app

    small = settings.model_copy(update={"max_upload_mb": 1})
    with TestClient(create_app(small, engine=db)) as c:
        resp = c.post("/auth/login", content=b"x" * (2 * 1024 * 1024),
                      headers={"content-type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 413
    assert resp.json()["title"] == "Payload too large"
