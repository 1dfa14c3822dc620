"""The audit log for administrators: who changed what and when, with before/after
images (grids and plans, incident steps, cameras). Everyone else gets 403: the log
names people and places across every area, so it is not filtered by scope but closed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from api.auth import require
from api.deps import EngineDep, SettingsDep, Timestamp
from gis.errors import InputError
from gis.services import audit as service
from gis.services.accounts import Principal

router = APIRouter(tags=["audit"])
Admin = Annotated[Principal, Depends(require("admin"))]
MAX_PAGE = 1000


class AuditEntry(BaseModel):
    id: int
    at: str
    actor: str | None
    action: str
    entity: str
    entity_id: str | None
    before: dict | None
    after: dict | None


class AuditPage(BaseModel):
    entries: list[AuditEntry]
    numberMatched: int
    numberReturned: int
    next_offset: int | None


def _aware(value: datetime | None, tz: str) -> datetime | None:
    """Times without a zone are local time of the deployment (Settings.timezone)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=ZoneInfo(tz))


Text = Annotated[str | None, Query(max_length=200)]


@router.get("/audit", summary="The audit log (administrators only), newest first",
            response_model=AuditPage)
def audit_log(engine: EngineDep, settings: SettingsDep, principal: Admin,
              entity: Annotated[str | None, Query(max_length=200, description=
                                                  "plan, incident, camera, ...")] = None,
              entity_id: Text = None, actor: Text = None, action: Text = None,
              since: Annotated[Timestamp | None, Query(description="at or after")] = None,
              until: Annotated[Timestamp | None, Query(description="before")] = None,
              limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
              offset: Annotated[int, Query(ge=0, le=10**9)] = 0) -> dict:
    since, until = _aware(since, settings.timezone), _aware(until, settings.timezone)
    total, rows = service.entries(engine, entity=entity, entity_id=entity_id, actor=actor,
                                  action=action, since=since, until=until, limit=limit,
                                  offset=offset)
    end = offset + len(rows)
    return {"entries": rows, "numberMatched": total, "numberReturned": len(rows),
            "next_offset": end if end < total else None}
