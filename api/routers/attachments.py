"""Photos on incidents (issue 16): upload on the report or a step, read the served copy
(EXIF removed) or its thumbnail. Access follows the incident's scope. Use cases:
gis.services.attachments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import FileResponse

from api.auth import CurrentUser, require
from api.deps import EngineDep, ObjectId, SettingsDep
from api.idempotency import IdempotencyDep
from gis.errors import InputError
from gis.services import attachments as service
from gis.services.accounts import Principal

router = APIRouter(tags=["attachments"])
Uploader = Annotated[Principal, Depends(require("dispatcher", "grid_worker", "department"))]
# The served copies never change (named by content): a browser may keep them.
CACHE = {"Cache-Control": "private, max-age=86400, immutable",
         "X-Content-Type-Options": "nosniff"}


def _read_capped(file: UploadFile, limit: int) -> bytes:
    """The upload, refused as soon as it passes ``limit`` bytes (never read whole)."""
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"the file is larger than {limit:,} bytes", field="file")
    return data


@router.post("/incidents/{incident_id}/attachments", status_code=201,
             summary="Attach a photo (JPEG, PNG, WebP or HEIC) to an incident")
def upload(incident_id: ObjectId, engine: EngineDep, settings: SettingsDep,
           principal: Uploader, file: Annotated[UploadFile, File()], once: IdempotencyDep,
           step: Annotated[str | None, Form(max_length=16)] = None) -> dict:
    limits = service.Limits()
    row = service.upload(engine, settings, principal, incident_id,
                         _read_capped(file, limits.max_bytes), step=step or None, limits=limits,
                         once=once)
    return {"id": row["id"], "sha256": row["sha256"], "content_type": row["content_type"],
            "bytes": row["bytes"], "step": row["step"], "width": row["width"],
            "height": row["height"], "distance_m": row["distance_m"], "far": row["far"]}


@router.get("/incidents/{incident_id}/attachments", summary="Photos of an incident")
def list_(incident_id: ObjectId, engine: EngineDep, principal: CurrentUser) -> dict:
    return {"attachments": service.list_for(engine, principal, incident_id)}


@router.get("/attachments/{attachment_id}", summary="A photo, EXIF removed",
            response_class=FileResponse)
def get(attachment_id: ObjectId, engine: EngineDep, settings: SettingsDep,
        principal: CurrentUser) -> FileResponse:
    path, kind = service.file_of(engine, settings, principal, attachment_id)
    return FileResponse(path, media_type=kind, headers=CACHE)


@router.get("/attachments/{attachment_id}/thumbnail", summary="A photo's thumbnail (JPEG)",
            response_class=FileResponse)
def thumbnail(attachment_id: ObjectId, engine: EngineDep, settings: SettingsDep,
              principal: CurrentUser) -> FileResponse:
    path, kind = service.file_of(engine, settings, principal, attachment_id, thumbnail=True)
    return FileResponse(path, media_type=kind, headers=CACHE)
