"""Vector tiles from PostGIS: decoded with mapbox_vector_tile and checked against the
database: the expected features, counts that add up when points are clustered (nothing
dropped), filters and scope, ETag/Cache-Control, and a cache that sees new rows."""

from __future__ import annotations

import mapbox_vector_tile
import pytest
from sqlalchemy import text

from gis.store.db import transaction
from gis.store.users import revoke

from api.tiles import mvt as svc
from layers_data import COMM_A, COMM_B, GRIDS, X0, X1, XM, Y0, Y1, YM, load_district, overdue_ids, \
    tile_of, tiles_covering

DISTRICT = (X0, Y0, X1, Y1)
T = "/collections/{layer}/tiles/WebMercatorQuad/{z}/{x}/{y}"


@pytest.fixture
def district(db):
    load_district(db, incidents=300)
    return db


def _get(client, headers, layer, z, x, y, query=""):
    r = client.get(T.format(layer=layer, z=z, x=x, y=y) + query, headers=headers)
    assert r.status_code == 200, r.text
    return r


def _decode(content) -> dict:
    return mapbox_vector_tile.decode(content) if content else {}


def _features(client, headers, layer, tile, query="") -> list[dict]:
    layers = _decode(_get(client, headers, layer, *tile, query).content)
    return layers.get(layer, {}).get("features", [])


def _scalar(engine, sql: str):
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


def test_grid_tile_holds_the_grids_with_zoom_dependent_attributes(client, district,
                                                                  admin_headers):
    tile = tile_of(XM, YM, 14)
    feats = _features(client, admin_headers, "grids", tile)
    assert {f["properties"]["code"] for f in feats} == set(GRIDS)
    assert {f["geometry"]["type"] for f in feats} == {"Polygon"}
    assert "households" in feats[0]["properties"]
    low = _features(client, admin_headers, "grids", tile_of(XM, YM, 10))
    assert {f["properties"]["code"] for f in low} == set(GRIDS)
    assert "households" not in low[0]["properties"]  # attributes selected by zoom


def test_a_shape_that_misses_the_tile_is_not_drawn_in_it(client, district, admin_headers):
    """A triangular grid whose bounding box reaches a tile that its shape does not: the
    tile statement reads the row (its box overlaps), clipping leaves no geometry, and the
    tile must not carry it (with or without attributes)."""
    code = f"{COMM_B}0099"
    with district.begin() as conn:
        conn.execute(text(
            "INSERT INTO grids (code, community_code, households, geom) VALUES "
            "(:code, :comm, 400, ST_Multi(ST_GeomFromText("
            "'POLYGON((120.20 30.30, 120.24 30.30, 120.20 30.34, 120.20 30.30))', 4326)))"),
            {"code": code, "comm": COMM_B})
    far, near = tile_of(120.235, 30.335, 16), tile_of(120.205, 30.305, 16)
    assert _scalar(district, "SELECT bool_and(geom && ST_Transform(ST_TileEnvelope"
                             f"{far}, 4326)) FROM grids WHERE code = '{code}'")
    assert _features(client, admin_headers, "grids", far) == []
    assert [f["properties"]["code"] for f in
            _features(client, admin_headers, "grids", near)] == [code]


@pytest.mark.parametrize("z", [8, 11, 13])
def test_low_zoom_clusters_add_up_to_every_incident(client, district, admin_headers, z):
    total = open_ = overdue = 0
    for tile in tiles_covering(DISTRICT, z):
        for f in _features(client, admin_headers, "incidents", tile):
            assert f["properties"]["cluster"] is True
            total += f["properties"]["count"]
            open_ += f["properties"]["open"]
            overdue += f["properties"]["overdue"]
    assert total == 300
    assert open_ == _scalar(district, "SELECT count(*) FROM incidents WHERE status <> 'closed'")
    assert overdue == len(overdue_ids(district))  # the rule of gis.incidents, in Python


def test_zoomed_in_tiles_carry_every_point_once(client, district, admin_headers):
    seen = []
    for tile in tiles_covering(DISTRICT, 15):
        seen += [f["id"] for f in _features(client, admin_headers, "incidents", tile)]
    assert set(seen) == set(range(1, 301))


