"""OGC API – Features (Part 1 core + GeoJSON, Part 2 CRS) over the layer catalogue:
``/``, ``/conformance``, ``/collections``, ``/collections/{id}``, ``/collections/{id}/items``
(bbox, datetime, limit/offset with next links, property filters, crs) and
``/collections/{id}/items/{fid}``; ``?f=gpkg|fgb|parquet`` downloads the filtered layer.
QGIS and GDAL (the OAPIF driver) read these as they are."""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.background import BackgroundTask

from api.auth import CurrentUser
from api.deps import EngineDep
from api.layer_params import CRS84_URI, crs_list, layer_query, parse_crs, srid_uri
from gis.errors import InputError, NotFound
from gis.io import write_layer
from gis.services import layers as service
from gis.services.layers import LAYERS, Layer, get_layer

router = APIRouter(tags=["features"])

GEOJSON = "application/geo+json"
DOWNLOADS = {"gpkg": ("application/geopackage+sqlite3", ".gpkg"),
             "fgb": ("application/flatgeobuf", ".fgb"),
             "parquet": ("application/vnd.apache.parquet", ".parquet")}
ITEM_PARAMS = {"limit", "offset", "crs", "f", "v"}
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
]


def _link(href: str, rel: str, type_: str = "application/json", title: str | None = None):
    link = {"href": href, "rel": rel, "type": type_}
    return link | ({"title": title} if title else {})


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/", summary="Landing page (OGC API)")
def landing(request: Request, f: str | None = None):
    wants_html = f == "html" or (f is None and "text/html" in request.headers.get("accept", ""))
    if wants_html:
        return RedirectResponse("/map", status_code=303)
    base = _base(request)
    return {"title": "gridgis", "description": "Grid management layers (网格化管理): "
            "OGC API – Features and vector tiles.",
            "links": [_link(f"{base}/", "self"),
                      _link(f"{base}/openapi.json", "service-desc",
                            "application/vnd.oai.openapi+json;version=3.0"),
                      _link(f"{base}/docs", "service-doc", "text/html"),
                      _link(f"{base}/conformance", "conformance"),
                      _link(f"{base}/collections", "data"),
                      _link(f"{base}/map", "alternate", "text/html", "Dispatcher map")]}


@router.get("/conformance", summary="Conformance classes")
def conformance() -> dict:
    return {"conformsTo": CONFORMANCE}


