"""Cameras: list (GeoJSON within your area), read, add, move/rotate/switch with optimistic
locking (409 with the current version), delete. Use cases: gis.services.cameras."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentUser, require
from api.deps import EngineDep, ObjectId
from gis.errors import InputError
from gis.vocabulary import CAMERA_STATUSES, CAMERA_TYPES
from gis.services import cameras as service
from gis.services.accounts import Principal

router = APIRouter(tags=["cameras"])
Editor = Annotated[Principal, Depends(require("analyst"))]
CameraType = Literal[CAMERA_TYPES]  # type: ignore[valid-type]
Status = Literal[CAMERA_STATUSES]  # type: ignore[valid-type]


class CameraIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84"
    type: CameraType
    code: str | None = Field(None, min_length=1, max_length=100)
    status: Status = "online"
    azimuth: float | None = Field(None, ge=-360, le=360, description="degrees clockwise "
                                  "from north")
    fov: float | None = Field(None, gt=0, le=360, description="horizontal field of view")
    range_m: float | None = Field(None, ge=0, le=5000)
    height_m: float | None = Field(None, ge=0, le=500)


class CameraPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, description="the version you read (optimistic locking)")
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84"
    type: CameraType | None = None
    code: str | None = Field(None, min_length=1, max_length=100)
    status: Status | None = None
    azimuth: float | None = Field(None, ge=-360, le=360)
    fov: float | None = Field(None, gt=0, le=360)
    range_m: float | None = Field(None, ge=0, le=5000)
    height_m: float | None = Field(None, ge=0, le=500)


def _bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if not text:
        return None
    try:
        box = tuple(float(v) for v in text.split(","))
    except ValueError:
        box = ()
    if len(box) != 4 or not (-180 <= box[0] <= box[2] <= 180 and -90 <= box[1] <= box[3] <= 90):
        raise InputError("bbox must be minlon,minlat,maxlon,maxlat", field="bbox")
    return box  # type: ignore[return-value]


@router.get("/cameras", summary="Cameras in your area as GeoJSON")
def list_(engine: EngineDep, principal: CurrentUser, status: Status | None = None,
          type: CameraType | None = None,
          bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat")] = None,
          limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 1000,
          offset: Annotated[int, Query(ge=0)] = 0) -> dict:
    total, rows = service.list_page(engine, principal, status=status, type_=type,
                                    bbox=_bbox(bbox), limit=limit, offset=offset)
    return {"type": "FeatureCollection", "features": rows,
            "numberMatched": total, "numberReturned": len(rows),
            "next_offset": offset + len(rows) if offset + len(rows) < total else None}


@router.get("/cameras/{camera_id}", summary="One camera")
def get(camera_id: ObjectId, engine: EngineDep, principal: CurrentUser) -> dict:
    return service.get(engine, camera_id, principal)


@router.post("/cameras", status_code=201, summary="Add a camera")
def create(body: CameraIn, engine: EngineDep, principal: Editor) -> dict:
    return service.create(engine, principal, body.model_dump())


@router.patch("/cameras/{camera_id}",
              summary="Move, rotate or switch a camera (409 with current_version if stale)")
def patch(camera_id: ObjectId, body: CameraPatch, engine: EngineDep, principal: Editor) -> dict:
    return service.update(engine, principal, camera_id, body.version,
                          body.model_dump(exclude={"version"}))


@router.delete("/cameras/{camera_id}", status_code=204, response_class=Response,
               summary="Delete a camera (409 with current_version if stale)")
def delete(camera_id: ObjectId, engine: EngineDep, principal: Editor,
           version: Annotated[int, Query(ge=1)]) -> Response:
    service.delete(engine, principal, camera_id, version)
    return Response(status_code=204)
