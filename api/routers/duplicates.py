"""Duplicates (issue 16): `GET /incidents/{id}/duplicates` and `POST /incidents/{id}/merge`
`{into, version}`. Incidents closed within the reopen window (`GRIDGIS_REOPEN_WINDOW_DAYS`,
30) are listed too, marked `"reopen": true`: merging a new report into one reopens it (重办);
merging into one closed earlier is a 409. Use cases: gis.services.duplicates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentUser, require
from api.deps import MAX_ID, EngineDep, ObjectId, SettingsDep
from gis.services import duplicates as service
from gis.services.accounts import Principal

router = APIRouter(tags=["incidents"])
Dispatcher = Annotated[Principal, Depends(require("dispatcher"))]


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    into: int = Field(ge=1, le=MAX_ID, description="the incident that survives")
    version: int = Field(ge=1, description="the version of this incident you read")


@router.get("/incidents/{incident_id}/duplicates",
            summary="Likely duplicates: same category, near, reported close in time, open; "
                    "then those closed within the reopen window (reopen: true)")
def duplicates(incident_id: ObjectId, engine: EngineDep, principal: CurrentUser,
               settings: SettingsDep,
               distance_m: Annotated[float, Query(gt=0, le=5000)] = service.DEFAULT_DISTANCE_M,
               hours: Annotated[float, Query(gt=0, le=24 * 365)] = service.DEFAULT_WITHIN_HOURS
               ) -> dict:
    days = settings.reopen_window_days
    return {"duplicates": service.find(engine, principal, incident_id, distance_m=distance_m,
                                       within_hours=hours, reopen_days=days),
            "distance_m": distance_m, "hours": hours, "reopen_window_days": days}


@router.post("/incidents/{incident_id}/merge",
             summary="Merge this incident into another (it closes as merged); a survivor "
                     "closed within the reopen window reopens (重办), an older one is a 409")
def merge(incident_id: ObjectId, body: MergeIn, engine: EngineDep, principal: Dispatcher,
          settings: SettingsDep) -> dict:
    return service.merge(engine, principal, incident_id, into=body.into, version=body.version,
                         reopen_days=settings.reopen_window_days)
