"""Photos over HTTP (issue 16): upload with multipart `file` and optional `step` → 201
{id, sha256, content_type, bytes}; the served copy and thumbnail without EXIF; type by
content; oversized, malformed and EXIF-bomb uploads refused with nothing stored; photos
follow the incident's scope (other areas and other departments get 404)."""

from __future__ import annotations

import hashlib
import io

import grid_fixtures as fx
import pytest
from PIL import Image
from photo_fixtures import photo
from sqlalchemy import text

from gis.services import accounts

LON, LAT = 113.005, fx.MID_LAT


@pytest.fixture
def dispatcher(make_user, grid_area):
    return make_user("dispatcher", fx.TOWN1, username="town1-dispatcher")


@pytest.fixture
def incident(client, dispatcher) -> int:
    resp = client.post("/incidents", headers=dispatcher, json={
        "lon": LON, "lat": LAT, "category": "public_facility", "subcategory": "road"})
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def upload(client, headers, incident_id, data, name="photo.jpg", kind="image/jpeg", **form):
    return client.post(f"/incidents/{incident_id}/attachments", headers=headers,
                       files={"file": (name, data, kind)}, data=form)


def stored_files(settings) -> list:
    root = settings.data_dir / "attachments"
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_upload_then_read_the_photo_and_thumbnail_without_exif(client, dispatcher, incident,
                                                               settings):
    data = photo(size=(1200, 900), gps=(LON + 0.0001, LAT), exif_tags={0x010F: "PhoneMaker"})
    resp = upload(client, dispatcher, incident, data, step="report")
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert {k: body[k] for k in ("sha256", "content_type", "bytes")} == {
        "sha256": hashlib.sha256(data).hexdigest(), "content_type": "image/jpeg",
        "bytes": len(data)}
    assert body["id"] >= 1 and body["step"] == "report" and body["far"] is False
    assert body["distance_m"] == pytest.approx(9.8, abs=0.5)
    served = client.get(f"/attachments/{body['id']}", headers=dispatcher)
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(served.content))
    assert image.size == (1200, 900) and len(image.getexif()) == 0
    assert b"PhoneMaker" not in served.content
    thumb = client.get(f"/attachments/{body['id']}/thumbnail", headers=dispatcher)
    assert thumb.status_code == 200 and Image.open(io.BytesIO(thumb.content)).size == (320, 240)
    sha = body["sha256"]
    assert stored_files(settings) == [f"{sha}.jpg", f"{sha}.thumb.jpg"]
    listed = client.get(f"/incidents/{incident}/attachments", headers=dispatcher).json()
    assert [a["id"] for a in listed["attachments"]] == [body["id"]]


def test_type_is_taken_from_the_content(client, dispatcher, incident):
    resp = upload(client, dispatcher, incident, photo("PNG"), name="photo.jpg")
    assert resp.status_code == 201 and resp.json()["content_type"] == "image/png"
    got = client.get(f"/attachments/{resp.json()['id']}", headers=dispatcher)
    assert got.headers["content-type"] == "image/png"


@pytest.mark.parametrize("make, words", [
    (lambda: b"#!/bin/sh\nrm -rf /\n", "by content"),
    (lambda: photo(size=(800, 600))[:3000], "truncated"),
    (lambda: photo(exif_tags={0xC000 + i: i for i in range(3000)}), "entries"),
    (lambda: photo("PNG", exif_tags={0x010E: "x" * 300_000}), "EXIF block"),
    (lambda: photo("PNG", size=(12_000, 12_000), mode="L"), "pixels"),
    (lambda: b"\xff\xd8\xff" + bytes(15 * 2**20), "larger than"),
    (lambda: b"", "empty"),
])
def test_bad_files_are_refused_and_nothing_is_stored(client, dispatcher, incident, settings,
                                                     make, words):
    resp = upload(client, dispatcher, incident, make())
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"] == "file" and words in resp.json()["detail"]
    assert client.get(f"/incidents/{incident}/attachments",
                      headers=dispatcher).json()["attachments"] == []
    assert stored_files(settings) == []


