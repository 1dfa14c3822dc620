"""Patrol (半日一巡): compliance per grid and window, rates, missed grids, track lines,
and the phone upload of GPS fixes. Use cases: gis.services.patrol."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

import pandas as pd
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentUser, require
from api.deps import BoundedTimestamp, EngineDep, SettingsDep
from gis.errors import InputError
from gis.patrol.windows import parse_window
from gis.services import patrol as service
from gis.services.accounts import Principal

router = APIRouter(prefix="/patrol", tags=["patrol"])
Uploader = Annotated[Principal, Depends(require("grid_worker", "dispatcher"))]
Area = Annotated[str | None, Query(pattern=r"^[0-9]{6,40}$", description="admin or grid code")]


def _aware(value: datetime | None, tz: str, field: str) -> datetime | None:
    """Times without a zone are local time of the deployment (Settings.timezone). Years
    outside 1970-2200 are refused: no patrol happened then, and zones of old dates have
    second offsets (LMT +08:05:43) that the window labels cannot carry."""
    if value is None:
        return value
    if not 1970 <= value.year <= 2200:
        raise InputError(f"{field} must lie between the years 1970 and 2200", field=field)
    return value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo(tz))


def period(settings: SettingsDep, area: Area = None,
           start: Annotated[BoundedTimestamp | None, Query(alias="from", description="period start")] = None,
           end: Annotated[BoundedTimestamp | None, Query(alias="to", description="period end (exclusive)")] = None,
           window: Annotated[str, Query(max_length=10, description="window length, e.g. 12h")] = "12h",
           min_minutes: Annotated[float | None, Query(ge=0, le=720)] = service.DEFAULT_MIN_MINUTES,
           min_metres: Annotated[float | None, Query(ge=0, le=100_000)] = None) -> service.Period:
    parse_window(window)  # 422 naming the field before any query
    return service.Period(area=area, start=_aware(start, settings.timezone, "from"),
                        end=_aware(end, settings.timezone, "to"), window=window, tz=settings.timezone,
                        min_minutes=min_minutes, min_metres=min_metres)


PeriodDep = Annotated[service.Period, Depends(period)]


def _records(df: pd.DataFrame) -> list[dict]:
    """JSON-safe rows (numpy scalars and NaN become plain values / null)."""
    return json.loads(df.to_json(orient="records", force_ascii=False))


@router.get("/compliance", summary="Patrolled or not, per grid and window (JSON or GeoJSON)")
def compliance(engine: EngineDep, principal: CurrentUser, p: PeriodDep,
               f: Literal["json", "geojson"] = "json") -> dict:
    res = service.compliance(engine, principal, p)
    if f == "geojson":
        return _choropleth(res)
    t = res.table
    return {"windows": len(res.starts), "grids": len(res.grids), "fixes": res.fixes,
            "dropped": res.dropped,
            "patrolled_share": float(t["patrolled"].mean()) if len(t) else 0.0,
            "items": _records(t)}


def _choropleth(res: service.Result) -> dict:
    """One feature per grid: windows, patrolled windows and their share."""
    per = service.rates_by(res, "grid", service.Period()).set_index("grid")
    minutes = res.table.groupby("grid")["minutes"].sum()
    feats = []
    for code, geom in zip(res.grids["code"], res.grids.geometry):
        r = per.loc[code]
        feats.append({"type": "Feature", "geometry": geom.__geo_interface__, "properties": {
            "grid": code, "windows": int(r["windows"]), "patrolled": int(r["patrolled"]),
            "rate": float(r["rate"]), "minutes": round(float(minutes.get(code, 0.0)), 3)}})
    return {"type": "FeatureCollection", "features": feats}


@router.get("/rates", summary="Share of windows patrolled per grid, community, township or worker")
def rates(engine: EngineDep, principal: CurrentUser, p: PeriodDep,
          by: Literal["grid", "community", "township", "worker"] = "grid") -> dict:
    res = service.compliance(engine, principal, p)
    return {"by": by, "windows": len(res.starts), "items": _records(service.rates_by(res, by, p))}


@router.get("/missed", summary="Grids not patrolled in the last N complete windows")
def missed(engine: EngineDep, principal: CurrentUser, p: PeriodDep,
           last: Annotated[int, Query(ge=1, le=60)] = 2) -> dict:
    out = service.missed(engine, principal, p, last)
    return {"last": last, "items": _records(out)}


@router.get("/tracks", summary="Track lines by worker and day in your area (GeoJSON)")
def tracks(engine: EngineDep, principal: CurrentUser, p: PeriodDep,
           worker: Annotated[str | None, Query(max_length=200)] = None) -> dict:
    lines = service.tracks(engine, principal, p, worker=worker)
    feats = [{"type": "Feature", "geometry": g.__geo_interface__,
              "properties": {"worker": w, "day": d, "start": pd.Timestamp(s).isoformat(),
                             "end": pd.Timestamp(e).isoformat(), "fixes": int(n)}}
             for w, d, s, e, n, g in zip(lines["worker"], lines["day"], lines["start"],
                                         lines["end"], lines["fixes"], lines.geometry)]
    return {"type": "FeatureCollection", "features": feats}


class FixIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    time: BoundedTimestamp
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    accuracy: float | None = Field(None, ge=0, le=100_000)


class PointsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84"
    worker: str | None = Field(None, min_length=1, max_length=200,
                               description="dispatchers only; a grid worker uploads as self")
    points: list[FixIn] = Field(min_length=1, max_length=service.MAX_UPLOAD)


@router.post("/points", status_code=201, summary="Upload GPS fixes from a grid worker's phone")
def upload(body: PointsIn, engine: EngineDep, settings: SettingsDep,
           principal: Uploader) -> dict:
    fixes = [service.Fix(_aware(f.time, settings.timezone, "time"), f.lon, f.lat, f.accuracy)
             for f in body.points]
    return service.upload(engine, principal, fixes, crs=body.crs, worker=body.worker)


@router.get("/streets", summary="Share of each grid's street length patrolled within a distance")
def streets(engine: EngineDep, principal: CurrentUser, p: PeriodDep,
            distance: Annotated[float, Query(ge=1, le=500, description="metres")] = 20.0) -> dict:
    return {"distance": distance,
            "items": _records(service.streets(engine, principal, p, distance=distance))}


@router.get("/visits", summary="Household visits (stops near buildings) per worker and day")
def visits(engine: EngineDep, principal: CurrentUser, p: PeriodDep,
           radius: Annotated[float, Query(ge=5, le=200, description="metres")] = 30.0,
           stop_minutes: Annotated[float, Query(ge=1, le=120)] = 3.0) -> dict:
    out = service.visits(engine, principal, p, radius=radius, min_minutes=stop_minutes)
    return {"norm": service.DAILY_VISIT_NORM, "items": _records(out)}
