"""Departments and routing rules (issue 16): admins register them; everyone signed in
lists the departments of their area (a department account: its own). Use cases:
gis.services.departments."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentUser, require
from api.deps import EngineDep, ObjectId
from gis.services import deadlines, summons
from gis.services import departments as service
from gis.services.accounts import Principal

router = APIRouter(tags=["departments"])
Admin = Annotated[Principal, Depends(require("admin"))]
Summoner = Annotated[Principal, Depends(require("dispatcher", "grid_worker"))]


class DepartmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=32, description="e.g. zhujian")
    name: str = Field(min_length=1, max_length=100, description="e.g. 县住建局")
    area_code: str = Field(min_length=12, max_length=12,
                           description="12-digit code of the county or township served")
    contact: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=254, description="notices are mailed here "
                              "when an SMTP server is configured (GRIDGIS_SMTP_HOST)")


class WhistleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    departments: list[str] = Field(min_length=1, max_length=31,
                                   description="codes of the departments summoned")
    note: str | None = Field(None, max_length=4000)


class ExtensionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["extension", "pause"] = "extension"
    amount: float | None = Field(None, gt=0, le=365, description="extension: how much more")
    unit: Literal["hours", "working_days"] = "working_days"
    reason: str = Field(min_length=1, max_length=4000)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approve: bool
    note: str | None = Field(None, max_length=4000)


class CallbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    solved: bool
    satisfaction: int | None = Field(None, ge=1, le=5, description="1 (very unhappy) - 5")
    note: str | None = Field(None, max_length=4000)


class RoutingRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: str = Field(min_length=1, max_length=24)
    subcategory: str | None = Field(None, max_length=24, description="empty: any")
    area_code: str = Field(min_length=12, max_length=12)
    department_code: str = Field(min_length=1, max_length=32)


@router.post("/departments", status_code=201, summary="Register a department (admin)")
def create(body: DepartmentIn, engine: EngineDep, principal: Admin) -> dict:
    return service.create(engine, principal, **body.model_dump())


@router.get("/departments", summary="Departments of your area")
def list_(engine: EngineDep, principal: CurrentUser) -> dict:
    return {"departments": service.list_all(engine, principal)}


@router.post("/routing-rules", status_code=201, summary="Add a routing rule (admin)")
def create_rule(body: RoutingRuleIn, engine: EngineDep, principal: Admin) -> dict:
    return service.create_rule(engine, principal, **body.model_dump())


@router.get("/routing-rules", summary="Routing rules")
def list_rules(engine: EngineDep, principal: Annotated[
        Principal, Depends(require("dispatcher", "analyst"))],
        category: str | None = None) -> dict:
    return {"rules": service.list_rules(engine, category=category)}


@router.post("/incidents/{incident_id}/whistle",
             summary="Summon departments to an incident (网格吹哨); each must report in")
def whistle(incident_id: ObjectId, body: WhistleIn, engine: EngineDep,
            principal: Summoner) -> dict:
    return summons.whistle(engine, principal, incident_id, body.departments, note=body.note)


@router.get("/incidents/{incident_id}/summons", summary="The departments' parts in an incident")
def list_summons(incident_id: ObjectId, engine: EngineDep, principal: CurrentUser) -> dict:
    return {"summons": summons.list_for(engine, principal, incident_id)}


@router.post("/incidents/{incident_id}/extensions", status_code=201,
             summary="Ask for more time (延期申请) or a pause (暂停) on your department's part")
def request_extension(incident_id: ObjectId, body: ExtensionIn, engine: EngineDep,
                      principal: Annotated[Principal, Depends(require("department"))]) -> dict:
    return deadlines.request(engine, principal, incident_id, amount=body.amount,
                             unit=body.unit, reason=body.reason, kind=body.kind)


@router.get("/incidents/{incident_id}/extensions", summary="Extension requests of an incident")
def list_extensions(incident_id: ObjectId, engine: EngineDep, principal: CurrentUser) -> dict:
    return {"extensions": deadlines.list_for(engine, principal, incident_id)}


@router.post("/extensions/{request_id}/decision",
             summary="Approve or refuse an extension (the level above)")
def decide_extension(request_id: ObjectId, body: DecisionIn, engine: EngineDep,
                     principal: Annotated[Principal, Depends(require("dispatcher"))]) -> dict:
    return deadlines.decide(engine, principal, request_id, approve=body.approve,
                            note=body.note)


@router.post("/incidents/{incident_id}/callback",
             summary="Record the reporter's answer before closing (回访); unsatisfied reopens")
def callback(incident_id: ObjectId, body: CallbackIn, engine: EngineDep,
             principal: Annotated[Principal, Depends(require("dispatcher"))]) -> dict:
    return summons.callback(engine, principal, incident_id, solved=body.solved,
                            satisfaction=body.satisfaction, note=body.note)


@router.get("/queue", summary="Your department's queue: waiting, handling, overdue")
def queue(engine: EngineDep, principal: Annotated[Principal, Depends(require("department"))],
          done: bool = False) -> dict:
    return summons.queue(engine, principal, include_done=done)


@router.post("/extensions/{request_id}/resume", summary="End a running pause")
def resume_pause(request_id: ObjectId, engine: EngineDep, principal: Annotated[
        Principal, Depends(require("dispatcher", "department"))]) -> dict:
    return deadlines.resume(engine, principal, request_id)
