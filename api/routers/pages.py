"""The dispatcher page ``/map`` (grids, incidents by status, cameras; click a grid for its
staff and statistics; filters; live refresh; patrol and camera coverage overlays) and its
login form ``/login``. Every
script and style is served from /static: the page works with no internet."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.auth import CurrentUser, page_principal
from api.security import safe_next
from api.deps import EngineDep, SettingsDep
from gis import vocabulary
from gis.services import layers, overview
from gis.services.accounts import Principal

router = APIRouter(tags=["pages"])
templates = Jinja2Templates(directory=Path(__file__).parents[1] / "templates")


@router.get("/login", response_class=HTMLResponse, summary="Login form")
def login_page(request: Request, next: str = "/map"):
    target = safe_next(next)
    return templates.TemplateResponse(request, "login.html", {"next": target})


@router.get("/map", response_class=HTMLResponse, summary="Dispatcher map")
def map_page(request: Request, engine: EngineDep, settings: SettingsDep):
    principal = page_principal(request, "/map")
    if not isinstance(principal, Principal):
        return principal  # not logged in: the redirect to /login
    config = {"bounds": layers.map_bounds(engine, principal), "baseTileUrl": settings.base_tile_url,
              "user": principal.username, "role": principal.role,
              "statuses": list(vocabulary.INCIDENT_STATUSES),
              "categories": list(vocabulary.INCIDENT_CATEGORIES), "pollSeconds": 5,
              # the workers' panel: this month so far, in local time
              "month": datetime.now(ZoneInfo(settings.timezone)).strftime("%Y-%m"),
              "cameraDefaults": {k: v[:2] for k, v in vocabulary.CAMERA_DEFAULTS.items()}}
    return templates.TemplateResponse(request, "map.html", {"config": config})


@router.get("/department", response_class=HTMLResponse, summary="A department's queue page")
def department_page(request: Request):
    """What waits for the department to report in, what it handles, what is overdue
    (issue 16); the data comes from ``GET /queue``, which only department accounts read."""
    principal = page_principal(request, "/department")
    if not isinstance(principal, Principal):
        return principal  # not logged in: the redirect to /login
    config = {"user": principal.username, "role": principal.role,
              "department": getattr(principal, "department_code", None), "pollSeconds": 5}
    return templates.TemplateResponse(request, "department.html", {"config": config})


@router.get("/map/grids/{code}", summary="A grid's card for the map's side panel")
def grid_panel(code: str, engine: EngineDep, principal: CurrentUser) -> dict:
    return overview.grid_panel(engine, code, principal)
