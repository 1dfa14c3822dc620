"""The one-screen overview (一屏观城乡): ``/overview`` (the page) and the figures of any
admin unit or grid in the caller's scope, with its units one level down."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.auth import CurrentUser, page_principal
from api.deps import EngineDep, SettingsDep
from gis.services import overview as service
from gis.services.accounts import Principal

router = APIRouter(tags=["overview"])
templates = Jinja2Templates(directory=Path(__file__).parents[1] / "templates")


@router.get("/overview", response_class=HTMLResponse, summary="One-screen overview page")
def overview_page(request: Request, engine: EngineDep, settings: SettingsDep):
    principal = page_principal(request, "/overview")
    if not isinstance(principal, Principal):
        return principal  # not logged in: the redirect to /login
    config = {"root": service.start_code(engine, principal), "baseTileUrl": settings.base_tile_url,
              "user": principal.username, "role": principal.role}
    return templates.TemplateResponse(request, "overview.html", {"config": config})


@router.get("/overview/{code}", summary="Figures of an area and of its units one level down")
def area_overview(code: str, engine: EngineDep, settings: SettingsDep,
                  principal: CurrentUser,
                  weeks: Annotated[int, Query(ge=1, le=104)] = 12,
                  half_days: Annotated[int, Query(ge=1, le=366)] = 14) -> dict:
    return service.area_figures(engine, settings, code, principal, weeks=weeks,
                                half_days=half_days)


@router.get("/overview/{code}/units", summary="Outlines of the units one level down (GeoJSON)")
def area_units(code: str, engine: EngineDep, principal: CurrentUser) -> dict:
    shapes = service.unit_outlines(engine, code, principal)
    return json.loads(shapes.to_json(drop_id=True))
