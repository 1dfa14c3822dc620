"""Open311 GeoReport v2 at ``/open311/v2/`` (http://wiki.open311.org/GeoReport_v2): the
discovery document, services, a service's definition, service requests (GET with the
standard filters; POST form-encoded with ``api_key``) and one request; each in JSON and
XML (``.json`` / ``.xml``, the spec's primary format).

Errors answer in the standard's format, ``[{"code": 400, "description": "..."}]`` (XML:
``<errors><error>``), with the spec's statuses: bad input 400 (not our usual 422), a
missing or wrong api_key 403. POST needs the API token of an ``integration`` account
(``gridgis user add NAME --role integration --scope CODE``) or an admin's as api_key; it
honours ``Idempotency-Key`` like every retryable write. Use cases: gis.services.open311."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.deps import EngineDep, SettingsDep, Timestamp
from api.errors import STATUS
from api.idempotency import IdempotencyDep
from gis.errors import Forbidden, GridgisError, InputError
from gis.services import accounts, open311 as service, reports
from gis.services.accounts import Principal

log = logging.getLogger("gridgis.open311")
PREFIX = "/open311/v2"
Format = Literal["json", "xml"]
POSTERS = ("integration", "admin")
MEDIA = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
DOCUMENTED = {200: {"content": {"application/json": {}, "text/xml": {}}}}


def _format_of(path: str) -> str:
    return "xml" if path.endswith(".xml") else "json"


def _status_of(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in
                         ("body", "query", "path", "header"))
        return 400, f"{where or 'request'}: {first.get('msg', 'invalid')}"
    if isinstance(exc, StarletteHTTPException):
        return exc.status_code, str(exc.detail)
    if isinstance(exc, InputError):
        return 400, str(exc)
    if isinstance(exc, GridgisError):
        if type(exc).__name__ == "Unauthorized":
            return 403, str(exc)
        for cls in type(exc).__mro__:
            if cls in STATUS:
                return STATUS[cls][0], str(exc)
        return 400, str(exc)
    log.exception("unexpected error in Open311")
    return 500, "an unexpected error occurred; it was logged"


def errors(status: int, description: str, fmt: str, headers: dict | None = None) -> Response:
    """The standard's error document."""
    if fmt == "xml":
        root = ET.Element("errors")
        err = ET.SubElement(root, "error")
        ET.SubElement(err, "code").text = str(status)
        ET.SubElement(err, "description").text = description
        return _xml(root, status, headers)
    import json
    return Response(json.dumps([{"code": status, "description": description}],
                               ensure_ascii=False), status_code=status,
                    media_type=MEDIA["json"], headers=headers)


