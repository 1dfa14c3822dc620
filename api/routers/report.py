"""Resident reporting (群众报事), no account: the page ``/report`` (a pin on our own base
map or the phone's position, category, description, photo, optional phone), likely
duplicates nearby, the submission (a tracking code back), and ``/report/{code}``: the
status and its public notes, never personal data.

Abuse limits: per client address (a keyed hash, never stored) at most
``GRIDGIS_REPORT_RATE_PER_HOUR`` reports an hour and ``GRIDGIS_PUBLIC_TILE_RATE_PER_MINUTE``
base-map reads a minute (429 with Retry-After); a photo of at most 8 MB that really is
a photo (stored as an attachment of the incident, EXIF removed); text fields bounded; the place must lie inside the county (422).

The base map is public but read-only and minimal: vector tiles of the county outline,
grid outlines, roads (with their class) and building outlines, with no names, codes or
household counts (gis.services.reports.BASE_LAYERS), from a cache of its own."""

from __future__ import annotations

import re
from pathlib import Path as FilePath
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from api.auth import require
from api.deps import EngineDep, ObjectId, SettingsDep
from api.idempotency import IdempotencyDep, client_scope
from api.ratelimit import limiter
from api.tiles import mvt
from gis import vocabulary
from gis.errors import InputError, NotFound
from gis.services import reports as service
from gis.services.accounts import Principal

router = APIRouter(tags=["public reports"])
templates = Jinja2Templates(directory=FilePath(__file__).parents[1] / "templates")
CODE = r"^[A-Za-z2-7]{10,32}$"
PHONE = r"^\+?[0-9][0-9 -]{4,19}$"
Crs = Literal["wgs84", "gcj02", "bd09"]
MAX_PHOTO = service.PHOTO_LIMITS.max_bytes
Category = Literal[tuple(vocabulary.INCIDENT_CATEGORIES)]  # type: ignore[valid-type]


def _limit_reads(request: Request) -> None:
    settings = request.app.state.settings
    limiter(request.app, "public-reads", settings.public_tile_rate_per_minute, 60.0).check(
        client_scope(request), "map requests")


def _base_cache(request: Request) -> mvt.TileCache:
    state = request.app.state
    if getattr(state, "public_tile_cache", None) is None:
        state.public_tile_cache = mvt.TileCache(max_bytes=64 * 2**20)
    return state.public_tile_cache


