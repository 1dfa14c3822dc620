"""Inbox and supervision (issue 16): `GET /notifications` (with the unread count),
`GET /notifications/stream` (the same inbox, live: server-sent events, :mod:`api.live`),
`POST /notifications/{id}/read`, `POST /notifications/read`; `GET /supervision` (open
notices in your area), `POST /supervision/run` (raise the notices due; admin or dispatcher,
optionally at a given time). Use cases: gis.services.notifications and .supervision."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict

from api import live
from api.auth import COOKIE, CurrentUser, request_token, require
from api.deps import MAX_ID, EngineDep, ObjectId
from gis.errors import Forbidden
from gis.services import accounts, notifications, supervision
from gis.services.accounts import Principal

router = APIRouter(tags=["notifications"])


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: datetime | None = None


@router.get("/notifications", summary="Your inbox, newest first, with the unread count")
def inbox(engine: EngineDep, principal: CurrentUser, unread: bool = False,
          limit: Annotated[int, Query(ge=0, le=1000)] = 100) -> dict:
    return notifications.inbox(engine, principal, unread_only=unread, limit=limit)


STREAM_DOC = {200: {"description": "An endless ``text/event-stream``: first an ``inbox`` event "
                   "with the unread count (and, on a resume with Last-Event-ID, the "
                   "notifications after that id), then an ``inbox`` event whenever the "
                   "caller's inbox changes (``id:`` the newest notification id; data "
                   "``{unread, notifications}`` holding only the new ones), a comment "
                   "line as heartbeat, and ``end`` when the credentials expire.",
                   "content": {"text/event-stream": {"schema": {"type": "string"}}}}}


@router.get("/notifications/stream", summary="Your inbox, live (server-sent events)",
            response_class=StreamingResponse, responses=STREAM_DOC)
async def stream(request: Request, principal: CurrentUser,
                 last_event_id: Annotated[int | None, Header(
                     alias="Last-Event-ID", ge=0, le=MAX_ID,
                     description="resume after this notification id (EventSource sends "
                                 "the last id it saw when it reconnects)")] = None):
    # Browsers' EventSource cannot send headers: the pages use the session cookie, as for
    # every other call; API clients may send their Bearer token. No token in the URL.
    hub = live.hub_of(request.app)
    hub.reserve()
    engine = request.app.state.engine
    token = request_token(request.headers.get("authorization", ""), request.cookies.get(COOKIE))

    def still_valid() -> bool:
        return accounts.authenticate(engine, token) is not None

    return live.EventStream(live.inbox_events(hub, principal, last_event_id, still_valid),
                            on_close=hub.release)


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
