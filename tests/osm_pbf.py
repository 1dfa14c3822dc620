"""A minimal OpenStreetMap PBF writer for tests: tagged nodes only, written with the
protobuf wire format by hand (no dependency), read back by GDAL's OSM driver as real
extracts are (``points`` layer, tags without a column in ``other_tags``)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _zigzag(n: int) -> int:
    return (n << 1) ^ (n >> 63)


def _field(number: int, wire: int, payload: bytes | int) -> bytes:
    key = _varint((number << 3) | wire)
    if wire == 0:
        return key + _varint(payload)
    return key + _varint(len(payload)) + payload


def _blob(kind: str, data: bytes) -> bytes:
    blob = _field(2, 0, len(data)) + _field(3, 2, zlib.compress(data))
    header = _field(1, 2, kind.encode()) + _field(3, 0, len(blob))
    return struct.pack(">I", len(header)) + header + blob


def write_osm_pbf(path: str | Path, nodes: list[tuple[int, float, float, dict]]) -> Path:
    """``nodes``: (id, lon, lat, tags). Coordinates in units of 100 nanodegrees."""
    strings = [b""]
    index = {}

    def sid(text: str) -> int:
        if text not in index:
            index[text] = len(strings)
            strings.append(text.encode())
        return index[text]

    body = b""
    for nid, lon, lat, tags in nodes:
        keys = b"".join(_varint(sid(k)) for k in tags)
        vals = b"".join(_varint(sid(str(v))) for v in tags.values())
        node = (_field(1, 0, _zigzag(nid)) + _field(2, 2, keys) + _field(3, 2, vals)
                + _field(8, 0, _zigzag(round(lat * 1e7))) + _field(9, 0, _zigzag(round(lon * 1e7))))
        body += _field(1, 2, node)
    table = b"".join(_field(1, 2, s) for s in strings)
    block = _field(1, 2, table) + _field(2, 2, body)
    header = _field(4, 2, b"OsmSchema-V0.6")
    path = Path(path)
    path.write_bytes(_blob("OSMHeader", header) + _blob("OSMData", block))
    return path