def test_a_dense_zoomed_in_tile_is_aggregated_not_cut(client, district, admin_headers):
    extra = svc.MAX_POINTS + 500
    with district.begin() as conn:  # a hot spot: many reports around one crossing
        conn.execute(text(
            "INSERT INTO incidents (category, status, reported_at, geom) "
            "SELECT 'dispute', 'reported', now(), ST_SetSRID(ST_MakePoint("
            "  120.111 + random() * 0.0004, 30.261 + random() * 0.0004), 4326) "
            "FROM generate_series(1, :n)"), {"n": extra})
    tile = tile_of(120.1112, 30.2612, 15)
    r = _get(client, admin_headers, "incidents", *tile)
    feats = _decode(r.content)["incidents"]["features"]
    assert all(f["properties"]["cluster"] for f in feats)
    in_tile = _scalar(district, "SELECT count(*) FROM incidents WHERE ST_Intersects(geom, "
                                f"ST_Transform(ST_TileEnvelope{tile}, 4326))")
    assert sum(f["properties"]["count"] for f in feats) == in_tile >= extra
    assert len(r.content) < 150_000


def test_filters_and_scope_apply_to_tiles(client, district, admin_headers, make_user):
    tile = tile_of(XM, YM, 15)
    closed = _features(client, admin_headers, "incidents", tile, "?status=closed")
    assert closed and {f["properties"]["status"] for f in closed} == {"closed"}
    west = make_user("dispatcher", scope_code=COMM_A)
    assert {f["properties"]["code"][:12] for f in
            _features(client, west, "grids", tile_of(XM, YM, 14))} == {COMM_A}
    ids = [f["id"] for t in tiles_covering(DISTRICT, 15)
           for f in _features(client, west, "incidents", t)]
    west_ids = _scalar(district, f"SELECT array_agg(id) FROM incidents "
                                 f"WHERE community_code = '{COMM_A}'")
    assert set(ids) == set(west_ids)
    r = client.get(T.format(layer="incidents", z=15, x=1, y=1) + "?colour=red",
                   headers=admin_headers)
    assert r.status_code == 422 and r.json()["field"] == "colour"
    assert client.get(T.format(layer="grids", z=3, x=9, y=0),
                      headers=admin_headers).status_code == 404


def test_etag_and_cache_control_by_layer_kind(client, district, admin_headers):
    tile = tile_of(XM, YM, 14)
    grids = _get(client, admin_headers, "grids", *tile)
    assert "max-age=3600" in grids.headers["cache-control"]
    live = _get(client, admin_headers, "incidents", *tile)
    assert "max-age=5" in live.headers["cache-control"]
    again = client.get(T.format(layer="grids", z=tile[0], x=tile[1], y=tile[2]),
                       headers=admin_headers | {"If-None-Match": grids.headers["etag"]})
    assert again.status_code == 304 and not again.content


def test_cache_serves_repeats_and_sees_new_rows(client, district, admin_headers):
    tile = tile_of(XM, YM, 15)
    first = _get(client, admin_headers, "incidents", *tile)
    warm = client.app.state.tile_responses.tiles  # the repeat is answered before FastAPI
    hits = warm.hits
    assert _get(client, admin_headers, "incidents", *tile).content == first.content
    assert warm.hits == hits + 1
    with district.begin() as conn:  # a new report, written by another connection
        new_id = conn.execute(text(
            "INSERT INTO incidents (category, status, reported_at, geom) VALUES "
            f"('dispute', 'reported', now(), ST_SetSRID(ST_MakePoint({XM}, {YM}), 4326)) "
            "RETURNING id")).scalar()
    after = _features(client, admin_headers, "incidents", tile)
    assert new_id in {f["id"] for f in after}
    versions = client.get("/tiles/versions?layers=incidents,grids", headers=admin_headers)
    assert set(versions.json()) == {"incidents", "grids"}


def test_multi_layer_tile_and_tilejson(client, district, admin_headers):
    z, x, y = tile_of(XM, YM, 15)
    r = client.get(f"/tiles/grids,incidents,roads/{z}/{x}/{y}?incidents.status=closed",
                   headers=admin_headers)
    layers = _decode(r.content)
    assert set(layers) == {"grids", "incidents", "roads"}
    assert {f["properties"]["status"] for f in layers["incidents"]["features"]} == {"closed"}
    tj = client.get("/collections/incidents/tiles/WebMercatorQuad/tilejson.json?status=closed",
                    headers=admin_headers).json()
    assert tj["tilejson"] == "3.0.0"
    assert tj["tiles"][0].endswith("/collections/incidents/tiles/WebMercatorQuad/"
                                   "{z}/{x}/{y}?status=closed")
    assert tj["vector_layers"][0]["id"] == "incidents"
    assert tj["vector_layers"][0]["fields"]["count"] == "Number"
    assert tj["bounds"] == pytest.approx(list(DISTRICT), abs=1e-3)


