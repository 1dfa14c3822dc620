"""The grid worker's app: the page ``/m`` (with its web manifest and service worker, served
from /m so the worker controls the whole app), and what it reads and writes under
``/field`` plus ``POST /visits``. Use cases: gis.services.field."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require
from api.deps import BoundedTimestamp, EngineDep, ObjectId, SettingsDep
from api.idempotency import IdempotencyDep
from gis import vocabulary
from gis.incidents import MUST_REPORT
from gis.services import field as service
from gis.services.accounts import Principal

router = APIRouter(tags=["field"])
templates = Jinja2Templates(directory=Path(__file__).parents[1] / "templates")
STATIC = Path(__file__).parents[1] / "static" / "m"
Worker = Annotated[Principal, Depends(require("grid_worker"))]
Lon = Annotated[float, Query(ge=-180, le=180)]
Lat = Annotated[float, Query(ge=-90, le=90)]


@router.get("/m", include_in_schema=False)
def app_redirect() -> RedirectResponse:
    # The app lives under /m/ so its service worker's scope (/m/) is the app alone (a
    # scope of "/m" would also take /map).
    return RedirectResponse("/m/", status_code=307)


@router.get("/m/", response_class=HTMLResponse, summary="The grid worker's app (offline first)")
def app_page(request: Request):
    # The shell carries no personal data, so the service worker can cache it and the app
    # opens offline; who is logged in is asked of /auth/me (the login form is in the app).
    # the 4必报 kinds as buttons, each with the subcategories that must be reported
    must = {c: list(subs or vocabulary.INCIDENT_CATEGORIES[c]) for c, subs in MUST_REPORT.items()}
    config = {"mustReport": must, "visitNorm": service.DAILY_VISIT_NORM}
    return templates.TemplateResponse(request, "m.html", {"config": config})


@router.get("/m/sw.js", include_in_schema=False)
def service_worker() -> FileResponse:
    # Served from /m/ (not /static) so that its scope is the app; never cached by HTTP,
    # so a new version of the app is picked up on the next visit.
    return FileResponse(STATIC / "sw.js", media_type="text/javascript",
                        headers={"Cache-Control": "no-cache"})


@router.get("/m/manifest.webmanifest", include_in_schema=False)
def manifest() -> FileResponse:
    return FileResponse(STATIC / "manifest.webmanifest", media_type="application/manifest+json")


@router.get("/field/grids", summary="My grids and whether each is patrolled this half day")
def my_grids(engine: EngineDep, settings: SettingsDep, principal: Worker) -> dict:
    return service.grids(engine, principal, tz=settings.timezone)


@router.get("/field/work", summary="Incidents dispatched to my grids, overdue first")
def my_work(engine: EngineDep, principal: Worker) -> dict:
    return {"type": "FeatureCollection", "features": service.work(engine, principal)}


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str = Field(min_length=1, max_length=16, description="handle or feedback")
    version: int = Field(ge=1)
    note: str | None = Field(None, max_length=4000)


@router.post("/field/incidents/{incident_id}/transitions",
             summary="Handle or feed back an incident of my grids (409: it moved on)")
def step(incident_id: ObjectId, body: StepIn, engine: EngineDep, principal: Worker,
         once: IdempotencyDep) -> dict:
    return service.act(engine, principal, incident_id, body.action, version=body.version,
                       note=body.note, once=once)


@router.get("/field/buildings", summary="The buildings nearest a place (for a visit)")
def buildings(engine: EngineDep, principal: Worker, lon: Lon, lat: Lat,
              limit: Annotated[int, Query(ge=1, le=50)] = 5) -> dict:
    return {"items": service.nearest_buildings(engine, principal, lon, lat, limit=limit)}


@router.get("/field/grids/buildings", summary="The buildings of my grids (kept for offline)")
def grid_buildings(engine: EngineDep, principal: Worker) -> dict:
    return {"items": service.my_buildings(engine, principal)}


@router.get("/field/nearby", summary="Open incidents reported near a place (likely duplicates)")
def nearby(engine: EngineDep, principal: Worker, lon: Lon, lat: Lat,
           category: Annotated[str | None, Query(max_length=24)] = None) -> dict:
    return {"items": service.nearby_incidents(engine, principal, lon, lat, category=category)}


@router.get("/field/visits/today", summary="My visits today against the five-a-day norm")
def visits_today(engine: EngineDep, settings: SettingsDep, principal: Worker) -> dict:
    return service.today(engine, principal, tz=settings.timezone)


class VisitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    building_id: int | None = Field(None, ge=1, le=2**63 - 1)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    time: BoundedTimestamp | None = None
    note: str | None = Field(None, max_length=500)
    key_household: bool = False


@router.post("/visits", status_code=201, summary="Record a household visit (入户走访)")
def add_visit(body: VisitIn, engine: EngineDep, settings: SettingsDep,
              principal: Worker, once: IdempotencyDep) -> dict:
    row = body.model_dump()
    if row["time"] is not None and row["time"].tzinfo is None:
        row["time"] = row["time"].replace(tzinfo=ZoneInfo(settings.timezone))
    return service.record_visit(engine, principal, row, tz=settings.timezone, once=once)
