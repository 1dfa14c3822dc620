"""Incidents for dispatchers: report, the closed loop, lists, statistics, hot spots,
locate, and bulk import. Queries are in gis.store.incidents / incident_queries."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentUser, require
from api.deps import ObjectId, SessionDep, SettingsDep, Timestamp
from gis.errors import Forbidden, InputError
from gis.store import incident_queries as queries
from gis.store import incidents as store
from gis.store.users import Principal

router = APIRouter(tags=["incidents"])
Reporter = Annotated[Principal, Depends(require("dispatcher", "grid_worker"))]
Dispatcher = Annotated[Principal, Depends(require("dispatcher"))]
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
            unassigned: bool | None = None) -> store.IncidentFilter:
    statuses = [s.strip() for s in status.split(",") if s.strip()] if status else None
    return store.IncidentFilter(area=area, start=_aware(start, settings.timezone),
                                end=_aware(end, settings.timezone), category=category,
                                status=statuses, overdue=overdue, boundary=boundary,
                                unassigned=unassigned)


Filters = Annotated[store.IncidentFilter, Depends(filters)]


@router.post("/incidents", status_code=201, summary="Report an incident (上报)")
def create(body: IncidentIn, session: SessionDep, settings: SettingsDep,
           principal: Reporter) -> dict:
    new = store.NewIncident(**body.model_dump())
    new.reported_at = _aware(new.reported_at, settings.timezone)
    row = store.create_incident(session, new, actor=principal.username,
                                tolerance_m=settings.tolerance_m, principal=principal)
    return store.feature(row)


@router.get("/incidents", summary="Incidents in your area as GeoJSON, filtered and paged")
def list_(session: SessionDep, principal: CurrentUser, flt: Filters,
          limit: Annotated[int, Query(ge=1, le=store.MAX_PAGE)] = 100,
          offset: Annotated[int, Query(ge=0)] = 0) -> dict:
    total, rows = store.list_incidents(session, principal, flt, limit=limit, offset=offset)
    return {"type": "FeatureCollection", "features": [store.feature(r) for r in rows],
            "numberMatched": total, "numberReturned": len(rows), "limit": limit,
            "offset": offset,
            "next_offset": offset + len(rows) if offset + len(rows) < total else None}


@router.get("/incidents/stats", summary="Per-grid statistics for the filtered incidents")
def stats(session: SessionDep, principal: CurrentUser, flt: Filters) -> dict:
    return queries.grid_stats(session, principal, flt)


@router.get("/incidents/hotspots", summary="Hexagon hot spots for a period (GeoJSON)")
def hotspots(session: SessionDep, principal: CurrentUser, flt: Filters,
             size_m: Annotated[float, Query(ge=10, le=50_000,
                                            description="hexagon edge in metres")] = 250.0,
             limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> dict:
    return queries.hotspots(session, principal, flt, size_m=size_m, limit=limit)


@router.post("/incidents/import", summary="Bulk import incidents (CSV, GeoJSON, GeoPackage)")
def import_(session: SessionDep, settings: SettingsDep, principal: Reporter,
            file: Annotated[UploadFile, File()],
            crs: Annotated[str | None, Form()] = None,
            lon: Annotated[str | None, Form()] = None,
            lat: Annotated[str | None, Form()] = None,
            skip_invalid: Annotated[bool, Form()] = False) -> dict:
    from gis.io import read_layer
    from gis.store.importer import import_frame

    name = Path(file.filename or "upload").name
    suffix = Path(name).suffix.lower()
    if suffix not in IMPORT_SUFFIXES:
        raise InputError(f"unsupported file type {suffix or '(none)'} (use "
                         f"{', '.join(IMPORT_SUFFIXES)})", file=name, field="file")
    with tempfile.TemporaryDirectory(prefix="gg-import-") as tmp:
        path = Path(tmp) / name
        with open(path, "wb") as out:
            while chunk := file.file.read(1 << 20):
                out.write(chunk)
        gdf = read_layer(path, crs=crs, lon=lon, lat=lat)
        first_id = store.max_incident_id(session)
        report = import_frame(session, "incidents", gdf, skip_invalid=skip_invalid, file=name,
                              timezone=settings.timezone, actor=principal.username,
                              tolerance_m=settings.tolerance_m)
    outside = store.outside_scope(session, first_id, principal)
    if outside:  # the request's transaction is rolled back: nothing of the file is kept
        raise Forbidden(f"{outside} incident(s) of the file lie outside your area; "
                        "nothing was imported")
    return report.as_dict()


@router.get("/incidents/{incident_id}", summary="One incident with its events")
def get(incident_id: ObjectId, session: SessionDep, principal: CurrentUser) -> dict:
    return store.feature(store.get_incident(session, incident_id, principal))


@router.post("/incidents/{incident_id}/transitions",
             summary="Move an incident through the loop (409 lists the allowed actions)")
def transition(incident_id: ObjectId, body: TransitionIn, session: SessionDep,
               principal: Dispatcher) -> dict:
    row = store.transition(session, incident_id, body.action, version=body.version,
                           principal=principal, note=body.note)
    return store.feature(row)


@router.get("/locate", summary="Grid, community, township, staff and nearest worker of a place")
def locate(session: SessionDep, settings: SettingsDep, principal: CurrentUser,
           lon: Annotated[float, Query(ge=-180, le=180)],
           lat: Annotated[float, Query(ge=-90, le=90)],
           crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84",
           patrol_hours: Annotated[float, Query(gt=0, le=168)] = 12.0) -> dict:
    return queries.locate(session, lon, lat, principal, crs=crs,
                          tolerance_m=settings.tolerance_m, patrol_hours=patrol_hours)
