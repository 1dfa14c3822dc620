"""Camera coverage: run (all grids or only the stale ones), per-grid figures, blind spots
ranked by incidents, key places, and suggested new camera sites. Use cases:
gis.services.coverage."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentUser, require
from api.deps import EngineDep, Timestamp
from gis.vocabulary import CAMERA_TYPES
from gis.services import coverage as service
from gis.services.accounts import Principal

router = APIRouter(prefix="/coverage", tags=["coverage"])
Analyst = Annotated[Principal, Depends(require("analyst"))]
Area = Annotated[str | None, Query(pattern=r"^[0-9]{6,40}$", description="admin or grid code")]


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    area_code: str | None = Field(None, max_length=40, description="default: your area")
    mode: Literal["public", "grid", "streets"] = "public"
    min_area: float = Field(25.0, ge=0, le=1e6, description="smallest blind spot listed, m²")
    include_offline: bool = False
    only_stale: bool = Field(False, description="recompute only grids marked stale by "
                             "camera, building or road changes (and never computed ones)")
    since: Timestamp | None = Field(None, description="count incidents reported from")
    until: Timestamp | None = Field(None, description="... and before")


class SitesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    area_code: str | None = Field(None, max_length=40)
    k: int = Field(ge=1, le=200)
    weight: Literal["incidents", "area"] = "incidents"
    camera_type: Literal[CAMERA_TYPES] = "dome"  # type: ignore[valid-type]
    spacing: float = Field(25.0, ge=5, le=500, description="metres between candidates")


@router.post("/run", summary="Compute and store coverage for an area (analysts)")
def run(body: RunIn, engine: EngineDep, principal: Analyst) -> dict:
    period = (body.since, body.until) if body.since or body.until else None
    opts = service.RunOptions(mode=body.mode, min_area=body.min_area,
                            include_offline=body.include_offline, period=period,
                            only_stale=body.only_stale)
    return service.run(engine, body.area_code, opts, principal=principal)


@router.get("/grids", summary="Per-grid coverage figures, worst covered first")
def grids(engine: EngineDep, principal: CurrentUser, area: Area = None,
          limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 1000,
          offset: Annotated[int, Query(ge=0)] = 0) -> dict:
    return service.grid_figures(engine, principal, area=area, limit=limit, offset=offset)


@router.get("/blind-spots", summary="Blind spots as GeoJSON, most incidents first")
def blind_spots(engine: EngineDep, principal: CurrentUser, area: Area = None,
                min_area: Annotated[float, Query(ge=0)] = 0.0,
                min_incidents: Annotated[int, Query(ge=0)] = 0,
                limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 500,
                offset: Annotated[int, Query(ge=0)] = 0) -> dict:
    return service.blind_spots(engine, principal, area=area, min_area=min_area,
                               min_incidents=min_incidents, limit=limit, offset=offset)


@router.get("/key-places", summary="Key places with their coverage, least covered first")
def key_places(engine: EngineDep, principal: CurrentUser, area: Area = None,
               max_ratio: Annotated[float | None, Query(ge=0, le=1)] = None,
               limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 1000,
               offset: Annotated[int, Query(ge=0)] = 0) -> dict:
    return service.key_places(engine, principal, area=area, max_ratio=max_ratio,
                              limit=limit, offset=offset)


@router.post("/sites", summary="Suggest k new camera sites with their marginal gains")
def sites(body: SitesIn, engine: EngineDep, principal: Analyst) -> dict:
    return service.suggest_sites(engine, principal, body.area_code, body.k,
                                 weight=body.weight, camera_type=body.camera_type,
                                 spacing=body.spacing)
