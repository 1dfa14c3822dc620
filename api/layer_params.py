"""Query-string parsing shared by the features and tiles routers: the same filters mean
the same thing everywhere (bbox, datetime, property filters; unknown names are 422)."""

from __future__ import annotations

from collections.abc import Mapping

from gis.errors import InputError
from gis.services import layers as lf
from gis.services.layers import Layer, LayerQuery, parse_bbox, parse_filters, parse_interval

CRS84_URI = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{}"
COMMON = {"bbox", "bbox-crs", "datetime"}


def crs_list(metric: int | None) -> list[str]:
    return [CRS84_URI] + ([EPSG_URI.format(metric)] if metric else [])


def srid_uri(srid: int) -> str:
    return CRS84_URI if srid == lf.CRS84 else EPSG_URI.format(srid)


def parse_crs(raw: str | None, metric: int | None, field: str) -> int:
    """The SRID of a CRS URI (CRS84 or the area's metric CRS; others are refused)."""
    if raw is None or raw.strip("[]") in (CRS84_URI, "OGC:CRS84", "CRS84"):
        return lf.CRS84
    code = raw.strip("[]").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    if metric and code.isdigit() and int(code) == metric:
        return metric
    raise InputError(f"unsupported crs {raw!r}; supported: {', '.join(crs_list(metric))}",
                     field=field)


def layer_query(layer: Layer, params: Mapping[str, str], principal, *,
                metric: int | None = None, reserved=frozenset()) -> LayerQuery:
    """A validated :class:`LayerQuery` from query parameters; ``reserved`` names belong
    to the endpoint (limit, crs, ...) and are not filters."""
    extra = {k: v for k, v in params.items() if k not in COMMON and k not in reserved}
    bbox = parse_bbox(params.get("bbox"))
    bbox_srid = parse_crs(params.get("bbox-crs"), metric, "bbox-crs")
    if bbox and lf.north_first(bbox_srid):  # given in the CRS's axis order: northing first
        bbox = (bbox[1], bbox[0], bbox[3], bbox[2])
    return LayerQuery(principal=principal, bbox=bbox, bbox_srid=bbox_srid,
                      interval=parse_interval(params.get("datetime")),
                      filters=parse_filters(layer, extra))


def prefixed_queries(layers: list[Layer], params: Mapping[str, str], principal,
                     reserved=frozenset()) -> list[tuple[Layer, LayerQuery]]:
    """Per-layer queries for a multi-layer request: ``incidents.status=closed`` filters
    only the incidents layer; a name without a known layer prefix is an error."""
    ids = {layer.id for layer in layers}
    per_layer: dict[str, dict[str, str]] = {i: {} for i in ids}
    for key, value in params.items():
        if key in reserved:
            continue
        prefix, _, name = key.partition(".")
        if prefix not in ids or not name:
            raise InputError(f"unknown query parameter {key!r}: filters of a multi-layer "
                             "tile are written layer.property (e.g. incidents.status)",
                             field=key)
        per_layer[prefix][name] = value
    return [(layer, layer_query(layer, per_layer[layer.id], principal)) for layer in layers]