@router.get("/report", response_class=HTMLResponse, summary="The resident's report page")
def report_page(request: Request, engine: EngineDep):
    names = vocabulary.INCIDENT_CATEGORY_NAMES
    config = {"bounds": service.base_bounds(engine),
              "categories": [{"code": c, "zh": names[c][0], "en": names[c][1]}
                             for c in vocabulary.INCIDENT_CATEGORIES],
              "maxPhotoMb": MAX_PHOTO // 2**20}
    return templates.TemplateResponse(request, "report.html", {"config": config})


@router.get("/report/tiles/{z}/{x}/{y}", response_class=Response,
            responses={200: {"content": {mvt.MVT: {}}}},
            summary="Public base map tile: county, grid, road and building outlines only")
def base_tile(request: Request, engine: EngineDep, z: Annotated[int, Path(ge=0, le=22)],
              x: Annotated[int, Path(ge=0)], y: Annotated[int, Path(ge=0)]):
    _limit_reads(request)
    if x >= 2 ** z or y >= 2 ** z:
        raise NotFound(f"tile {z}/{x}/{y} is outside the WebMercatorQuad tile matrix set")
    data = service.base_tile(engine, _base_cache(request), z, x, y)
    return Response(data, media_type=mvt.MVT,
                    headers={"Cache-Control": "public, max-age=3600", "ETag": mvt.etag_of(data)})


@router.get("/report/nearby", summary="Likely duplicates: open reports of the category within "
                                      "50 m in the last 72 h (public fields only)")
def nearby(request: Request, engine: EngineDep, category: Category,
           lon: Annotated[float, Query(ge=-180, le=180)],
           lat: Annotated[float, Query(ge=-90, le=90)], crs: Crs = "wgs84") -> dict:
    _limit_reads(request)
    items = service.nearby(engine, lon, lat, category, crs=crs)
    return {"radius_m": service.NEARBY_M, "hours": service.NEARBY_HOURS, "items": items}


async def _photo_bytes(photo: UploadFile | str | None) -> bytes | None:
    if photo is None:
        return None
    # a part without a file name arrives as text: judged by its content like any other
    data = photo.encode() if isinstance(photo, str) else await photo.read(MAX_PHOTO + 1)
    if len(data) > MAX_PHOTO:
        raise InputError(f"the photo is larger than {MAX_PHOTO // 2**20} MB",
                         field="photo")
    return data or None


@router.post("/report", status_code=201, summary="Send a report (no account); answers a "
                                                  "tracking code",
             openapi_extra={"x-constraints": {
                 "lon": "the place (lon, lat) lies inside the county served",
                 "phone": "digits, spaces and dashes, 5 to 20, an optional leading +",
                 "photo": "a JPEG, PNG, WebP or HEIC photo (read from its content) of at most 8 MB"}})
async def submit(request: Request, engine: EngineDep, settings: SettingsDep,
                 once: IdempotencyDep, category: Annotated[Category, Form()],
                 lon: Annotated[float, Form(ge=-180, le=180)],
                 lat: Annotated[float, Form(ge=-90, le=90)],
                 crs: Annotated[Crs, Form()] = "wgs84",
                 subcategory: Annotated[str | None, Form(max_length=24)] = None,
                 description: Annotated[str | None, Form(max_length=2000)] = None,
                 phone: Annotated[str | None, Form(max_length=20)] = None,
                 photo: Annotated[UploadFile | str | None, File()] = None) -> dict:
    from starlette.concurrency import run_in_threadpool

    limiter(request.app, "public-reports", settings.report_rate_per_hour, 3600.0).check(
        client_scope(request), "reports")
    if phone and not re.fullmatch(PHONE, phone):
        raise InputError("a phone number has 5 to 20 digits, spaces or dashes (an optional "
                         "leading +)", field="phone")
    report = service.NewReport(lon=lon, lat=lat, crs=crs, category=category,
                               subcategory=subcategory or None,
                               description=(description or "").strip() or None,
                               contact=service.Contact(phone=phone),
                               photo=await _photo_bytes(photo))
    done = await run_in_threadpool(service.submit, engine, settings, report, channel="public",
                                   once=once)
    return {"code": done["code"], "status": done["status"], "category": done["category"],
            "reported_at": done["reported_at"], "status_url": f"/report/{done['code']}"}


@router.get("/report/status/{code}", summary="A report's status and public notes (JSON)")
def status(request: Request, engine: EngineDep,
           code: Annotated[str, Path(pattern=CODE)]) -> dict:
    _limit_reads(request)
    return service.code_status(engine, code)


@router.get("/report/{code}", response_class=HTMLResponse,
            summary="A report's status page (no personal data)")
def status_page(request: Request, engine: EngineDep, code: Annotated[str, Path(pattern=CODE)]):
    _limit_reads(request)
    view = service.code_status(engine, code)
    names = vocabulary.INCIDENT_CATEGORY_NAMES[view["category"]]
    return templates.TemplateResponse(request, "report_status.html",
                                      {"r": view, "category": names})


@router.get("/incidents/{incident_id}/contact", tags=["incidents"],
            summary="The contact a resident or Open311 client left (dispatchers; audited)")
def contact(incident_id: ObjectId, engine: EngineDep,
            principal: Annotated[Principal, Depends(require("dispatcher"))]) -> dict:
    return service.contact(engine, incident_id, principal)
