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
from api.deps import ObjectId, SessionDep, SettingsDep
from api.limits import check_frame, drawn_geometry
from gis import plan_edits
from gis.csvsafe import csv_text
from gis.errors import Forbidden, InputError
from gis.store import audit
from gis.store import plans as store
from gis.store.users import Principal

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


def _in_scope(principal: Principal, area_code: str) -> None:
    if not area_code.startswith(principal.scope_prefix):
        raise Forbidden(f"area {area_code} is outside your scope")


def _summary(plan) -> dict:
    return {"id": plan.id, "name": plan.name, "area_code": plan.area_code, "status": plan.status,
            "source": plan.source, "version": plan.version, "base_version": plan.base_version,
            "report": plan.report, "created_by": plan.created_by}


def _features(gdf: gpd.GeoDataFrame) -> dict:
    return json.loads(gdf.to_json(drop_id=True)) if len(gdf) else {"type": "FeatureCollection",
                                                                     "features": []}


@router.post("", status_code=201, summary="Create a plan by partition or from the current grids")
def create(body: PlanIn, session: SessionDep, settings: SettingsDep, principal: Planner) -> dict:
    _in_scope(principal, body.area_code)
    if body.min_households > body.max_households:
        raise InputError("min_households must not exceed max_households", field="min_households")
    if body.source == "partition":
        grids, report = store.partition_area(session, body.area_code,
                                             min_households=body.min_households,
                                             max_households=body.max_households,
                                             code_width=settings.grid_code_width)
    else:
        grids, report = store.current_grids(session, body.area_code).rename_geometry("geometry"), None
    plan = store.create_plan(session, body.area_code, grids, name=body.name, source=body.source,
                             actor=principal.username, params=body.model_dump(), report=report)
    return _summary(plan)


def _read_upload(file: UploadFile) -> gpd.GeoDataFrame:
    from gis.io import read_layer

    suffix = Path(file.filename or "plan.gpkg").suffix or ".gpkg"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(file.file.read())
        return check_frame(read_layer(path), file.filename)


@router.post("/upload", status_code=201, summary="Create a plan from a drawn file (GeoPackage/GeoJSON)")
def upload(session: SessionDep, principal: Planner, file: UploadFile = File(...),
           name: str = Form(...), area_code: str = Form(..., pattern=r"^[0-9]{12}$")) -> dict:
    _in_scope(principal, area_code)
    grids = _read_upload(file)
    if "code" not in grids:
        grids["code"] = None
    us = store.units(session, area_code)
    grids = plan_edits.recount(grids, us) if len(us) else grids.assign(households=0)
    plan = store.create_plan(session, area_code, grids, name=name, source="upload",
                             actor=principal.username)
    return {**_summary(plan), "repaired": grids.attrs.get("repaired", [])}


@router.post("/rebalance", status_code=201,
             summary="Create a plan that repairs grids out of bounds, changing as little as possible")
def rebalance(body: RebalanceIn, session: SessionDep, settings: SettingsDep,
              principal: Planner) -> dict:
    _in_scope(principal, body.area_code)
    if body.min_households > body.max_households:
        raise InputError("min_households must not exceed max_households", field="min_households")
    grids, report = store.rebalance_area(session, body.area_code,
                                         min_households=body.min_households,
                                         max_households=body.max_households,
                                         code_width=settings.grid_code_width)
    plan = store.create_plan(session, body.area_code, grids,
                             name=body.name or f"rebalance {body.area_code}", source="rebalance",
                             actor=principal.username, params=body.model_dump(), report=report)
    return _summary(plan)


@router.post("/crosswalk", summary="Crosswalk from another grid system to the current grids",
             responses={200: {"content": {"text/csv": {}}}})
def crosswalk(session: SessionDep, principal: Analyst, file: UploadFile = File(...),
              area_code: str = Form(..., pattern=r"^[0-9]{12}$"),
              code_field: str = Form("code", min_length=1),
              format: Literal["json", "csv"] = Form("json")):
    _in_scope(principal, area_code)
    other = _read_upload(file)
    repaired = other.attrs.get("repaired", [])
    table = store.crosswalk_area(session, area_code, other, code_field)
    if format == "csv":
        return Response(csv_text(table), media_type="text/csv", headers={
            "Content-Disposition": 'attachment; filename="crosswalk.csv"',
            "X-Gridgis-Repaired": "; ".join(f"{r['feature']}: {r['reason']}" for r in repaired)
            .encode("ascii", "backslashreplace").decode()[:2000] or "none"})
    return {"count": len(table), "rows": json.loads(table.to_json(orient="records")),
            "repaired": repaired}


@router.get("/{plan_id}", summary="A plan and its quality report")
def get(plan_id: ObjectId, session: SessionDep, principal: CurrentUser) -> dict:
    return _summary(store.get_plan(session, plan_id, principal.scope_prefix))


@router.get("/{plan_id}/grids", summary="The plan's grids as GeoJSON")
def grids(plan_id: ObjectId, session: SessionDep, principal: CurrentUser) -> dict:
    store.get_plan(session, plan_id, principal.scope_prefix)
    return _features(store.plan_grids(session, plan_id))


@router.get("/{plan_id}/violations", summary="Validate: every rule broken, with geometry")
def violations(plan_id: ObjectId, session: SessionDep, principal: CurrentUser,
               min_households: int = 300, max_households: int = 500) -> dict:
    plan = store.get_plan(session, plan_id, principal.scope_prefix)
    found = store.validate_plan(session, plan, min_households=min_households,
                                max_households=max_households)
    return {"valid": len(found) == 0, "count": len(found), **_features(found)}


@router.get("/{plan_id}/diff", summary="What publishing would change")
def diff(plan_id: ObjectId, session: SessionDep, principal: CurrentUser) -> dict:
    return store.diff_plan(session, store.get_plan(session, plan_id, principal.scope_prefix))


@router.post("/{plan_id}/edits", summary="Merge, split, redraw or move; returns the new version")
def edit(plan_id: ObjectId, body: EditIn, session: SessionDep, principal: Planner) -> dict:
    plan = store.get_plan(session, plan_id, principal.scope_prefix, for_update=True)
    store.check_version(plan, body.version)
    grids = store.plan_grids(session, plan_id).rename_geometry("geometry")
    geom = drawn_geometry(body.geometry)
    if body.op == "merge":
        grids = plan_edits.merge(grids, body.code, body.other)
    elif body.op == "split":
        grids = plan_edits.split(grids, body.code, geom)
    elif body.op == "redraw":
        grids = plan_edits.redraw(grids, body.code, geom)
    else:
        grids = plan_edits.move_area(grids, geom, body.to_code)
    us = store.units(session, plan.area_code)
    grids = plan_edits.recount(grids, us) if len(us) else grids
    before = {"version": plan.version, "grids": int(store.plan_grid_count(session, plan.id))}
    store.save_grids(session, plan, grids)
    plan.version += 1
    audit.record(session, principal.username, f"edit:{body.op}", "plan", plan.id, before=before,
                 after={"version": plan.version, "grids": len(grids), "code": body.code,
                        "other": body.other, "to_code": body.to_code})
    return _summary(plan)


@router.post("/{plan_id}/publish", summary="Publish atomically as the current grids")
def publish(plan_id: ObjectId, body: PublishIn, session: SessionDep, settings: SettingsDep,
            principal: Planner) -> dict:
    return store.publish(session, plan_id, body.version, actor=principal.username,
                         prefix=principal.scope_prefix, tolerance_m=settings.tolerance_m)
