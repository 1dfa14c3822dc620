"""Tile content is unchanged by the speed work of issue 19: every grid and incident tile of
a fixed district (zooms 12–16: clusters, dense zoomed-in clusters, single points, a many-
vertex grid that is simplified) decodes to the same features, attributes and geometry as
the tiles recorded before the change (tests/data/tile_content.json: per tile the number
of features, the points they account for, and a digest of the sorted decoded features).

Every timestamp of the fixture is fixed (overdue reasons do not move with the clock) and
ids are dense from 1 (the ``db`` fixture restarts identities), so the content is a pure
function of the code. Re-record only for an intended change of tile content:
``GRIDGIS_RECORD_TILES=1 pytest tests/test_tile_content.py``."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import mapbox_vector_tile
import pytest
from sqlalchemy import text

from gis.store.db import transaction
from layers_data import COMM_A, COMM_B, X0, X1, XM, Y0, Y1, add_admin, add_grids, \
    tiles_covering

RECORD = Path(__file__).with_name("data") / "tile_content.json"
ZOOMS = (12, 13, 14, 15, 16)
HOT = (120.105, 30.255)  # a hot spot dense enough that its zoom-14/15 tiles cluster
T = "/collections/{layer}/tiles/WebMercatorQuad/{z}/{x}/{y}"


def load(engine) -> None:
    """Admin units, the four box grids plus one round grid of 400 vertices, and 6,000
    incidents at fixed places and times (half spread by a low-discrepancy sequence, half
    around :data:`HOT`), statuses and categories in turn, half of them overdue."""
    with transaction(engine) as session:
        add_admin(session)
        add_grids(session)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO grids (code, kind, name, community_code, households, geom) VALUES "
            "(:code, 'exclusive', 'Round', :comm, 333, ST_Multi(ST_Buffer("
            "ST_SetSRID(ST_MakePoint(:x, :y), 4326), 0.004, 100)))"),
            dict(code=f"{COMM_A}0003", comm=COMM_A, x=X0 + 0.008, y=Y0 + 0.008))
        conn.execute(text("UPDATE grids SET valid_from = '2020-01-01 00:00Z'"))  # served
        conn.execute(text(
            "INSERT INTO incidents (category, subcategory, status, level, reported_at, due_at, "
            " closed_at, community_code, geom) "
            "SELECT (ARRAY['dispute','environment','safety_hazard','public_facility'])"
            "       [1 + n % 4], 's' || (n % 3), "
            "       (ARRAY['reported','dispatched','handling','closed'])[1 + n % 5 % 4], "
            "       'community', timestamptz '2020-01-01 00:00Z' + n * interval '1 minute', "
            "       CASE WHEN n % 2 = 0 THEN timestamptz '2020-02-01 00:00Z' "
            "            ELSE timestamptz '2999-01-01 00:00Z' END, "
            "       CASE WHEN n % 5 % 4 = 3 THEN timestamptz '2020-03-01 00:00Z' END, "
            "       CASE WHEN x < :xm THEN :a ELSE :b END, "
            "       ST_SetSRID(ST_MakePoint(x, y), 4326) "
            "FROM (SELECT n, CASE WHEN n <= 3000 THEN :x0 + (n * 0.6180339887) % 1 * :w "
            "                     ELSE :hx + 0.002 * sqrt((n % 997) / 997.0) * cos(n * 2.39996) "
            "                END AS x, "
            "             CASE WHEN n <= 3000 THEN :y0 + (n * 0.7548776662) % 1 * :h "
            "                  ELSE :hy + 0.002 * sqrt((n % 997) / 997.0) * sin(n * 2.39996) "
            "             END AS y "
            "      FROM generate_series(1, 6000) n) s"),
            dict(xm=XM, a=COMM_A, b=COMM_B, x0=X0, y0=Y0, w=X1 - X0, h=Y1 - Y0,
                 hx=HOT[0], hy=HOT[1]))


def tiles() -> list[tuple[int, int, int]]:
    bounds = (X0 - 0.001, Y0 - 0.001, X1 + 0.001, Y1 + 0.001)
    return [t for z in ZOOMS for t in tiles_covering(bounds, z)]


def summary(content: bytes, layer: str) -> dict:
    """Features, the points they stand for, and a digest of the sorted decoded features
    (id, properties, geometry in tile units): equal digests, equal content."""
    decoded = mapbox_vector_tile.decode(content) if content else {}
    feats = decoded.get(layer, {}).get("features", [])
    canon = sorted(json.dumps(f, sort_keys=True) for f in feats)
    return {"features": len(feats),
            "points": sum(int(f["properties"].get("count", 1)) for f in feats),
            "digest": hashlib.sha256("\n".join(canon).encode()).hexdigest()[:24]}


def served(client, headers) -> dict:
    out = {}
    for layer in ("grids", "incidents"):
        for z, x, y in tiles():
            r = client.get(T.format(layer=layer, z=z, x=x, y=y), headers=headers)
            assert r.status_code == 200, r.text
            out[f"{layer}/{z}/{x}/{y}"] = summary(r.content, layer)
    return out


@pytest.fixture
def district(db):
    load(db)
    return db


def test_tiles_decode_to_the_recorded_content(client, district, admin_headers):
    got = served(client, admin_headers)
    if os.environ.get("GRIDGIS_RECORD_TILES"):
        RECORD.parent.mkdir(exist_ok=True)
        RECORD.write_text(json.dumps(got, indent=0, sort_keys=True) + "\n")
    want = json.loads(RECORD.read_text())
    assert set(got) == set(want)
    changed = {k: (want[k], got[k]) for k in want if got[k] != want[k]}
    assert not changed, f"{len(changed)} tiles changed, e.g. {next(iter(changed.items()))}"
    # The fixture reaches every kind of tile: clusters, dense clusters, single points.
    assert any(v["points"] > v["features"] for k, v in got.items() if "/14/" in k)
    assert any(v["features"] > 100 and v["points"] == v["features"]
               for k, v in got.items() if k.startswith("incidents/16/"))


def test_every_incident_is_in_its_tiles(client, district, admin_headers):
    """Nothing dropped: every incident tile accounts for at least the incidents inside it
    (tiles drawn point by point also carry the points of a 64 px margin), and the
    clustered zooms account for each incident exactly once."""
    got = served(client, admin_headers)
    with district.connect() as conn:
        for key, v in got.items():
            layer, z, x, y = key.split("/")
            if layer != "incidents":
                continue
            inside = conn.execute(text(
                "SELECT count(*) FROM incidents WHERE ST_Intersects(geom, ST_Transform("
                "ST_TileEnvelope(:z, :x, :y), 4326))"), dict(z=int(z), x=int(x), y=int(y)))
            assert v["points"] >= inside.scalar(), key
    for z in (12, 13):
        assert sum(v["points"] for k, v in got.items()
                   if k.startswith(f"incidents/{z}/")) == 6000


def test_points_reach_web_mercator_exactly_as_st_transform_does(district):
    """Tile features of points use PROJ's spherical Mercator formula in SQL instead of
    ST_Transform (gis/store/tiles.py POINT_3857): the same coordinates, bit for bit."""
    from gis.store.tiles import POINT_3857

    with district.connect() as conn:
        differ = conn.execute(text(
            f"SELECT count(*) FROM incidents t WHERE ST_AsBinary({POINT_3857}) "
            "<> ST_AsBinary(ST_Transform(t.geom, 3857))")).scalar()
    assert differ == 0
