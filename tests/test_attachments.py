"""Attachments on real generated images: type by content, size, dimension and EXIF limits,
truncated files, the EXIF position compared with the incident's, EXIF gone from what is
served, thumbnails, and storage by content hash under the data directory."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from gis.attachments import (Limits, check_count, check_step, distance_m, open_stored,
                             prepare, sniff, store, stored_paths)
from gis.errors import InputError
from photo_fixtures import photo

INCIDENT = (113.0800, 28.2500)   # lon, lat


def refused(data: bytes, limits: Limits = Limits(), match: str = "") -> str:
    with pytest.raises(InputError, match=match) as err:
        prepare(data, limits=limits, incident_position=INCIDENT)
    assert err.value.field == "file"
    return str(err.value)


@pytest.mark.parametrize("fmt, kind", [("JPEG", "image/jpeg"), ("PNG", "image/png"),
                                       ("WEBP", "image/webp")])
def test_each_accepted_format_is_recognised_by_content(fmt, kind):
    data = photo(fmt)
    got = prepare(data)
    assert got.content_type == kind == sniff(data)
    assert (got.width, got.height, got.bytes) == (640, 480, len(data))
    assert got.sha256 == hashlib.sha256(data).hexdigest()
    served = Image.open(io.BytesIO(got.served))
    assert served.size == (640, 480) and served.format == fmt


def test_heic_is_read_and_served_as_jpeg():
    import pillow_heif   # a runtime dependency: a missing one is a failure, not a skip
    pillow_heif.register_heif_opener()
    got = prepare(photo("HEIF"))
    assert got.content_type == "image/heic" and got.served_type == "image/jpeg"
    assert Image.open(io.BytesIO(got.served)).format == "JPEG"


def test_a_png_named_jpg_is_a_png_and_text_named_jpg_is_refused(tmp_path):
    # the name plays no part: prepare() sees only the bytes, as the API passes them
    assert prepare(photo("PNG")).content_type == "image/png"
    message = refused(b"GIF89a or a shell script named photo.jpg\n", match="by content")
    assert "JPEG, PNG, WebP" in message
    refused(photo("GIF"), match="not a JPEG")
    refused(b"", match="empty")


def test_an_oversized_file_is_refused_before_decoding():
    data = photo(size=(800, 600))
    message = refused(data, Limits(max_bytes=len(data) - 1), match="bytes")
    assert f"{len(data):,}" in message


def test_too_many_pixels_is_refused_from_the_header():
    # a small PNG of one colour that would decode to 12,000 x 12,000 pixels (432 MB RGB)
    bomb = photo("PNG", size=(12_000, 12_000), mode="L", optimize=True)
    assert len(bomb) < 1_000_000
    refused(bomb, match="12000×12000 pixels")
    refused(photo(size=(400, 300)), Limits(max_pixels=100_000), match="400×300")


def test_a_truncated_jpeg_is_refused():
    data = photo(size=(800, 600))
    refused(data[: len(data) // 2], match="truncated")


def test_a_malformed_jpeg_header_is_refused():
    refused(b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(200), match="malformed")


def test_an_exif_bomb_of_many_entries_is_refused():
    tags = {0xC000 + i: i for i in range(3000)}       # 3,000 IFD entries in 36 kB
    refused(photo(exif_tags=tags), match="3,00[0-9] entries")


def test_a_huge_exif_block_is_refused():
    data = photo("PNG", exif_tags={0x010E: "x" * 300_000})   # PNG eXIf has no 64 kB cap
    refused(data, match="EXIF block of 3")


def test_gps_far_from_the_incident_is_flagged_near_is_not():
    near = prepare(photo(gps=(113.0801, 28.2501)), incident_position=INCIDENT)
    assert near.photo_lon == pytest.approx(113.0801, abs=1e-6)
    assert near.distance_m == pytest.approx(14.6, abs=0.5) and not near.far
    far = prepare(photo(gps=(113.0900, 28.2500)), incident_position=INCIDENT)
    assert far.distance_m == pytest.approx(978, abs=5) and far.far
    stricter = prepare(photo(gps=(113.0801, 28.2501)), incident_position=INCIDENT,
                       limits=Limits(far_m=10))
    assert stricter.far
    southwest = prepare(photo(gps=(-70.5, -33.25)))
    assert (southwest.photo_lon, southwest.photo_lat) == pytest.approx((-70.5, -33.25), abs=1e-6)


def test_no_gps_means_no_position_and_no_flag():
    got = prepare(photo(), incident_position=INCIDENT)
    assert got.photo_lon is None and got.distance_m is None and not got.far


def test_exif_is_absent_from_the_served_copy_and_the_thumbnail():
    data = photo(gps=(113.0801, 28.2501), exif_tags={0x010F: "PhoneMaker", 0x0110: "Model X"})
    assert b"PhoneMaker" in data and Image.open(io.BytesIO(data)).getexif()
    got = prepare(data)
    for copy in (got.served, got.thumbnail):
        image = Image.open(io.BytesIO(copy))
        assert "exif" not in image.info and len(image.getexif()) == 0
        assert b"PhoneMaker" not in copy and b"Exif\x00\x00" not in copy


def test_exif_orientation_is_applied_before_it_is_dropped():
    rotated = photo(size=(640, 480), exif_tags={0x0112: 6})   # 6: rotate 90° clockwise
    served = Image.open(io.BytesIO(prepare(rotated).served))
    assert served.size == (480, 640)


def test_thumbnail_fits_the_side_and_keeps_the_shape():
    got = prepare(photo("PNG", size=(1200, 600), mode="RGBA"), limits=Limits(thumb_side=300))
    thumb = Image.open(io.BytesIO(got.thumbnail))
    assert thumb.format == "JPEG" and thumb.size == (300, 150)


def test_count_limit_and_step_names():
    check_count(8)
    with pytest.raises(InputError, match="at most 9"):
        check_count(9)
    assert check_step("handle") == "handle" and check_step(None) is None
    with pytest.raises(InputError) as err:
        check_step("lunch")
    assert err.value.field == "step"


def test_stored_by_hash_once_under_the_given_directory(tmp_path):
    got = prepare(photo())
    served, thumb = store(tmp_path, got)
    assert served == f"attachments/{got.sha256[:2]}/{got.sha256[2:4]}/{got.sha256}.jpg"
    assert (tmp_path / served).read_bytes() == got.served
    assert (tmp_path / thumb).read_bytes() == got.thumbnail
    assert store(tmp_path, got) == (served, thumb)        # the same photo again: same files
    assert sorted(p.name for p in (tmp_path / served).parent.iterdir()) == sorted(
        [f"{got.sha256}.jpg", f"{got.sha256}.thumb.jpg"])   # no temporary file left behind
    assert open_stored(tmp_path, served) == (tmp_path / served).resolve()
    with pytest.raises(InputError):
        open_stored(tmp_path, "../../etc/passwd")
    with pytest.raises(InputError):
        stored_paths("../x", "image/jpeg")


def test_distance_is_geodesic_metres():
    # one degree of latitude is about 110.9 km at 28°N
    assert distance_m((113.0, 28.0), (113.0, 29.0)) == pytest.approx(110_860, rel=1e-3)


def test_photo_archive_round_trip_and_a_crafted_archive_is_refused(tmp_path):
    import tarfile

    from gis.attachments import archive, unarchive

    got = prepare(photo())
    store(tmp_path / "a", got)
    (tmp_path / "a" / "attachments" / "stray.txt").write_text("not a photo")
    assert archive(tmp_path / "a", tmp_path / "p.tar") == 2          # the stray file stays out
    assert unarchive(tmp_path / "p.tar", tmp_path / "b") == 2
    served, thumb = stored_paths(got.sha256, got.served_type)
    assert (tmp_path / "b" / served).read_bytes() == got.served
    assert archive(tmp_path / "empty", tmp_path / "none.tar") == 0
    assert not (tmp_path / "none.tar").exists()
    evil = tmp_path / "evil.tar"
    (tmp_path / "x").write_text("x")
    with tarfile.open(evil, "w") as tar:
        tar.add(tmp_path / "x", arcname="../../etc/cron.d/x")
    with pytest.raises(InputError, match="not a gridgis photo archive"):
        unarchive(evil, tmp_path / "c")
    assert not (tmp_path / "c").exists()
