"""The cold tile path of issue 19 (api/tiles/warm.py): a tile never asked before is
checked and built in one statement for the caller the token named last time. These
tests change the caller between two requests of new tiles and check that the answer
follows the database, not the guess: a revoked token gets 401, a moved scope gets the
new scope's rows, a department account sees only its department's incidents."""

from __future__ import annotations

import mapbox_vector_tile
import pytest
from sqlalchemy import text

from gis.store.db import transaction
from gis.store.users import revoke
from layers_data import COMM_A, COMM_B, GRIDS, XM, YM, load_district, tile_of

T = "/collections/{layer}/tiles/WebMercatorQuad/{z}/{x}/{y}"


@pytest.fixture
def district(db):
    load_district(db, incidents=300)
    return db


def _url(layer: str, tile) -> str:
    return T.format(layer=layer, z=tile[0], x=tile[1], y=tile[2])


def _codes(response) -> set[str]:
    assert response.status_code == 200, response.text
    feats = mapbox_vector_tile.decode(response.content).get("grids", {}).get("features", [])
    return {f["properties"]["code"] for f in feats}


def _new_tiles(z: int):
    """Distinct tiles over the district at zoom ``z`` (each asked once: always cold)."""
    return iter(tile_of(XM + dx, YM + dy, z) for dx, dy in
                ((0, 0), (-0.01, 0), (0.01, 0), (0, -0.005), (0, 0.005)))


def test_a_token_revoked_between_two_new_tiles_is_refused(client, district, make_user, db):
    headers = make_user("viewer", scope_code=COMM_A, username="v1")
    tiles = _new_tiles(15)
    assert client.get(_url("grids", next(tiles)), headers=headers).status_code == 200
    assert client.get(_url("grids", next(tiles)), headers=headers).status_code == 200
    with transaction(db) as session:
        revoke(session, "v1")
    assert client.get(_url("grids", next(tiles)), headers=headers).status_code == 401


def test_a_scope_moved_between_two_new_tiles_is_followed(client, district, make_user, db):
    headers = make_user("dispatcher", scope_code=COMM_A, username="d1")
    west = {c for c in GRIDS if c.startswith(COMM_A)}
    assert _codes(client.get(_url("grids", tile_of(XM, YM, 13)), headers=headers)) == west
    with db.begin() as conn:
        conn.execute(text("UPDATE users SET scope_code = :s WHERE username = 'd1'"),
                     {"s": COMM_B})
    east = {c for c in GRIDS if c.startswith(COMM_B)}
    assert _codes(client.get(_url("grids", tile_of(XM, YM, 14)), headers=headers)) == east


def test_a_department_account_sees_only_its_incidents_in_tiles(client, district, db,
                                                                admin_headers):
    with db.begin() as conn:
        conn.execute(text("INSERT INTO departments (code, name, area_code) "
                          "VALUES ('D1', 'Housing', '330102000000')"))
        conn.execute(text("UPDATE incidents SET department_code = 'D1' WHERE id % 10 = 0"))
    from gis.store.users import add_user, issue_token

    with transaction(db) as session:
        token = issue_token(session, add_user(session, "dept1", "department",
                                              department_code="D1"))
    headers = {"Authorization": f"Bearer {token}"}
    for z in (12, 13):  # the department's first tile (two round trips), then one
        tile = tile_of(XM, YM, z)
        assert _points(client, headers, tile) == _inside(db, tile, "department_code = 'D1'")
        assert _points(client, admin_headers, tile) == _inside(db, tile, "true")
        assert 0 < _inside(db, tile, "department_code = 'D1'") < _inside(db, tile, "true")


def _points(client, headers, tile) -> int:
    r = client.get(_url("incidents", tile), headers=headers)
    assert r.status_code == 200, r.text
    feats = mapbox_vector_tile.decode(r.content)["incidents"]["features"]
    return sum(f["properties"]["count"] for f in feats)


def _inside(db, tile, condition: str) -> int:
    with db.connect() as conn:
        return conn.execute(text(
            f"SELECT count(*) FROM incidents WHERE {condition} AND ST_Intersects(geom, "
            "ST_Transform(ST_TileEnvelope(:z, :x, :y), 4326))"),
            dict(z=tile[0], x=tile[1], y=tile[2])).scalar()