class Open311Route(APIRoute):
    """Every failure of an Open311 route, validation included, in the standard's format."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:  # noqa: BLE001 - all become Open311 errors
                status, text = _status_of(exc)
                headers = getattr(exc, "headers", None)
                return errors(status, text, _format_of(request.url.path), headers)

        return guarded


router = APIRouter(prefix=PREFIX, tags=["open311"], route_class=Open311Route)


# -- rendering -----------------------------------------------------------------------------------
def _xml_value(parent: ET.Element, name: str, value: Any) -> None:
    node = ET.SubElement(parent, name)
    if isinstance(value, list):
        item = name[:-1] if name.endswith("s") else "item"
        for v in value:
            _xml_item(node, item, v)
    elif isinstance(value, dict):
        for k, v in value.items():
            _xml_value(node, k, v)
    elif isinstance(value, bool):
        node.text = "true" if value else "false"
    elif value is not None:
        node.text = str(value)


def _xml_item(parent: ET.Element, name: str, item: Any) -> None:
    if isinstance(item, dict):
        node = ET.SubElement(parent, name)
        for k, v in item.items():
            _xml_value(node, k, v)
    else:
        _xml_value(parent, name, item)


def _xml(root: ET.Element, status: int = 200, headers: dict | None = None) -> Response:
    body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")
    return Response(body, status_code=status, media_type=MEDIA["xml"], headers=headers)


def render(data: Any, fmt: str, root: str, item: str, status: int = 200) -> Response:
    """``data`` (a list of objects, or one object) as JSON, or as XML under ``root``."""
    if fmt == "json":
        import json
        return Response(json.dumps(data, ensure_ascii=False), status_code=status,
                        media_type=MEDIA["json"])
    top = ET.Element(root)
    for entry in (data if isinstance(data, list) else [data]):
        if root == item:  # a single object at the top (service definition)
            for k, v in entry.items():
                _xml_value(top, k, v)
        else:
            _xml_item(top, item, entry)
    return _xml(top, status)


# -- routes ----------------------------------------------------------------------------------------
Jurisdiction = Annotated[str | None, Query(max_length=40, description="the county code, or absent")]


@router.get("/discovery.{fmt}", responses=DOCUMENTED, summary="Open311 service discovery")
def discovery(request: Request, fmt: Format):
    base = str(request.base_url).rstrip("/") + PREFIX
    doc = {"changeset": "2026-12-01T00:00:00Z", "contact": "the county's grid management centre",
           "key_service": "an admin issues keys: gridgis user add NAME --role integration",
           "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2", "url": base,
                          "changeset": "2026-12-01T00:00:00Z", "type": "production",
                          "formats": ["application/json", "text/xml"]}]}
    return render(doc, fmt, "discovery", "discovery")


@router.get("/services.{fmt}", responses=DOCUMENTED, summary="Open311 services (our categories)")
def services(engine: EngineDep, fmt: Format, jurisdiction_id: Jurisdiction = None):
    service.check_jurisdiction(engine, jurisdiction_id)
    return render(service.services(), fmt, "services", "service")


@router.get("/services/{service_code}.{fmt}", responses=DOCUMENTED,
            summary="Open311 service definition (subcategory attribute)")
def service_definition(engine: EngineDep, service_code: Annotated[str, Path(max_length=24)],
                       fmt: Format, jurisdiction_id: Jurisdiction = None):
    service.check_jurisdiction(engine, jurisdiction_id)
    return render(service.service_definition(service_code), fmt, "service_definition",
                  "service_definition")


def _list(text: str | None, field: str, cast=str) -> list | None:
    if text is None:
        return None
    try:
        values = [cast(v.strip()) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"{field} must be a comma-separated list", field=field) from None
    return values or None


def _aware(value: datetime | None, tz: str) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=ZoneInfo(tz))


@router.get("/requests.{fmt}", responses=DOCUMENTED, summary="Open311 service requests")
def list_requests(engine: EngineDep, settings: SettingsDep, fmt: Format,
                  jurisdiction_id: Jurisdiction = None,
                  service_request_id: Annotated[str | None, Query(
                      max_length=2000, pattern=r"^[0-9]{1,18}(,[0-9]{1,18})*$")] = None,
                  service_code: Annotated[str | None, Query(max_length=400)] = None,
                  start_date: Timestamp | None = None, end_date: Timestamp | None = None,
                  status: Annotated[str | None, Query(
                      pattern=r"^(open|closed)(,(open|closed))*$")] = None):
    service.check_jurisdiction(engine, jurisdiction_id)
    states = set(_list(status, "status") or [])
    flt = service.RequestFilter(
        ids=_list(service_request_id, "service_request_id", int),
        categories=_list(service_code, "service_code"),
        start=_aware(start_date, settings.timezone), end=_aware(end_date, settings.timezone),
        closed=None if len(states) != 1 else states == {"closed"})
    return render(service.requests(engine, settings, flt), fmt, "service_requests", "request")


@router.get("/requests/{service_request_id}.{fmt}", responses=DOCUMENTED,
            summary="One Open311 service request")
def get_request(engine: EngineDep, settings: SettingsDep,
                service_request_id: Annotated[int, Path(ge=1, le=2**63 - 1)], fmt: Format,
                jurisdiction_id: Jurisdiction = None):
    service.check_jurisdiction(engine, jurisdiction_id)
    return render(service.request(engine, settings, service_request_id), fmt,
                  "service_requests", "request")


def poster(engine, api_key: str) -> Principal:
    """The integration behind ``api_key`` (403 in the standard's words otherwise)."""
    principal = accounts.authenticate(engine, api_key)
    if principal is None:
        raise Forbidden("Invalid api_key")
    if principal.role not in POSTERS:
        raise Forbidden(f"an api_key of role '{principal.role}' may not create requests "
                        "(needs an integration account)")
    return principal


Text = Annotated[str | None, Form(max_length=200)]


@router.post("/requests.{fmt}", status_code=201, responses={201: DOCUMENTED[200]},
             summary="Create an Open311 service request (form-encoded, api_key)")
async def create_request(
        request: Request, engine: EngineDep, settings: SettingsDep, fmt: Format,
        once: IdempotencyDep, api_key: Annotated[str, Form(min_length=1, max_length=200)],
        service_code: Annotated[str, Form(min_length=1, max_length=24)],
        jurisdiction_id: Annotated[str | None, Form(max_length=40)] = None,
        lat: Annotated[float | None, Form(ge=-90, le=90)] = None,
        long: Annotated[float | None, Form(ge=-180, le=180)] = None,
        address_string: Annotated[str | None, Form(max_length=500)] = None,
        address_id: Text = None, email: Text = None, device_id: Text = None,
        account_id: Text = None, first_name: Text = None, last_name: Text = None,
        phone: Annotated[str | None, Form(max_length=40)] = None,
        description: Annotated[str | None, Form(max_length=4000)] = None,
        media_url: Annotated[str | None, Form(max_length=2000, pattern=r"^https?://")] = None,
        subcategory: Annotated[str | None, Form(alias="attribute[subcategory]",
                                                max_length=24)] = None):
    from starlette.concurrency import run_in_threadpool

    principal = await run_in_threadpool(poster, engine, api_key)
    await run_in_threadpool(service.check_jurisdiction, engine, jurisdiction_id)
    if lat is None or long is None:
        where = "address_string" if address_string or address_id else "lat"
        raise InputError("lat and long are required: addresses cannot be geocoded here"
                         if where == "address_string" else "lat and long are required",
                         field=where)
    report = reports.NewReport(
        lon=long, lat=lat, category=service_code, subcategory=subcategory or None,
        description=(description or "").strip() or None, media_url=media_url,
        contact=reports.Contact(phone=phone, email=email, first_name=first_name,
                                last_name=last_name))
    created = await run_in_threadpool(
        lambda: service.create(engine, settings, principal, report, once=once))
    return render(created, fmt, "service_requests", "request", status=201)
