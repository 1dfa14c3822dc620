"""Resident reporting over HTTP (issue 17, item 3): a report with a photo gets a tracking
code and lands in the dispatcher's queue as ``reported`` with channel ``public``; its
status page shows the status and public notes and never personal data; likely duplicates
nearby; the public base map carries outlines only; and the abuse limits: per-address rate
limits (429 + Retry-After), photo type and size, field limits, inside the county (422)."""

from __future__ import annotations

import io

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import text

from layers_data import tile_of
from roles_fixtures import COUNTY, centre, insert_district

PHONE = "+86 138 0000 1234"


def png(colour="red", size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


def send(client, lon_lat=None, photo: bytes | None = None, headers=None, **fields):
    lon, lat = lon_lat or centre("B")
    data = {"lon": str(lon), "lat": str(lat), "category": "environment", **fields}
    files = {"photo": ("p.png", photo, "image/png")} if photo is not None else None
    return client.post("/report", data=data, files=files, headers=headers or {})


@pytest.fixture
def world(db):
    return insert_district(db)


def app_client(db, settings, **overrides):
    from api.app import create_app

    return TestClient(create_app(settings.model_copy(update=overrides), engine=db))


def test_a_report_gets_a_code_and_reaches_the_dispatcher_without_personal_data(
        client, world, db, settings, make_user):
    photo = png()
    r = send(client, photo=photo, description="垃圾堆放 rubbish dumped", phone=PHONE)
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    assert len(code) == 16 and code.isupper() and r.json()["status"] == "reported"
    assert r.json()["status_url"] == f"/report/{code}"

    dispatcher = make_user("dispatcher", COUNTY, username="zhang-wei")
    listed = client.get("/incidents?status=reported", headers=dispatcher).json()["features"]
    mine = [f for f in listed if f["properties"]["channel"] == "public"]
    assert len(mine) == 1 and mine[0]["properties"]["category"] == "environment"
    assert mine[0]["properties"]["reporter"] is None  # no name: residents send none
    assert PHONE not in client.get(f"/incidents/{mine[0]['id']}", headers=dispatcher).text

    with db.connect() as conn:
        stored = conn.execute(text(
            "SELECT p.phone, a.sha256, a.content_type, a.served_path, a.step FROM public_reports"
            " p JOIN attachments a ON a.incident_id = p.incident_id WHERE p.code = :c"),
            {"c": code}).one()
    import hashlib
    assert stored[:3] == (PHONE, hashlib.sha256(photo).hexdigest(), "image/png")
    assert stored[4] == "report"  # an attachment of the incident, as the field app's photos
    served = Image.open(settings.data_dir / stored[3])
    assert served.size == (64, 48)

    view = client.get(f"/report/status/{code}")
    assert view.status_code == 200
    body = view.json()
    assert body["status"] == "reported" and body["photos"] == 1
    assert body["status_note_en"].startswith("Received")
    page = client.get(f"/report/{code}")
    assert page.status_code == 200 and "已收到" in page.text
    assert PHONE not in page.text and PHONE not in view.text

    incident = mine[0]["id"]
    step = client.post(f"/incidents/{incident}/transitions", headers=dispatcher,
                       json={"action": "accept", "version": 1, "note": "staff-only note"})
    assert step.status_code == 200
    after = client.get(f"/report/status/{code}").json()
    assert after["status"] == "accepted" and [h["status"] for h in after["history"]] == [
        "reported", "accepted"]
    page = client.get(f"/report/{code}").text
    for private in ("staff-only note", "zhang-wei", PHONE):  # no staff note, name or phone
        assert private not in page and private not in str(after)
    assert "已受理" in page


def test_likely_duplicates_nearby_are_shown_first(client, world):
    lon, lat = centre("B")
    assert send(client, (lon, lat), description="first").status_code == 201
    near = client.get("/report/nearby", params={"lon": lon + 0.0003, "lat": lat,
                                                "category": "environment"}).json()
    assert near["radius_m"] == 50 and len(near["items"]) == 1  # ~29 m away
    item = near["items"][0]
    assert set(item) == {"category", "subcategory", "status", "reported_at", "distance_m"}
    assert 20 < item["distance_m"] < 40
    far = client.get("/report/nearby", params={"lon": lon + 0.001, "lat": lat,
                                               "category": "environment"}).json()
    assert far["items"] == []  # ~98 m
    other = client.get("/report/nearby", params={"lon": lon, "lat": lat,
                                                 "category": "dispute"}).json()
    assert other["items"] == [] or all(i["category"] == "dispute" for i in other["items"])


def test_a_resent_report_with_its_key_is_stored_once(client, world, db):
    key = {"Idempotency-Key": "form-1"}
    first = send(client, photo=png("blue"), headers=key, description="once")
    again = send(client, photo=png("blue"), headers=key, description="once")
    assert first.status_code == again.status_code == 201
    assert again.content == first.content and again.headers["Idempotent-Replayed"] == "true"
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incidents WHERE channel = 'public'")
                            ).scalar() == 1
    other = send(client, photo=png("green"), headers=key, description="once")
    assert other.status_code == 422 and other.json()["field"] == "Idempotency-Key"


