"""OGC API – Features over the layer catalogue, through real HTTP against PostGIS, and
read by GDAL's OAPIF driver (what QGIS uses) from a real uvicorn server."""

from __future__ import annotations


import geopandas as gpd
import pyogrio
import pytest
from pyproj import Transformer
from sqlalchemy import text

from gis.store.layers_catalog import LAYERS
from layers_data import COMM_A, COMM_B, GRIDS, XM, live_server, load_district, overdue_ids

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GK120 = "http://www.opengis.net/def/crs/EPSG/0/4549"  # CGCS2000 GK zone, CM 120°E


@pytest.fixture
def district(db):
    load_district(db, incidents=60)
    return db


def _ids(fc) -> list[int]:
    return [f["id"] for f in fc["features"]]


def test_landing_and_conformance_are_ogc_documents(client):
    landing = client.get("/").json()
    rels = {link["rel"]: link["href"] for link in landing["links"]}
    assert rels["data"].endswith("/collections")
    assert rels["conformance"].endswith("/conformance")
    classes = client.get("/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in classes


def test_collections_describe_every_layer_with_extent_and_crs(client, district, admin_headers):
    body = client.get("/collections", headers=admin_headers).json()
    assert {c["id"] for c in body["collections"]} == set(LAYERS)
    grids = client.get("/collections/grids", headers=admin_headers).json()
    assert grids["crs"] == [CRS84, GK120] and grids["storageCrs"] == CRS84
    assert grids["extent"]["spatial"]["bbox"][0] == pytest.approx([120.10, 30.25, 120.14, 30.27])
    rels = {link["rel"] for link in grids["links"]}
    assert {"items", "enclosure"} <= rels
    assert client.get("/collections/nope", headers=admin_headers).status_code == 404
    assert client.get("/collections").status_code == 401


def test_paging_follows_next_links_through_every_feature(client, district, admin_headers):
    url, seen = "/collections/incidents/items?limit=25", []
    while url:
        page = client.get(url, headers=admin_headers)
        assert page.headers["content-type"].startswith("application/geo+json")
        fc = page.json()
        assert fc["numberMatched"] == 60 and fc["numberReturned"] == len(fc["features"])
        seen += _ids(fc)
        url = next((lk["href"] for lk in fc["links"] if lk["rel"] == "next"), None)
    assert sorted(seen) == list(range(1, 61))


def test_property_bbox_and_datetime_filters(client, district, admin_headers):
    with district.connect() as conn:
        closed = conn.execute(text(
            "SELECT count(*) FROM incidents WHERE status = 'closed'")).scalar()
        west = conn.execute(text(
            f"SELECT count(*) FROM incidents WHERE ST_X(geom) < {XM}")).scalar()
    fc = client.get("/collections/incidents/items?status=closed&limit=100",
                    headers=admin_headers).json()
    assert fc["numberMatched"] == closed == len(fc["features"])
    assert {f["properties"]["status"] for f in fc["features"]} == {"closed"}
    fc = client.get(f"/collections/incidents/items?bbox=120.0,30.0,{XM - 1e-9},31&limit=100",
                    headers=admin_headers).json()
    assert fc["numberMatched"] == west
    assert all(f["geometry"]["coordinates"][0] < XM for f in fc["features"])
    fc = client.get("/collections/incidents/items?overdue=true&status=reported,dispatched"
                    "&limit=100", headers=admin_headers).json()
    overdue = overdue_ids(district, {"reported", "dispatched"})  # the rule, in Python
    assert fc["numberMatched"] == len(overdue) > 0
    assert {f["id"] for f in fc["features"]} == overdue
    assert all(f["properties"]["overdue"] in ("not closed in time", "not accepted in time")
               for f in fc["features"])
    fc = client.get("/collections/incidents/items?datetime=2000-01-01T00:00:00Z/2001-01-01",
                    headers=admin_headers).json()
    assert fc["numberMatched"] == 0


def test_metric_crs_output_follows_the_crs_axis_order(client, district, admin_headers):
    code = f"{COMM_A}0001"
    r = client.get(f"/collections/grids/items?code={code}&crs={GK120}", headers=admin_headers)
    assert r.headers["content-crs"] == f"<{GK120}>"
    ring = r.json()["features"][0]["geometry"]["coordinates"][0][0]
    to_gk = Transformer.from_crs("EPSG:4326", "EPSG:4549")  # authority order: lat,lon -> N,E
    minx, miny, maxx, maxy = GRIDS[code]
    expected = {tuple(round(v, 1) for v in to_gk.transform(lat, lon))
                for lon, lat in [(minx, miny), (maxx, maxy)]}
    got = {tuple(round(v, 1) for v in xy) for xy in ring}
    assert expected <= got
    assert 3_000_000 < ring[0][0] < 4_000_000  # northing first


def test_scope_hides_other_communities_as_not_found(client, district, make_user):
    headers = make_user("dispatcher", scope_code=COMM_A)
    fc = client.get("/collections/incidents/items?limit=100", headers=headers).json()
    assert fc["numberMatched"] > 0
    assert {f["properties"]["community_code"] for f in fc["features"]} == {COMM_A}
    grids = client.get("/collections/grids/items", headers=headers).json()
    assert {f["properties"]["code"][:12] for f in grids["features"]} == {COMM_A}
    with district.connect() as conn:
        other = conn.execute(text("SELECT id FROM grids WHERE community_code = :c LIMIT 1"),
                             {"c": COMM_B}).scalar()
    assert client.get(f"/collections/grids/items/{other}", headers=headers).status_code == 404


@pytest.mark.parametrize("query, field", [("colour=red", "colour"), ("bbox=1,2,3", "bbox"),
                                          ("datetime=yesterday", "datetime"),
                                          ("overdue=maybe", "overdue"),
                                          ("crs=EPSG:3857", "crs")])
def test_bad_parameters_are_422_naming_the_field(client, district, admin_headers, query, field):
    r = client.get(f"/collections/incidents/items?{query}", headers=admin_headers)
    assert r.status_code == 422 and r.json()["field"] == field


@pytest.mark.parametrize("fmt", ["gpkg", "fgb", "parquet"])
def test_downloads_of_a_filtered_layer(client, district, admin_headers, tmp_path, fmt):
    r = client.get(f"/collections/incidents/items?f={fmt}&status=closed", headers=admin_headers)
    assert r.status_code == 200
    path = tmp_path / f"closed.{fmt}"
    path.write_bytes(r.content)
    gdf = gpd.read_parquet(path) if fmt == "parquet" else gpd.read_file(path)
    with district.connect() as conn:
        ids = set(conn.execute(text("SELECT id FROM incidents WHERE status = 'closed'")).scalars())
    assert set(gdf["id"]) == ids and set(gdf["status"]) == {"closed"}
    assert gdf.crs.to_epsg() == 4326 and gdf.geometry.geom_type.eq("Point").all()


def test_gdal_oapif_driver_reads_the_same_features_as_the_database(district, pg_url,
                                                                   admin_headers, tmp_path):
    header_file = tmp_path / "headers.txt"  # how GDAL/QGIS send a token
    header_file.write_text(f"Authorization: {admin_headers['Authorization']}\n")
    pyogrio.set_gdal_config_options({"GDAL_HTTP_HEADER_FILE": str(header_file)})
    try:
        with live_server(pg_url, tmp_path) as base:
            layers = dict(pyogrio.list_layers(f"OAPIF:{base}"))
            grids = pyogrio.read_dataframe(f"OAPIF:{base}/collections/grids")
            incidents = pyogrio.read_dataframe(f"OAPIF:{base}/collections/incidents",
                                               fid_as_index=True)
    finally:
        pyogrio.set_gdal_config_options({"GDAL_HTTP_HEADER_FILE": None})
    assert set(layers) == set(LAYERS)
    db_grids = gpd.read_postgis("SELECT code, households, geom FROM grids", district)
    merged = grids.merge(db_grids, on="code", suffixes=("", "_db"))
    assert len(merged) == len(db_grids) == 4
    assert (merged["households"] == merged["households_db"]).all()
    stored = gpd.GeoSeries(merged["geom"].array.to_numpy(), crs=grids.crs)
    assert merged.geometry.geom_equals_exact(stored, 1e-7).all()
    db_inc = gpd.read_postgis("SELECT id, status, geom FROM incidents ORDER BY id", district)
    assert sorted(incidents.index) == db_inc["id"].tolist()
    assert incidents.loc[db_inc["id"], "status"].tolist() == db_inc["status"].tolist()
