"""Photos attached to incidents: checked by content, cleaned of EXIF, stored by hash.

Pure apart from writing files under the data directory it is given (never read from the
settings). The rules, in the order an upload meets them:

1. size: at most ``Limits.max_bytes``; count: at most ``Limits.max_count`` per incident;
2. type by content (magic bytes), never by file name or declared type: JPEG, PNG, WebP, and
   HEIC/HEIF (phones' default) when ``pillow-heif`` is installed;
3. dimensions: at most ``Limits.max_pixels`` pixels, checked from the header before any
   pixel is decoded (a decompression bomb is a small file that decodes to gigabytes);
4. EXIF: at most ``Limits.max_exif_bytes`` and ``Limits.max_exif_entries`` (an EXIF bomb is
   a huge block or thousands of IFD entries); its GPS position, when present, is read and
   compared with the incident's position;
5. the whole image decodes (a truncated or malformed file is refused, not stored).

What is stored and served is a re-encoded copy without EXIF, XMP or text chunks (a phone
photo's EXIF carries the reporter's exact position, the device and the time), rotated as
the EXIF orientation said, plus a JPEG thumbnail. The original is not kept: the position
check is recorded as numbers, and the least personal data that works is kept. Files are
named by the SHA-256 of the uploaded bytes, so the same photo uploaded twice is stored once.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tarfile
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import pyproj
from PIL import Image, ImageOps

from gis.errors import InputError

# content type -> (Pillow format name, file extension of the served copy, served type)
FORMATS = {
    "image/jpeg": ("JPEG", "jpg", "image/jpeg"),
    "image/png": ("PNG", "png", "image/png"),
    "image/webp": ("WEBP", "webp", "image/webp"),
    "image/heic": ("HEIF", "jpg", "image/jpeg"),   # browsers do not show HEIC: serve JPEG
}
STEPS = ("report", "accept", "dispatch", "handle", "feedback", "verify", "close",
         "acknowledge")
_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"}
_GPS_IFD, _EXIF_IFD = 0x8825, 0x8769
_GEOD = pyproj.Geod(ellps="WGS84")


@dataclass(frozen=True)
class Limits:
    """What one upload may be. The defaults fit phone photos with room to spare."""

    max_bytes: int = 15 * 2**20
    max_count: int = 9                 # per incident, as the phone apps allow
    max_pixels: int = 50_000_000       # a 50-megapixel phone photo; Pillow's own is 89 M
    max_exif_bytes: int = 64 * 2**10   # a JPEG APP1 segment cannot hold more
    max_exif_entries: int = 500        # cameras write well under 200
    thumb_side: int = 320
    far_m: float = 200.0               # a photo taken further than this is flagged


@dataclass(frozen=True)
class Prepared:
    """A checked upload, ready to store: what the API answers and what goes to disk."""

    sha256: str
    content_type: str          # detected from the content
    bytes: int                 # size of the upload
    width: int
    height: int
    served: bytes              # re-encoded, without EXIF
    served_type: str
    thumbnail: bytes           # JPEG
    photo_lon: float | None = None   # EXIF GPS position, WGS 84
    photo_lat: float | None = None
    distance_m: float | None = None  # from the incident's position
    far: bool = False


def sniff(data: bytes) -> str | None:
    """The content type that the leading bytes of ``data`` declare, or None.

    >>> sniff(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(8))
    'image/png'
    >>> sniff(b"hello") is None
    True
    """
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp":
        brands = {data[8:12]} | {data[i:i + 4] for i in range(16, min(len(data), 64), 4)}
        if brands & _HEIC_BRANDS:
            return "image/heic"
    return None


def check_count(existing: int, limits: Limits = Limits()) -> None:
    """Refuse one more attachment when the incident already has ``limits.max_count``."""
    if existing >= limits.max_count:
        raise InputError(f"an incident holds at most {limits.max_count} attachments",
                         field="file")


def check_step(step: str | None) -> str | None:
    if step is not None and step not in STEPS:
        raise InputError(f"unknown step {step!r} (one of {', '.join(STEPS)})", field="step")
    return step


def _heif_available() -> bool:
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()   # idempotent: adds the HEIF format to Pillow
    return True


def _content_type(data: bytes, limits: Limits) -> str:
    if not data:
        raise InputError("the file is empty", field="file")
    if len(data) > limits.max_bytes:
        raise InputError(f"the file is {len(data):,} bytes; at most {limits.max_bytes:,} "
                         "are accepted", field="file")
    kind = sniff(data)
    if kind is None:
        raise InputError("not a JPEG, PNG, WebP or HEIC image (checked by content, not by "
                         "name)", field="file")
    if kind == "image/heic" and not _heif_available():
        raise InputError("HEIC images cannot be read on this server; send JPEG", field="file")
    return kind


def _open(data: bytes, kind: str, limits: Limits) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # our own limit below is checked with a clearer message than Pillow's warning
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[FORMATS[kind][0]])
    except Image.DecompressionBombError as err:
        raise InputError(f"the image has too many pixels to decode ({err})",
                         field="file") from None
    except Exception as err:  # Pillow raises many kinds on garbage headers
        raise InputError(f"malformed image: {err}", field="file") from None
    width, height = image.size
    if width * height > limits.max_pixels:
        raise InputError(f"the image is {width}×{height} pixels; at most "
                         f"{limits.max_pixels:,} pixels are accepted", field="file")
    return image


def _decode(image: Image.Image) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
    except Exception as err:
        raise InputError(f"malformed or truncated image: {err}", field="file") from None


def _exif(image: Image.Image, limits: Limits) -> Image.Exif | None:
    raw = image.info.get("exif")
    if not raw:
        return None
    if len(raw) > limits.max_exif_bytes:
        raise InputError(f"EXIF block of {len(raw):,} bytes; at most {limits.max_exif_bytes:,} "
                         "are accepted", field="file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # Pillow warns on odd tags and carries on
            exif = image.getexif()
            entries = len(exif) + len(exif.get_ifd(_EXIF_IFD)) + len(exif.get_ifd(_GPS_IFD))
    except Exception:
        return None   # unreadable EXIF: no position, and none of it is served anyway
    if entries > limits.max_exif_entries:
        raise InputError(f"EXIF with {entries:,} entries; at most {limits.max_exif_entries} "
                         "are accepted", field="file")
    return exif


def _degrees(value, ref, negative: bytes | str) -> float | None:
    try:
        d, m, s = (float(v) for v in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    ref = ref.decode(errors="ignore") if isinstance(ref, bytes) else str(ref or "")
    sign = -1.0 if ref.strip().upper() == negative else 1.0
    return sign * (d + m / 60.0 + s / 3600.0)


def gps_position(exif: Image.Exif | None) -> tuple[float, float] | None:
    """``(lon, lat)`` from EXIF's GPS block, or None when absent or out of range."""
    if exif is None:
        return None
    gps = exif.get_ifd(_GPS_IFD)
    if not gps or 2 not in gps or 4 not in gps:
        return None
    lat = _degrees(gps[2], gps.get(1), "S")
    lon = _degrees(gps[4], gps.get(3), "W")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lon, lat


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Geodesic distance in metres between two ``(lon, lat)`` points on WGS 84."""
    return float(_GEOD.inv(a[0], a[1], b[0], b[1])[2])


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _clean(image: Image.Image) -> Image.Image:
    """A copy rotated upright, keeping pixels and colour profile and nothing else."""
    upright = ImageOps.exif_transpose(image) or image.copy()
    keep = {k: upright.info[k] for k in ("icc_profile", "transparency") if k in upright.info}
    upright.info = keep
    return upright


def _flat(image: Image.Image) -> Image.Image:
    """RGB for JPEG: transparent areas on white."""
    if image.mode in ("RGBA", "LA", "P", "PA"):
        rgba = image.convert("RGBA")
        white = Image.new("RGB", rgba.size, (255, 255, 255))
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white
    return image if image.mode in ("RGB", "L") else image.convert("RGB")


def _served(image: Image.Image, kind: str) -> bytes:
    clean = _clean(image)
    icc = {"icc_profile": clean.info["icc_profile"]} if "icc_profile" in clean.info else {}
    fmt = FORMATS[kind][2]
    if fmt == "image/png":
        return _encode(clean, "PNG", optimize=False, **icc)
    if fmt == "image/webp":
        return _encode(clean, "WEBP", quality=90, **icc)
    return _encode(_flat(clean), "JPEG", quality=90, **icc)


def _thumbnail(image: Image.Image, side: int) -> bytes:
    small = _flat(_clean(image))
    small.thumbnail((side, side))
    return _encode(small, "JPEG", quality=80)


def prepare(data: bytes, *, limits: Limits = Limits(),
            incident_position: tuple[float, float] | None = None) -> Prepared:
    """Check an upload and make what is stored: the served copy and the thumbnail.

    Raises :class:`~gis.errors.InputError` on field ``file`` when the upload breaks a rule
    (see the module's docstring). ``incident_position`` is ``(lon, lat)`` in WGS 84.
    """
    kind = _content_type(data, limits)
    image = _open(data, kind, limits)
    exif = _exif(image, limits)
    _decode(image)
    position = gps_position(exif)
    dist = (distance_m(position, incident_position)
            if position is not None and incident_position is not None else None)
    return Prepared(
        sha256=hashlib.sha256(data).hexdigest(), content_type=kind, bytes=len(data),
        width=image.width, height=image.height, served=_served(image, kind),
        served_type=FORMATS[kind][2], thumbnail=_thumbnail(image, limits.thumb_side),
        photo_lon=position[0] if position else None, photo_lat=position[1] if position else None,
        distance_m=dist, far=dist is not None and dist > limits.far_m)


# -- files under the data directory ------------------------------------------------------

def stored_paths(sha256: str, served_type: str) -> tuple[str, str]:
    """Paths, relative to the data directory, of the served copy and the thumbnail."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise InputError(f"not a SHA-256 hex digest: {sha256!r}", field="sha256")
    ext = next(f[1] for f in FORMATS.values() if f[2] == served_type)
    folder = f"attachments/{sha256[:2]}/{sha256[2:4]}"
    return f"{folder}/{sha256}.{ext}", f"{folder}/{sha256}.thumb.jpg"


def _write_once(path: Path, content: bytes) -> None:
    """Write atomically (a reader never sees half a file); an existing file is the same
    content, since the name is its hash."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def store(data_dir: str | Path, prepared: Prepared) -> tuple[str, str]:
    """Write the served copy and the thumbnail under ``data_dir``; their relative paths."""
    served, thumb = stored_paths(prepared.sha256, prepared.served_type)
    root = Path(data_dir)
    _write_once(root / served, prepared.served)
    _write_once(root / thumb, prepared.thumbnail)
    return served, thumb


def open_stored(data_dir: str | Path, relative: str) -> Path:
    """The file at ``relative`` under ``data_dir``, refusing any path that leaves it."""
    root = Path(data_dir).resolve()
    path = (root / relative).resolve()
    if root not in path.parents:
        raise InputError(f"not an attachment path: {relative!r}", field="path")
    return path


# -- backup and restore -----------------------------------------------------------------
_STORED = re.compile(r"^attachments/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}\.(jpg|png|webp|thumb\.jpg)$")


def archive_path(backup: str | Path) -> Path:
    """The photo archive written beside a database backup ``backup``."""
    backup = Path(backup)
    return backup.with_name(backup.name + ".attachments.tar")


def archive(data_dir: str | Path, target: str | Path) -> int:
    """Write every stored photo under ``data_dir`` into the tar ``target`` (to a temporary
    name first); how many files. With no photos, no archive is written."""
    root = Path(data_dir)
    files = sorted(p for p in (root / "attachments").rglob("*")
                   if p.is_file() and _STORED.match(p.relative_to(root).as_posix()))
    if not files:
        return 0
    target = Path(target)
    partial = target.with_name(target.name + ".partial")
    with tarfile.open(partial, "w") as tar:
        for path in files:
            tar.add(path, arcname=path.relative_to(root).as_posix(), recursive=False)
    partial.replace(target)
    return len(files)


def unarchive(source: str | Path, data_dir: str | Path) -> int:
    """Put the photos of an archive back under ``data_dir``; how many files. Only regular
    files with stored-photo names are taken (a crafted archive cannot write elsewhere);
    files already there are kept (same name, same content)."""
    root = Path(data_dir)
    count = 0
    with tarfile.open(source, "r") as tar:
        members = tar.getmembers()
        bad = [m.name for m in members if not (m.isfile() and _STORED.match(m.name))]
        if bad:
            raise InputError(f"not a gridgis photo archive: {bad[0]!r}", file=str(source))
        for member in members:
            handle = tar.extractfile(member)
            _write_once(root / member.name, handle.read())
            count += 1
    return count
