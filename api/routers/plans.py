"""Plans: draft grid sets made by partition, from the current grids or from an upload;
edits, validation, diff and publish."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated, Literal

import geopandas as gpd
from fastapi import APIRouter, Depends, File, Form, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentUser, require
from api.deps import EngineDep, ObjectId, SettingsDep
from api.limits import check_frame, drawn_geometry
from gis.errors import Forbidden, InputError
from gis.services import plans as service
from gis.services.accounts import Principal

router = APIRouter(prefix="/plans", tags=["plans"])
Planner = Annotated[Principal, Depends(require("planner"))]
Analyst = Annotated[Principal, Depends(require("planner", "analyst"))]


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    area_code: str = Field(pattern=r"^[0-9]{12}$")
    source: Literal["partition", "current"] = "partition"
    min_households: int = Field(300, ge=1)
    max_households: int = Field(500, ge=1)


class EditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    op: Literal["merge", "split", "redraw", "move"]
    version: int
    code: str | None = None
    other: str | None = Field(None, description="merge: the grid merged into `code`")
    to_code: str | None = Field(None, description="move: the receiving grid")
    geometry: dict | None = Field(None, description="GeoJSON: split line, new polygon, or moved piece")


class RebalanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    area_code: str = Field(pattern=r"^[0-9]{12}$")
    name: str | None = Field(None, min_length=1, max_length=200)
    min_households: int = Field(300, ge=1)
    max_households: int = Field(500, ge=1)


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int


def _features(gdf: gpd.GeoDataFrame) -> dict:
    return json.loads(gdf.to_json(drop_id=True)) if len(gdf) else {"type": "FeatureCollection",
                                                                     "features": []}


@router.post("", status_code=201, summary="Create a plan by partition or from the current grids")
def create(body: PlanIn, engine: EngineDep, settings: SettingsDep, principal: Planner) -> dict:
    return service.create(engine, settings, principal, **body.model_dump())


def _read_upload(file: UploadFile) -> gpd.GeoDataFrame:
    from gis.io import read_layer

    suffix = Path(file.filename or "plan.gpkg").suffix or ".gpkg"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(file.file.read())
        try:
            frame = read_layer(path)
        except InputError as exc:  # name the upload and the form field, not the temp path
            name = file.filename or "upload"
            raise InputError(exc.problem.reason.replace(str(path), name), file=name,
                             field="file") from exc
        return check_frame(frame, file.filename)


@router.post("/upload", status_code=201, summary="Create a plan from a drawn file (GeoPackage/GeoJSON)")
def upload(engine: EngineDep, principal: Planner, file: UploadFile = File(...),
           name: str = Form(...), area_code: str = Form(..., pattern=r"^[0-9]{12}$")) -> dict:
    if not area_code.startswith(principal.scope_prefix):  # before reading the upload
        raise Forbidden(f"area {area_code} is outside your scope")
    return service.create_from_upload(engine, principal, _read_upload(file), name=name,
                                      area_code=area_code)


@router.post("/rebalance", status_code=201,
             summary="Create a plan that repairs grids out of bounds, changing as little as possible")
def rebalance(body: RebalanceIn, engine: EngineDep, settings: SettingsDep,
              principal: Planner) -> dict:
    return service.rebalance(engine, settings, principal, **body.model_dump())


@router.post("/crosswalk", summary="Crosswalk from another grid system to the current grids",
             responses={200: {"content": {"text/csv": {}}}})
def crosswalk(engine: EngineDep, principal: Analyst, file: UploadFile = File(...),
              area_code: str = Form(..., pattern=r"^[0-9]{12}$"),
              code_field: str = Form("code", min_length=1),
              format: Literal["json", "csv"] = Form("json")):
    if not area_code.startswith(principal.scope_prefix):  # before reading the upload
        raise Forbidden(f"area {area_code} is outside your scope")
    table = service.crosswalk(engine, principal, area_code, _read_upload(file), code_field)
    if format == "csv":
        return Response(table.to_csv(index=False), media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="crosswalk.csv"'})
    return {"count": len(table), "rows": json.loads(table.to_json(orient="records"))}


@router.get("/{plan_id}", summary="A plan and its quality report")
def get(plan_id: ObjectId, engine: EngineDep, principal: CurrentUser) -> dict:
    return service.get(engine, plan_id, principal)


@router.get("/{plan_id}/grids", summary="The plan's grids as GeoJSON")
def grids(plan_id: ObjectId, engine: EngineDep, principal: CurrentUser) -> dict:
    return _features(service.grids(engine, plan_id, principal))


@router.get("/{plan_id}/violations", summary="Validate: every rule broken, with geometry")
def violations(plan_id: ObjectId, engine: EngineDep, principal: CurrentUser,
               min_households: int = 300, max_households: int = 500) -> dict:
    found = service.violations(engine, plan_id, principal, min_households=min_households,
                               max_households=max_households)
    return {"valid": len(found) == 0, "count": len(found), **_features(found)}


@router.get("/{plan_id}/diff", summary="What publishing would change")
def diff(plan_id: ObjectId, engine: EngineDep, principal: CurrentUser) -> dict:
    return service.diff(engine, plan_id, principal)


@router.post("/{plan_id}/edits", summary="Merge, split, redraw or move; returns the new version")
def edit(plan_id: ObjectId, body: EditIn, engine: EngineDep, principal: Planner) -> dict:
    return service.edit(engine, plan_id, principal, op=body.op, version=body.version,
                        code=body.code, other=body.other, to_code=body.to_code,
                        geometry=drawn_geometry(body.geometry))


@router.post("/{plan_id}/publish", summary="Publish atomically as the current grids")
def publish(plan_id: ObjectId, body: PublishIn, engine: EngineDep, settings: SettingsDep,
            principal: Planner) -> dict:
    return service.publish(engine, settings, plan_id, body.version, principal)
