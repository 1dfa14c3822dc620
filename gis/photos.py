"""Photos sent by residents and clients: what the bytes really are (Pillow reads them; the
file name and the declared type are not trusted), within size limits, and where a photo
lives: under the data directory by the SHA-256 of its content, so the same photo sent
twice is stored once and a stored file is never overwritten with other bytes.

Examples
--------
>>> import io
>>> from PIL import Image
>>> buf = io.BytesIO(); Image.new("RGB", (4, 3), "red").save(buf, "PNG")
>>> sniff(buf.getvalue(), field="photo")
'png'
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path

from gis.errors import InputError

MAX_BYTES = 8 * 1024 * 1024           # a phone photo, generously
MAX_PIXELS = 40_000_000               # refuses decompression bombs before decoding
KINDS = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp"}
MEDIA_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


def sniff(data: bytes, *, field: str = "photo") -> str:
    """The photo's kind (``jpeg``, ``png`` or ``webp``) read from its content; an
    :class:`InputError` naming ``field`` for anything else, empty, too big or broken."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise InputError("the photo is empty", field=field)
    if len(data) > MAX_BYTES:
        raise InputError(f"the photo is larger than {MAX_BYTES // 2**20} MB", field=field)
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = KINDS.get(image.format or "")
            if kind is None:
                raise InputError(f"not a JPEG, PNG or WebP photo ({image.format})", field=field)
            if image.width * image.height > MAX_PIXELS:
                raise InputError("the photo has too many pixels", field=field)
            image.verify()
    except InputError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise InputError("not a readable JPEG, PNG or WebP photo", field=field) from None
    return kind


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def path_of(root: Path, sha256: str, kind: str) -> Path:
    """Where the photo with this content hash lives under ``root``."""
    return root / "attachments" / sha256[:2] / f"{sha256}.{kind}"


def store(root: Path, data: bytes, kind: str) -> str:
    """Write the photo by content hash (atomically; kept if already there); returns the
    hash. Written before the database row that points at it commits: a failed commit
    leaves an unreferenced file, never a row without its file."""
    sha = digest(data)
    target = path_of(root, sha, kind)
    if target.exists():
        return sha
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, target)
    return sha
