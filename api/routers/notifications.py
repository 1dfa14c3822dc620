"""Inbox and supervision (issue 16): `GET /notifications` (with the unread count),
`POST /notifications/{id}/read`, `POST /notifications/read`; `GET /supervision` (open
notices in your area), `POST /supervision/run` (raise the notices due; admin or dispatcher,
optionally at a given time). Use cases: gis.services.notifications and .supervision."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict

from api.auth import CurrentUser, require
from api.deps import EngineDep, ObjectId
from gis.errors import Forbidden
from gis.services import notifications, supervision
from gis.services.accounts import Principal

router = APIRouter(tags=["notifications"])


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: datetime | None = None


@router.get("/notifications", summary="Your inbox, newest first, with the unread count")
def inbox(engine: EngineDep, principal: CurrentUser, unread: bool = False,
          limit: Annotated[int, Query(ge=0, le=1000)] = 100) -> dict:
    return notifications.inbox(engine, principal, unread_only=unread, limit=limit)


@router.post("/notifications/{notification_id}/read", summary="Mark one notification read")
def read_one(notification_id: ObjectId, engine: EngineDep, principal: CurrentUser) -> dict:
    return notifications.mark_read(engine, principal, notification_id)


@router.post("/notifications/read", summary="Mark all your notifications read")
def read_all(engine: EngineDep, principal: CurrentUser) -> dict:
    return notifications.mark_read(engine, principal)


@router.get("/supervision", summary="Open supervision notices (督办) in your area")
def list_notices(engine: EngineDep, principal: CurrentUser, all: bool = False) -> dict:
    return {"notices": supervision.notices(engine, principal, open_only=not all)}


@router.post("/supervision/run", summary="Raise the supervision notices due (at a time)")
def run(engine: EngineDep, principal: Annotated[Principal, Depends(require("dispatcher"))],
        body: RunIn | None = None) -> dict:
    at = body.at if body else None
    if at is not None and principal.role != "admin":
        # raising notices as of another time is a clock override: admins only
        raise Forbidden("only an admin may run supervision at a chosen time")
    return supervision.run(engine, now=at, actor=principal.username, principal=principal)
