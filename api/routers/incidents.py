"""Incidents for dispatchers: report, the closed loop, lists, statistics, hot spots,
locate, and bulk import. Each endpoint calls one use case of gis.services.incidents."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentUser, require
from api.deps import EngineDep, ObjectId, SettingsDep, Timestamp
from api.uploads import saved_upload
from api.idempotency import IdempotencyDep
from gis.errors import Forbidden
from gis.services import departments
from gis.services import incidents as service
from gis.services import summons
from gis.services.accounts import Principal

router = APIRouter(tags=["incidents"])
Reporter = Annotated[Principal, Depends(require("dispatcher", "grid_worker"))]
IMPORT_SUFFIXES = (".csv", ".tsv", ".geojson", ".json", ".gpkg")


class IncidentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84"
    category: str = Field(min_length=1, max_length=24)
    subcategory: str | None = Field(None, max_length=24)
    description: str | None = Field(None, max_length=4000)
    reporter: str | None = Field(None, max_length=200)
    reported_at: Timestamp | None = None
    external_id: str | None = Field(None, max_length=200)


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str = Field(min_length=1, max_length=16)
    version: int = Field(ge=1)
    note: str | None = Field(None, max_length=4000)
    department_code: str | None = Field(None, min_length=1, max_length=32,
                                        description="with action 'dispatch': the department")


def _aware(value: datetime | None, tz: str) -> datetime | None:
    """Times without a zone are local time of the deployment (Settings.timezone)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=ZoneInfo(tz))


def filters(settings: SettingsDep,
            area: Annotated[str | None, Query(pattern=r"^[0-9]{6,40}$",
                                              description="admin or grid code (prefix)")] = None,
            start: Annotated[Timestamp | None, Query(description="reported at or after")] = None,
            end: Annotated[Timestamp | None, Query(description="reported before")] = None,
            category: str | None = None,
            status: Annotated[str | None, Query(description="comma-separated statuses")] = None,
            overdue: bool | None = None, boundary: bool | None = None,
            unassigned: bool | None = None,
            department: Annotated[str | None, Query(
                pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$",
                description="dispatched to or summoned this department")] = None
            ) -> service.IncidentFilter:
    statuses = [s.strip() for s in status.split(",") if s.strip()] if status else None
    return service.IncidentFilter(area=area, start=_aware(start, settings.timezone),
                                end=_aware(end, settings.timezone), category=category,
                                status=statuses, overdue=overdue, boundary=boundary,
                                unassigned=unassigned, department=department)


Filters = Annotated[service.IncidentFilter, Depends(filters)]


@router.post("/incidents", status_code=201, summary="Report an incident (上报)")
def create(body: IncidentIn, engine: EngineDep, settings: SettingsDep,
           principal: Reporter, once: IdempotencyDep) -> dict:
    new = service.NewIncident(**body.model_dump())
    new.reported_at = _aware(new.reported_at, settings.timezone)
    return service.create(engine, settings, new, principal, once=once)


@router.get("/incidents", summary="Incidents in your area as GeoJSON, filtered and paged")
def list_(engine: EngineDep, principal: CurrentUser, flt: Filters,
          limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 100,
          offset: Annotated[int, Query(ge=0)] = 0) -> dict:
    total, rows = service.list_page(engine, principal, flt, limit=limit, offset=offset)
    return {"type": "FeatureCollection", "features": rows,
            "numberMatched": total, "numberReturned": len(rows), "limit": limit,
            "offset": offset,
            "next_offset": offset + len(rows) if offset + len(rows) < total else None}


@router.get("/incidents/stats",
            summary="Statistics of the filtered incidents per grid, or per department")
def stats(engine: EngineDep, principal: CurrentUser, flt: Filters,
          by: Annotated[Literal["grid", "department"], Query(
              description="grid: per current grid; department: each department's cases "
                          "received in [start, end), worst first (逆排名)")] = "grid") -> dict:
    if by == "department":
        return departments.performance(engine, principal, flt)
    return service.stats(engine, principal, flt)


@router.get("/incidents/hotspots", summary="Hexagon hot spots for a period (GeoJSON)")
def hotspots(engine: EngineDep, principal: CurrentUser, flt: Filters,
             size_m: Annotated[float, Query(ge=10, le=50_000,
                                            description="hexagon edge in metres")] = 250.0,
             limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> dict:
    return service.hotspots(engine, principal, flt, size_m=size_m, limit=limit)


@router.post("/incidents/import", summary="Bulk import incidents (CSV, GeoJSON, GeoPackage)")
def import_(engine: EngineDep, settings: SettingsDep, principal: Reporter,
            file: Annotated[UploadFile, File()],
            crs: Annotated[str | None, Form()] = None,
            lon: Annotated[str | None, Form()] = None,
            lat: Annotated[str | None, Form()] = None,
            skip_invalid: Annotated[bool, Form()] = False) -> dict:
    with saved_upload(file, IMPORT_SUFFIXES) as (path, name):
        return service.import_upload(engine, settings, principal, path, name=name, crs=crs,
                                     lon=lon, lat=lat, skip_invalid=skip_invalid)


@router.get("/incidents/{incident_id}", summary="One incident with its events")
def get(incident_id: ObjectId, engine: EngineDep, principal: CurrentUser) -> dict:
    return service.get(engine, incident_id, principal)


@router.post("/incidents/{incident_id}/transitions",
             summary="Move an incident through the loop (409 lists the allowed actions)")
def transition(incident_id: ObjectId, body: TransitionIn, engine: EngineDep,
               principal: CurrentUser, once: IdempotencyDep) -> dict:
    # a department account acknowledges and feeds back on its own part (issue 16); every
    # other step of the loop, the grid's own feedback included, is the dispatcher's
    if principal.role == "department":
        if body.action not in summons.DEPARTMENT_ACTIONS:
            raise Forbidden(f"a department may {' or '.join(summons.DEPARTMENT_ACTIONS)}, "
                            f"not {body.action}")
        return summons.act(engine, principal, incident_id, body.action, version=body.version,
                           note=body.note)
    if body.action == "acknowledge":
        raise Forbidden("only a department account acknowledges (报到)")
    require("dispatcher")(principal)
    return service.transition(engine, incident_id, body.action, version=body.version,
                              principal=principal, note=body.note,
                              department_code=body.department_code, once=once)


@router.get("/locate", summary="Grid, community, township, staff and nearest worker of a place")
def locate(engine: EngineDep, settings: SettingsDep, principal: CurrentUser,
           lon: Annotated[float, Query(ge=-180, le=180)],
           lat: Annotated[float, Query(ge=-90, le=90)],
           crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84",
           patrol_hours: Annotated[float, Query(gt=0, le=168)] = 12.0) -> dict:
    return service.locate(engine, settings, principal, lon, lat, crs=crs,
                          patrol_hours=patrol_hours)