def test_bad_reports_are_refused_and_nothing_is_stored(client, world, db):
    outside = send(client, (113.5, 28.5))
    assert outside.status_code == 422 and outside.json()["field"] == "lon"
    assert "county" in outside.json()["detail"]
    not_photo = send(client, photo=b"GIF89a not really")
    assert not_photo.status_code == 422 and not_photo.json()["field"] == "photo"
    big = send(client, photo=b"\xff" * (8 * 2**20 + 1))
    assert big.status_code == 422 and big.json()["field"] == "photo"
    assert send(client, phone="call me maybe").status_code == 422
    assert send(client, description="x" * 2001).status_code == 422
    assert send(client, category="nonsense").status_code == 422
    assert send(client, subcategory="fire").status_code == 422  # not an environment one
    assert client.get("/report/status/AAAAAAAAAAAAAAAA").status_code == 404
    assert client.get("/report/status/short").status_code == 422
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM public_reports")).scalar() == 0


def test_reports_from_one_address_are_rate_limited(db, settings, world):
    with app_client(db, settings, report_rate_per_hour=2) as client:
        assert send(client).status_code == 201
        assert send(client).status_code == 201
        third = send(client)
        assert third.status_code == 429
        assert 3500 <= int(third.headers["Retry-After"]) <= 3600
        assert "too many reports" in third.json()["detail"]
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incidents WHERE channel = 'public'")
                            ).scalar() == 2


def test_the_public_base_map_has_outlines_only_and_is_rate_limited(db, settings, world):
    z, x, y = tile_of(*centre("B"), 14)
    with app_client(db, settings, public_tile_rate_per_minute=3) as client:
        r = client.get(f"/report/tiles/{z}/{x}/{y}")  # no credentials
        assert r.status_code == 200 and r.headers["content-type"].startswith(
            "application/vnd.mapbox-vector-tile")
        layers = mapbox_vector_tile.decode(r.content)
        assert {"admin_units", "grids", "roads", "buildings"} <= set(layers)
        for name, allowed in (("admin_units", {"level"}), ("grids", set()),
                              ("roads", {"class"}), ("buildings", set())):
            for feature in layers[name]["features"]:
                assert set(feature["properties"]) <= allowed, (name, feature["properties"])
        assert "incidents" not in layers and "cameras" not in layers
        assert client.get(f"/report/tiles/{z}/{x}/{y}").status_code == 200
        assert client.get("/report/tiles/3/9/9").status_code == 404  # outside the matrix
        limited = client.get(f"/report/tiles/{z}/{x}/{y}")
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1


def test_the_report_page_is_served_without_an_account(client, world):
    page = client.get("/report")
    assert page.status_code == 200
    assert "/static/vendor/maplibre-gl.js" in page.text and "群众报事" in page.text
    assert "https://" not in page.text.split("<script id=\"config\"")[0]


@pytest.mark.parametrize("role, scope, want", [
    ("dispatcher", COUNTY, 200), ("admin", None, 200), ("dispatcher", "430102002001", 404),
    ("viewer", COUNTY, 403), ("grid_worker", COUNTY, 403), ("analyst", COUNTY, 403),
    ("planner", COUNTY, 403), ("integration", COUNTY, 403)])
def test_only_dispatchers_of_the_area_read_a_reporters_phone_and_it_is_audited(
        client, world, make_user, db, role, scope, want):
    code = send(client, phone=PHONE).json()["code"]  # in grid B (township 1)
    with db.connect() as conn:
        incident = conn.execute(text("SELECT incident_id FROM public_reports WHERE code = :c"),
                                {"c": code}).scalar()
    headers = make_user(role, scope, username=f"{role}-x")
    r = client.get(f"/incidents/{incident}/contact", headers=headers)
    assert r.status_code == want, r.text
    with db.connect() as conn:
        reads = conn.execute(text("SELECT count(*) FROM audit_log WHERE action = "
                                  "'read_contact'")).scalar()
    assert reads == (1 if want == 200 else 0)
    if want == 200:
        assert r.json()["phone"] == PHONE and r.json()["code"] == code
    staff = client.get(f"/incidents/{world['A']['incident']}/contact",
                       headers=make_user("dispatcher", COUNTY, username="d2"))
    assert staff.status_code == 404  # a staff report has no public contact
