"""The duty roster (issue 18's fairness rule): ``POST /rosters/import`` stores a CSV of
``worker, date, on`` for the workers of your area, so GET /workers/assessment excludes
their days off exactly as ``gridgis assess --roster`` does. Use case:
gis.services.assessment.import_roster."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, UploadFile

from api.auth import require
from api.deps import EngineDep
from api.uploads import saved_upload
from gis.services import assessment as service
from gis.services.accounts import Principal

router = APIRouter(tags=["workers"])
Editor = Annotated[Principal, Depends(require("dispatcher"))]
SUFFIXES = (".csv", ".tsv")


@router.post("/rosters/import",
             summary="Import a duty roster (CSV: worker, date, on): all rows or none")
def import_(engine: EngineDep, principal: Editor, file: Annotated[UploadFile, File()]) -> dict:
    with saved_upload(file, SUFFIXES,
                      refusal=f"a roster is a CSV file ({', '.join(SUFFIXES)})") as (path, name):
        return service.import_roster(engine, principal, path, name=name)