def test_a_heic_photo_is_accepted_and_served_as_jpeg(client, dispatcher, incident):
    import pillow_heif

    pillow_heif.register_heif_opener()
    resp = upload(client, dispatcher, incident, photo("HEIF"), name="IMG_0001.HEIC",
                  kind="image/heic")
    assert resp.status_code == 201 and resp.json()["content_type"] == "image/heic"
    served = client.get(f"/attachments/{resp.json()['id']}", headers=dispatcher)
    assert served.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(served.content)).format == "JPEG"


def test_far_photo_is_flagged(client, dispatcher, incident):
    resp = upload(client, dispatcher, incident, photo(gps=(LON + 0.02, LAT)))
    assert resp.status_code == 201 and resp.json()["far"] is True
    assert resp.json()["distance_m"] == pytest.approx(1963, abs=10)


def test_bad_step_and_count_limit(client, dispatcher, incident):
    bad = upload(client, dispatcher, incident, photo(), step="lunch")
    assert bad.status_code == 422 and bad.json()["field"] == "step"
    for i in range(9):
        assert upload(client, dispatcher, incident, photo(size=(64 + i, 48))).status_code == 201
    tenth = upload(client, dispatcher, incident, photo(size=(99, 48)))
    assert tenth.status_code == 422 and "at most 9" in tenth.json()["detail"]


def test_photos_follow_the_incident_scope(client, make_user, dispatcher, incident, db):
    first = upload(client, dispatcher, incident, photo()).json()["id"]
    other_town = make_user("dispatcher", fx.TOWN2, username="town2-dispatcher")
    viewer = make_user("viewer", fx.TOWN1, username="town1-viewer")
    for path in (f"/attachments/{first}", f"/attachments/{first}/thumbnail",
                 f"/incidents/{incident}/attachments"):
        assert client.get(path, headers=other_town).status_code == 404
        assert client.get(path, headers=viewer).status_code == 200
        assert client.get(path).status_code == 401
    assert upload(client, other_town, incident, photo()).status_code == 404
    assert upload(client, viewer, incident, photo()).status_code == 403
    assert upload(client, dispatcher, 999999, photo()).status_code == 404
    assert client.get("/attachments/999999", headers=dispatcher).status_code == 404
    # a department sees and adds photos only once the incident is routed to it
    with db.begin() as conn:
        conn.execute(text("INSERT INTO departments (code, name, area_code) VALUES "
                          "('zhujian', 'x', :c)"), {"c": fx.COUNTY})
    token = accounts.add_user(db, "zj", "department", department_code="zhujian")["token"]
    dept = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/attachments/{first}", headers=dept).status_code == 404
    assert upload(client, dept, incident, photo()).status_code == 404
    with db.begin() as conn:
        conn.execute(text("UPDATE incidents SET department_code = 'zhujian' WHERE id = :i"),
                     {"i": incident})
    assert client.get(f"/attachments/{first}", headers=dept).status_code == 200
    assert upload(client, dept, incident, photo(), step="feedback").status_code == 201


def test_backup_and_restore_bring_photos_back(client, dispatcher, incident, settings, db,
                                              tmp_path):
    import os
    import shutil
    import subprocess
    import sys

    first = upload(client, dispatcher, incident, photo(gps=(LON, LAT))).json()
    env = {**os.environ, "GRIDGIS_DATABASE_URL": settings.database_url,
           "GRIDGIS_DATA_DIR": str(settings.data_dir)}
    dump = tmp_path / "gridgis.dump"

    def gridgis(*args):
        out = subprocess.run([sys.executable, "-m", "gis.cli", *args], env=env,
                             capture_output=True, text=True, timeout=180)
        assert out.returncode == 0, out.stderr
    gridgis("backup", str(dump))
    assert (tmp_path / "gridgis.dump.attachments.tar").stat().st_size > 0
    with db.begin() as conn:
        conn.execute(text("DELETE FROM attachments"))
    shutil.rmtree(settings.data_dir / "attachments")
    assert client.get(f"/attachments/{first['id']}", headers=dispatcher).status_code == 404
    gridgis("restore", str(dump))
    served = client.get(f"/attachments/{first['id']}", headers=dispatcher)
    assert served.status_code == 200 and Image.open(io.BytesIO(served.content)).size == (640, 480)
    assert client.get(f"/attachments/{first['id']}/thumbnail",
                      headers=dispatcher).status_code == 200
