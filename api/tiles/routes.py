"""Vector tiles (OGC API – Tiles paths, as TiPg serves them):
``/collections/{id}/tiles/WebMercatorQuad/{z}/{x}/{y}``, TileJSON 3.0 next to it, the
multi-layer tile ``/tiles/{a},{b}/{z}/{x}/{y}`` for the web pages, and
``/tiles/versions`` (the change counters the pages poll to refresh live layers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.tiles import mvt as svc
from api.auth import CurrentUser
from api.tiles.warm import COUNTERS, WarmTileRoute, responses_of, tile_cache_of, viewer
from api.deps import EngineDep
from api.layer_params import layer_query, prefixed_queries
from gis.errors import InputError, NotFound
from gis.services import layers as service
from gis.services.layers import Layer, get_layer

router = APIRouter(tags=["tiles"])

TMS = "WebMercatorQuad"
TILE_PARAMS = frozenset({"v", "f"})  # v: a cache-busting version the pages add
FIELD_TYPES = {"int": "Number", "float": "Number", "bool": "Boolean"}


def _layer(layer_id: str) -> Layer:
    layer = get_layer(layer_id)
    if layer is None:
        raise NotFound(f"no collection {layer_id!r} (see /collections)")
    return layer


def _tile_xyz(z: int, x: int, y: str) -> tuple[int, int, int]:
    y = y.removesuffix(".pbf").removesuffix(".mvt")
    if not y.isdigit():
        raise NotFound(f"no tile row {y!r}")
    y_ = int(y)
    if not 0 <= z <= svc.MAX_ZOOM or not (0 <= x < 2 ** z and 0 <= y_ < 2 ** z):
        raise NotFound(f"tile {z}/{x}/{y_} is outside the {TMS} tile matrix set")
    return z, x, y_


def _cache(request: Request) -> svc.TileCache:
    return tile_cache_of(request.app)


def _respond(request: Request, principal, tile: svc.Tile) -> Response:
    responses_of(request.app).remember(request.scope, viewer(principal), tile)
    headers = svc.tile_headers(tile)
    if request.headers.get("if-none-match") == tile.etag:
        return Response(status_code=304, headers=headers)
    return Response(tile.data, media_type=svc.MVT, headers=headers)


def _tile_route(path: str, summary: str, tile_request):
    """Register a tile endpoint; its route answers warm and cold tiles before dependencies
    run (api/tiles/warm.py; ``tile_request(scope, principal)`` gives the layers with their
    queries and z, x, y by the endpoint's own rules) and calls the endpoint for anything
    else (errors included)."""
    def register(endpoint):
        endpoint.tile_request = tile_request
        router.add_api_route(path, endpoint, methods=["GET"], summary=summary,
                             response_class=Response,
                             responses={200: {"content": {svc.MVT: {}}}},
                             route_class_override=WarmTileRoute)
        return endpoint
    return register


def _path_xyz(params: dict) -> tuple[int, int, int]:
    z, x = (_digits(params[k]) for k in ("z", "x"))
    return _tile_xyz(z, x, str(params["y"]))


def _digits(value) -> int:
    if isinstance(value, int):
        return value
    if not value.isdigit():
        raise ValueError(value)  # the endpoint answers with the exact problem (422)
    return int(value)


def _collection_request(scope, principal):
    params = scope["path_params"]
    layer = _layer(params["collection_id"])
    z, x, y = _path_xyz(params)
    query = layer_query(layer, Request(scope).query_params, principal, reserved=TILE_PARAMS)
    return [(layer, query)], z, x, y


def _multi_request(scope, principal):
    params = scope["path_params"]
    chosen = _layers(params["layers"])
    z, x, y = _path_xyz(params)
    return prefixed_queries(chosen, Request(scope).query_params, principal,
                            reserved=TILE_PARAMS), z, x, y


@_tile_route(f"/collections/{{collection_id}}/tiles/{TMS}/{{z}}/{{x}}/{{y}}",
             "A vector tile of one layer", _collection_request)
def collection_tile(collection_id: str, z: int, x: int, y: str, request: Request,
                    engine: EngineDep, principal: CurrentUser):
    layer = _layer(collection_id)
    z, x, y_ = _tile_xyz(z, x, y)
    query = layer_query(layer, request.query_params, principal, reserved=TILE_PARAMS)
    tile = svc.get_tile(engine, _cache(request), [(layer, query)], z, x, y_,
                        request.scope.get(COUNTERS))
    return _respond(request, principal, tile)


def _layers(spec: str) -> list[Layer]:
    ids = [s for s in spec.split(",") if s]
    if not ids or len(set(ids)) != len(ids):
        raise InputError("layers must be distinct collection ids separated by commas",
                         field="layers")
    return [_layer(i) for i in ids]


@router.get("/tiles/versions", summary="Change counters of layers (poll to refresh)")
def versions(engine: EngineDep, principal: CurrentUser,
             layers: Annotated[str, Query(description="comma-separated ids")]) -> dict:
    result = {}
    for layer in _layers(layers):
        if principal.scope_code:  # no county-wide activity for scoped callers
            result[layer.id] = service.scoped_version(engine, layer, principal)
            continue
        result[layer.id] = ".".join(str(v) for v in service.change_counters(
            engine, layer.watched_tables))
    return result


@_tile_route("/tiles/{layers}/{z}/{x}/{y}", "A tile holding several layers", _multi_request)
def multi_tile(layers: str, z: int, x: int, y: str, request: Request, engine: EngineDep,
               principal: CurrentUser):
    chosen = _layers(layers)
    z, x, y_ = _tile_xyz(z, x, y)
    queries = prefixed_queries(chosen, request.query_params, principal, reserved=TILE_PARAMS)
    tile = svc.get_tile(engine, _cache(request), queries, z, x, y_,
                        request.scope.get(COUNTERS))
    return _respond(request, principal, tile)


def _fields(layer: Layer) -> dict[str, str]:
    fields = {p.name: FIELD_TYPES.get(p.kind, "String") for p in layer.props}
    if layer.cluster_below is not None:
        fields |= {"count": "Number", "cluster": "Boolean"}
        fields |= {name: "Number" for name, _ in layer.cluster_counts}
    return fields


def _vector_layer(layer: Layer) -> dict:
    return {"id": layer.id, "fields": _fields(layer), "minzoom": layer.minzoom,
            "maxzoom": svc.MAX_ZOOM, "description": layer.description or layer.title}


def _tilejson(request: Request, engine, layers: list[Layer], path: str, principal) -> dict:
    query = request.url.query
    url = f"{str(request.base_url).rstrip('/')}{path}/{{z}}/{{x}}/{{y}}"
    extents = service.extent(engine, layers, principal)
    boxes = [b for b in extents if b] or [[-180.0, -85.0511, 180.0, 85.0511]]
    bounds = [min(b[0] for b in boxes), min(b[1] for b in boxes),
              max(b[2] for b in boxes), max(b[3] for b in boxes)]
    minzoom = min(layer.minzoom for layer in layers)
    return {"tilejson": "3.0.0", "name": ",".join(layer.id for layer in layers),
            "tiles": [url + (f"?{query}" if query else "")], "scheme": "xyz",
            "minzoom": minzoom, "maxzoom": svc.MAX_ZOOM, "bounds": bounds,
            "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2,
                       max(minzoom, 12)],
            "vector_layers": [_vector_layer(layer) for layer in layers]}


@router.get(f"/collections/{{collection_id}}/tiles/{TMS}/tilejson.json",
            summary="TileJSON 3.0 of one layer")
def collection_tilejson(collection_id: str, request: Request, engine: EngineDep,
                        principal: CurrentUser) -> dict:
    layer = _layer(collection_id)
    layer_query(layer, request.query_params, principal, reserved=TILE_PARAMS)  # validate
    return _tilejson(request, engine, [layer], f"/collections/{layer.id}/tiles/{TMS}",
                     principal)


@router.get("/tiles/{layers}/tilejson.json", summary="TileJSON 3.0 of a multi-layer tile")
def multi_tilejson(layers: str, request: Request, engine: EngineDep,
                   principal: CurrentUser) -> dict:
    chosen = _layers(layers)
    prefixed_queries(chosen, request.query_params, principal, reserved=TILE_PARAMS)
    return _tilejson(request, engine, chosen, f"/tiles/{layers}", principal)


@router.get("/collections/{collection_id}/tiles", summary="Tilesets of one layer")
def tilesets(collection_id: str, request: Request, principal: CurrentUser) -> dict:
    layer = _layer(collection_id)
    base = f"{str(request.base_url).rstrip('/')}/collections/{layer.id}/tiles/{TMS}"
    return {"tilesets": [{
        "title": layer.title, "dataType": "vector", "crs":
        "http://www.opengis.net/def/crs/EPSG/0/3857",
        "tileMatrixSetURI": "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad",
        "links": [{"href": f"{base}/tilejson.json", "rel": "self",
                   "type": "application/json"},
                  {"href": f"{base}/{{tileMatrix}}/{{tileCol}}/{{tileRow}}",
                   "rel": "item", "type": svc.MVT, "templated": True}]}]}
