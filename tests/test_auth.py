"""Tokens and logins as a client sees them."""

from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from gis.store.db import transaction
from gis.store.users import revoke


def test_requests_without_credentials_get_401(client):
    resp = client.get("/auth/me")
    assert resp.status_code == 401
    assert resp.json()["title"] == "Unauthorized"


def test_token_identifies_user_and_is_stored_hashed(client, make_user, db):
    headers = make_user("admin")
    assert client.get("/auth/me", headers=headers).json()["role"] == "admin"
    token = headers["Authorization"].split()[1]
    with db.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM api_tokens")).scalars().all()
    assert token not in stored and len(stored) == 1


def test_revoked_and_expired_tokens_are_refused(client, make_user, db):
    headers = make_user("admin", username="a1")
    with transaction(db) as session:
        revoke(session, "a1")
    assert client.get("/auth/me", headers=headers).status_code == 401
    headers = make_user("admin", username="a2")
    with db.begin() as conn:
        conn.execute(text("UPDATE api_tokens SET expires_at = :t"),
                     {"t": datetime.now(timezone.utc) - timedelta(minutes=1)})
    assert client.get("/auth/me", headers=headers).status_code == 401


def test_password_login_sets_a_session_cookie(client, make_user):
    make_user("admin", username="boss", password="s3cret-pass")
    assert client.post("/auth/login", data={"username": "boss", "password": "nope"}).status_code == 401
    resp = client.post("/auth/login", data={"username": "boss", "password": "s3cret-pass"})
    assert resp.status_code == 200 and "gridgis_session" in resp.cookies
    assert client.get("/auth/me").json()["username"] == "boss"


def test_pages_send_a_visitor_without_login_to_the_login_page(client):
    for page in ("/map", "/overview"):
        resp = client.get(page, follow_redirects=False)
        assert resp.status_code == 303
        assert resp.headers["location"] == f"/login?next={page}"
