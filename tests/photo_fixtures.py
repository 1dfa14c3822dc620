"""Real generated images for the attachment tests: a gradient, with optional EXIF GPS and
other EXIF tags, in any format Pillow writes."""

from __future__ import annotations

import io

from PIL import Image


def _dms(value: float) -> tuple[float, float, float]:
    d = int(value)
    m = int((value - d) * 60)
    return float(d), float(m), round(((value - d) * 60 - m) * 60, 4)


def photo(fmt="JPEG", size=(640, 480), gps=None, exif_tags=None, mode="RGB", **save) -> bytes:
    """A real image with a gradient, optionally with EXIF GPS (lon, lat) and other tags."""
    image = Image.linear_gradient("L").resize(size).convert(mode)
    exif = Image.Exif()
    if gps is not None:
        lon, lat = gps
        exif[0x8825] = {1: "N" if lat >= 0 else "S", 2: _dms(abs(lat)),
                        3: "E" if lon >= 0 else "W", 4: _dms(abs(lon))}
    for tag, value in (exif_tags or {}).items():
        exif[tag] = value
    out = io.BytesIO()
    if len(exif):
        save["exif"] = exif.tobytes()
    image.save(out, format=fmt, **save)
    return out.getvalue()
