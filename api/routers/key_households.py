"""The key-household register (重点家庭/特殊群体, issue 18): list within your area, read, add,
edit with optimistic locking (409 with the current version), delete, import a file.
Least personal data: a household reference, the kind of need, a building or position and
the responsible worker; no names, ID numbers or phones (a file carrying such a column is
refused). Every read is audited. Use cases: gis.services.key_households."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.auth import require
from api.deps import EngineDep, ObjectId
from api.uploads import saved_upload
from gis.assessment.register import check_reference
from gis.errors import InputError
from gis.services import key_households as service
from gis.services.accounts import Principal
from gis.vocabulary import KEY_HOUSEHOLD_KINDS

router = APIRouter(tags=["key households"])
# the register: community staff keep it; analysts and the workers themselves read it
Reader = Annotated[Principal, Depends(require("dispatcher", "analyst", "grid_worker"))]
Editor = Annotated[Principal, Depends(require("dispatcher"))]
Kind = Literal[KEY_HOUSEHOLD_KINDS]  # type: ignore[valid-type]
Ref = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00]*\S[^\x00]*$",
                           description="the register's own reference for the household "
                                       "(never a name, ID number or phone)")]
Worker = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00]*\S[^\x00]*$")]
IMPORT_SUFFIXES = (".csv", ".tsv", ".gpkg", ".geojson", ".json")


def _check_ref(ref: str | None) -> None:
    why = None if ref is None else check_reference(ref.strip())
    if why:
        raise InputError(f"household {why}", field="household")


class KeyHouseholdIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    household: Ref
    kind: Kind
    building: int | None = Field(None, ge=1, le=2**63 - 1, description="building id")
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    responsible_worker: Worker | None = None


class KeyHouseholdPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, le=2**31 - 1,
                         description="the version you read (optimistic locking)")
    household: Ref | None = None
    kind: Kind | None = None
    building: int | None = Field(None, ge=1, le=2**63 - 1)
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    responsible_worker: Worker | None = None


def _row(body: BaseModel) -> dict:
    d = body.model_dump()
    if (d["lon"] is None) != (d["lat"] is None):
        raise InputError("send lon and lat together", field="lon" if d["lon"] is None else "lat")
    _check_ref(d.get("household"))
    return {"household_ref": d.get("household") and d["household"].strip(), "kind": d["kind"],
            "building_id": d["building"], "lon": d["lon"], "lat": d["lat"],
            "responsible_worker": d["responsible_worker"]}


@router.get("/key-households", summary="Key households of an area within yours (audited)")
def list_(engine: EngineDep, principal: Reader,
          area: Annotated[str | None, Query(max_length=40,
                                            description="admin or grid code")] = None,
          kind: Kind | None = None,
          limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 1000,
          offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0) -> dict:
    total, rows = service.list_page(engine, principal, area=area, kind=kind, limit=limit,
                                    offset=offset)
    return {"households": rows, "numberMatched": total, "numberReturned": len(rows),
            "next_offset": offset + len(rows) if offset + len(rows) < total else None}


@router.get("/key-households/{kh_id}", summary="One key household (audited)")
def get(kh_id: ObjectId, engine: EngineDep, principal: Reader) -> dict:
    return service.get(engine, principal, kh_id)


@router.post("/key-households", status_code=201, summary="Register a key household")
def create(body: KeyHouseholdIn, engine: EngineDep, principal: Editor) -> dict:
    return service.create(engine, principal, _row(body))


@router.patch("/key-households/{kh_id}",
              summary="Edit a key household (409 with current_version if stale)")
def patch(kh_id: ObjectId, body: KeyHouseholdPatch, engine: EngineDep, principal: Editor) -> dict:
    return service.update(engine, principal, kh_id, body.version, _row(body))


@router.delete("/key-households/{kh_id}", status_code=204, response_class=Response,
               summary="Remove a key household (409 with current_version if stale)")
def delete(kh_id: ObjectId, engine: EngineDep, principal: Editor,
           version: Annotated[int, Query(ge=1, le=2**31 - 1)]) -> Response:
    service.delete(engine, principal, kh_id, version)
    return Response(status_code=204)


@router.post("/key-households/import",
             summary="Import key households (CSV, GeoPackage, GeoJSON): all rows or none")
def import_(engine: EngineDep, principal: Editor, file: Annotated[UploadFile, File()],
            crs: Annotated[str | None, Form(max_length=40,
                                            description="CRS of CSV lon/lat: 4326, gcj02, "
                                                        "bd09, an EPSG code")] = None) -> dict:
    with saved_upload(file, IMPORT_SUFFIXES) as (path, name):
        return service.import_file(engine, principal, path, name=name, crs=crs)
