"""Grid workers assessed by the 123456 method (issue 18): one row per worker of an area for
a month, JSON or CSV. Use case: gis.services.assessment; rules: gis.assessment."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.auth import require
from api.deps import EngineDep, SettingsDep
from gis.io import csv_safe
from gis.services import assessment as service
from gis.services.accounts import Principal

router = APIRouter(prefix="/workers", tags=["workers"])
# key-household figures: supervisors of the area, and each worker for their own month
Reader = Annotated[Principal, Depends(require("dispatcher", "analyst", "grid_worker"))]
Month = Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM, local time")]
Area = Annotated[str | None, Query(max_length=40, description="admin or grid code")]


@router.get("/assessment", summary="The month's 123456 figures per worker (JSON or CSV)")
def assessment(engine: EngineDep, settings: SettingsDep, principal: Reader, month: Month,
               area: Area = None, f: Literal["json", "csv"] = "json"):
    res = service.month_assessment(engine, principal, month=month, area=area,
                                   tz=settings.timezone)
    if f == "csv":
        text = csv_safe(res.workers).to_csv(index=False)
        return Response(text, media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="assessment-{month}.csv"'})
    cases = res.cases.assign(**{c: res.cases[c].astype(str).where(res.cases[c].notna(), None)
                                for c in ("reported_at", "attend_by", "proof_time")})
    return {"month": month, "area": area, "workers": _records(res.workers),
            "cases": _records(cases), "dropped": res.dropped}


def _records(df) -> list[dict]:
    return json.loads(df.to_json(orient="records", force_ascii=False))