def _warm_hits(client) -> int:
    return client.app.state.tile_responses.tiles.hits


def test_a_warm_tile_is_never_served_to_another_scope(client, district, admin_headers,
                                                      make_user):
    tile = tile_of(XM, YM, 14)
    everything = _features(client, admin_headers, "grids", tile)
    assert _features(client, admin_headers, "grids", tile) == everything  # warm
    west = make_user("dispatcher", scope_code=COMM_A)
    hits = _warm_hits(client)
    codes = {f["properties"]["code"] for f in _features(client, west, "grids", tile)}
    assert codes == {c for c in GRIDS if c.startswith(COMM_A)}
    assert _warm_hits(client) == hits  # built for the west scope, not the admin's tile
    assert {f["properties"]["code"] for f in _features(client, west, "grids", tile)} == codes
    assert _warm_hits(client) == hits + 1
    assert len(_features(client, admin_headers, "grids", tile)) == len(GRIDS)


def test_warm_tiles_check_credentials_every_time(client, district, make_user, db):
    headers = make_user("viewer", scope_code=COMM_A, username="v1")
    url = T.format(layer="grids", z=14, x=tile_of(XM, YM, 14)[1], y=tile_of(XM, YM, 14)[2])
    assert client.get(url, headers=headers).status_code == 200
    assert client.get(url, headers=headers).status_code == 200  # warm
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"Authorization": "Bearer gg_forged"}).status_code == 401
    with transaction(db) as session:
        revoke(session, "v1")
    assert client.get(url, headers=headers).status_code == 401


def test_warm_path_answers_304_and_cookie_sessions(client, district, make_user):
    make_user("analyst", scope_code=COMM_A, username="ana", password="pw-ana-123")
    assert client.post("/auth/login", data={"username": "ana",
                                            "password": "pw-ana-123"}).status_code == 200
    tile = tile_of(XM, YM, 15)
    first = _get(client, {}, "incidents", *tile)  # the session cookie authenticates
    hits = _warm_hits(client)
    again = client.get(T.format(layer="incidents", z=tile[0], x=tile[1], y=tile[2]),
                       headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and not again.content
    assert again.headers["etag"] == first.headers["etag"]
    assert "max-age=5" in again.headers["cache-control"]
    assert _warm_hits(client) == hits + 1


def test_an_edited_grid_is_never_served_stale(client, district, admin_headers):
    tile = tile_of(XM, YM, 14)
    code = next(iter(GRIDS))
    for _ in range(2):  # built, then warm
        feats = _features(client, admin_headers, "grids", tile)
        assert {f["properties"]["households"] for f in feats
                if f["properties"]["code"] == code} != {9999}
    with district.begin() as conn:  # another connection, as another process would
        conn.execute(text("UPDATE grids SET households = 9999 WHERE code = :c"), {"c": code})
    feats = _features(client, admin_headers, "grids", tile)
    assert {f["properties"]["households"] for f in feats
            if f["properties"]["code"] == code} == {9999}


def test_moving_a_scope_boundary_refreshes_tiles_scoped_by_location(client, district,
                                                                    make_user):
    west = make_user("dispatcher", scope_code=COMM_A)

    def camera_codes():
        return {f["properties"]["code"] for t in tiles_covering(DISTRICT, 13)
                for f in _features(client, west, "cameras", t)}

    assert camera_codes() == camera_codes() == {"CAM-1"}  # built, then warm
    with district.begin() as conn:  # the west community now takes in the whole district
        conn.execute(text("UPDATE admin_units SET geom = ST_Multi(ST_MakeEnvelope("
                          ":a, :b, :c, :d, 4326)) WHERE code = :code"),
                     dict(a=X0, b=Y0, c=X1, d=Y1, code=COMM_A))
    assert camera_codes() == {"CAM-1", "CAM-2"}