def _layer(collection_id: str) -> Layer:
    layer = get_layer(collection_id)
    if layer is None:
        raise NotFound(f"no collection {collection_id!r} (see /collections)")
    return layer


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _collection(request: Request, layer: Layer, extent: dict, metric) -> dict:
    base, cid = _base(request), layer.id
    info = {"id": cid, "title": layer.title, "description": layer.description or layer.title,
            "itemType": "feature", "crs": crs_list(metric), "storageCrs": CRS84_URI,
            "extent": {"spatial": {"bbox": [extent["bbox"] or [-180, -90, 180, 90]],
                                   "crs": CRS84_URI}},
            "links": [_link(f"{base}/collections/{cid}", "self"),
                      _link(f"{base}/collections/{cid}/items", "items", GEOJSON),
                      _link(f"{base}/collections/{cid}/tiles/WebMercatorQuad/tilejson.json",
                            "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
                            title="TileJSON 3.0")]}
    for fmt, (mime, _) in DOWNLOADS.items():
        info["links"].append(_link(f"{base}/collections/{cid}/items?f={fmt}", "enclosure",
                                   mime, f"download as {fmt}"))
    if extent["interval"]:
        info["extent"]["temporal"] = {
            "interval": [[_iso(v) for v in extent["interval"]]],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    return info


@router.get("/collections", summary="The served layers")
def collections(request: Request, engine: EngineDep, principal: CurrentUser) -> dict:
    metric, extents = service.catalogue(engine, list(LAYERS.values()), principal)
    base = _base(request)
    return {"links": [_link(f"{base}/collections", "self")],
            "crs": crs_list(metric),
            "collections": [_collection(request, layer, extents[layer.id], metric)
                            for layer in LAYERS.values()]}


@router.get("/collections/{collection_id}", summary="One layer's description")
def collection(collection_id: str, request: Request, engine: EngineDep,
               principal: CurrentUser) -> dict:
    layer = _layer(collection_id)
    metric, extents = service.catalogue(engine, [layer], principal)
    return _collection(request, layer, extents[layer.id], metric)


def item_query(request: Request, layer: Layer, principal, metric: int | None):
    """Validate the query string of an items request (unknown parameters are errors)."""
    return layer_query(layer, request.query_params, principal, metric=metric,
                       reserved=ITEM_PARAMS)


def _page_links(request: Request, returned: int, matched: int, limit: int, offset: int):
    url = request.url
    links = [_link(str(url), "self", GEOJSON),
             _link(f"{_base(request)}/collections/{request.path_params['collection_id']}",
                   "collection")]
    if offset + returned < matched:
        links.append(_link(str(url.include_query_params(offset=offset + limit)), "next",
                           GEOJSON))
    if offset > 0:
        links.append(_link(str(url.include_query_params(offset=max(0, offset - limit))),
                           "prev", GEOJSON))
    return links


@router.get("/collections/{collection_id}/items", summary="Features of a layer",
            response_class=Response, responses={200: {"content": {GEOJSON: {}}}})
def items(collection_id: str, request: Request, engine: EngineDep, principal: CurrentUser,
          limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
          offset: Annotated[int, Query(ge=0)] = 0,
          bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy")] = None,
          datetime_: Annotated[str | None, Query(alias="datetime")] = None,
          crs: str | None = None, f: str | None = None):
    layer = _layer(collection_id)
    metric = service.metric_srid(engine)
    query = item_query(request, layer, principal, metric)
    out_srid = parse_crs(crs, metric, "crs")
    if f in DOWNLOADS:
        explicit = "limit" in request.query_params
        return _download(engine, layer, query, f, limit if explicit else None, out_srid)
    if f not in (None, "json", "geojson"):
        raise InputError(f"unknown format {f!r} (json, {', '.join(DOWNLOADS)})", field="f")
    features, matched = service.features_page(engine, layer, query, limit=limit,
                                              offset=offset, out_srid=out_srid)
    head = {"type": "FeatureCollection", "numberMatched": matched,
            "numberReturned": len(features),
            "timeStamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "links": _page_links(request, len(features), matched, limit, offset)}
    body = json.dumps(head)[:-1] + ', "features": [' + ",".join(features) + "]}"
    return Response(body, media_type=GEOJSON,
                    headers={"Content-Crs": f"<{srid_uri(out_srid)}>"})


def _download(engine, layer: Layer, query, fmt: str, limit: int | None,
              out_srid: int) -> FileResponse:
    gdf = service.layer_frame(engine, layer, query, limit=limit, out_srid=out_srid)
    mime, suffix = DOWNLOADS[fmt]
    tmpdir = Path(tempfile.mkdtemp(prefix="gridgis-download-"))
    path = write_layer(gdf, tmpdir / f"{layer.id}{suffix}", layer=layer.id)
    return FileResponse(path, media_type=mime, filename=path.name,
                        background=BackgroundTask(shutil.rmtree, tmpdir, True))


@router.get("/collections/{collection_id}/items/{fid}", summary="One feature",
            response_class=Response, responses={200: {"content": {GEOJSON: {}}}})
def item(collection_id: str, fid: str, request: Request, engine: EngineDep,
         principal: CurrentUser, crs: str | None = None):
    layer = _layer(collection_id)
    metric = service.metric_srid(engine) if crs else None
    out_srid = parse_crs(crs, metric, "crs")
    feature = json.loads(service.feature(engine, layer, fid, principal, out_srid=out_srid))
    base = _base(request)
    feature["links"] = [_link(str(request.url), "self", GEOJSON),
                        _link(f"{base}/collections/{layer.id}", "collection")]
    return Response(json.dumps(feature), media_type=GEOJSON,
                    headers={"Content-Crs": f"<{srid_uri(out_srid)}>"})
