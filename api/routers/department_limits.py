"""Department time limits of this deployment (issue 16 items 4 and 10): admins set the
limits to acknowledge (报到) and to handle (办结) per category (optionally subcategory) and
area, in hours or working days; dispatchers and analysts read them. A limit is fixed on a
department's part when it begins, so a change never moves a deadline already set. Use
cases: gis.services.department_limits."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require
from api.deps import EngineDep, ObjectId
from api.uploads import saved_upload
from gis.department_limits import MAX_AMOUNT
from gis.services import department_limits as service
from gis.services.accounts import Principal

router = APIRouter(tags=["departments"])
Admin = Annotated[Principal, Depends(require("admin"))]
Reader = Annotated[Principal, Depends(require("dispatcher", "analyst"))]
SUFFIXES = (".csv",)


class LimitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    step: Literal["acknowledge", "handle"] = Field(
        description="acknowledge: report in (报到); handle: feed back (办结)")
    category: str = Field(min_length=1, max_length=24)
    subcategory: str | None = Field(None, max_length=24, description="empty: any")
    area_code: str = Field(min_length=12, max_length=12,
                           description="12-digit code of the county, township or community")
    amount: float = Field(gt=0, le=max(MAX_AMOUNT.values()),
                          description="at most 365 working days or 8760 hours")
    unit: Literal["hours", "working_days"]


@router.get("/department-limits", summary="Department time limits of your area")
def list_(engine: EngineDep, principal: Reader, category: str | None = None) -> dict:
    return {"limits": service.list_all(engine, principal, category=category)}


@router.post("/department-limits", status_code=201,
             summary="Set a department time limit (admin): 201 new, 200 replaced the rule "
                     "with the same step, category, subcategory and area",
             responses={200: {"description": "The stored rule with the same key, replaced"}})
def set_limit(body: LimitIn, engine: EngineDep, principal: Admin, response: Response) -> dict:
    row, created = service.set_limit(engine, principal, **body.model_dump())
    if not created:
        response.status_code = 200
    return row


@router.delete("/department-limits/{limit_id}", status_code=204, response_class=Response,
               summary="Remove a department time limit (admin)")
def delete(limit_id: ObjectId, engine: EngineDep, principal: Admin) -> Response:
    service.remove(engine, principal, limit_id)
    return Response(status_code=204)


@router.post("/department-limits/import",
             summary="Import department time limits (CSV: step, category, subcategory, "
                     "area_code, amount, unit): all rows or none")
def import_(engine: EngineDep, principal: Admin, file: Annotated[UploadFile, File()]) -> dict:
    with saved_upload(file, SUFFIXES, refusal="department limits come as a CSV file "
                                              "(.csv)") as (path, name):
        return service.import_file(engine, principal, path, name=name)
