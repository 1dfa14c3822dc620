"""The duty roster (issue 18's fairness rule): ``POST /rosters/import`` stores a CSV of
``worker, date, on`` for the workers of your area, so GET /workers/assessment excludes
their days off exactly as ``gridgis assess --roster`` does. Use case:
gis.services.assessment.import_roster."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, UploadFile

from api.auth import require
from api.deps import EngineDep
from gis.errors import InputError
from gis.services import assessment as service
from gis.services.accounts import Principal

router = APIRouter(tags=["workers"])
Editor = Annotated[Principal, Depends(require("dispatcher"))]
SUFFIXES = (".csv", ".tsv")


@router.post("/rosters/import",
             summary="Import a duty roster (CSV: worker, date, on): all rows or none")
def import_(engine: EngineDep, principal: Editor, file: Annotated[UploadFile, File()]) -> dict:
    name = Path(file.filename or "upload").name
    if Path(name).suffix.lower() not in SUFFIXES:
        raise InputError(f"a roster is a CSV file ({', '.join(SUFFIXES)})", file=name,
                         field="file")
    with tempfile.TemporaryDirectory(prefix="gg-roster-") as tmp:
        path = Path(tmp) / name
        with open(path, "wb") as out:
            while chunk := file.file.read(1 << 20):
                out.write(chunk)
        return service.import_roster(engine, principal, path, name=name)
