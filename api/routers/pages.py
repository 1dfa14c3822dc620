"""The dispatcher page ``/map`` (grids, incidents by status, cameras; click a grid for its
staff and statistics; filters; live refresh; patrol and camera coverage overlays) and its
login form ``/login``. Every
script and style is served from /static: the page works with no internet."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.auth import CurrentUser, page_principal
from api.security import safe_next
from gis.store.users import Principal
from api.deps import SessionDep, SettingsDep
from gis import schema
from gis.store.grid_panel import grid_card
from gis.store.layer_features import layer_extent
from gis.store.layer_filters import LayerQuery
from gis.store.layers_catalog import LAYERS

router = APIRouter(tags=["pages"])
templates = Jinja2Templates(directory=Path(__file__).parents[1] / "templates")


@router.get("/login", response_class=HTMLResponse, summary="Login form")
def login_page(request: Request, next: str = "/map"):
    target = safe_next(next)
    return templates.TemplateResponse(request, "login.html", {"next": target})


def _bounds(session, principal) -> list[float]:
    for layer_id in ("admin_units", "grids"):
        box = layer_extent(session, LAYERS[layer_id], LayerQuery(principal=principal))["bbox"]
        if box:
            return box
    return [73.5, 18.0, 135.0, 53.5]  # nothing loaded yet: all of China


@router.get("/map", response_class=HTMLResponse, summary="Dispatcher map")
def map_page(request: Request, session: SessionDep, settings: SettingsDep):
    principal = page_principal(request, session, "/map")
    if not isinstance(principal, Principal):
        return principal  # not logged in: the redirect to /login
    config = {"bounds": _bounds(session, principal), "baseTileUrl": settings.base_tile_url,
              "user": principal.username, "role": principal.role,
              "statuses": list(schema.INCIDENT_STATUSES),
              "categories": list(schema.INCIDENT_CATEGORIES), "pollSeconds": 5,
              "cameraDefaults": {k: v[:2] for k, v in schema.CAMERA_DEFAULTS.items()}}
    return templates.TemplateResponse(request, "map.html", {"config": config})


@router.get("/map/grids/{code}", summary="A grid's card for the map's side panel")
def grid_panel(code: str, session: SessionDep, principal: CurrentUser) -> dict:
    return grid_card(session, code, principal)
