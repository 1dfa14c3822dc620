"""The monthly analysis report of an area (``gridgis report`` over HTTP): one
self-contained HTML page with the area's figures against last month, rankings worst first
and the grid workers' 123456 assessment (worst first, with the evidence counts). Use case:
gis.services.overview.monthly_report; rendering: gis.report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse

from api.auth import require
from api.deps import EngineDep, SettingsDep
from gis.report import render_html
from gis.services import overview as service
from gis.services.accounts import Principal

router = APIRouter(tags=["overview"])
# the workers' section holds key-household figures: as GET /workers/assessment's readers
Reader = Annotated[Principal, Depends(require("dispatcher", "analyst"))]
Month = Annotated[str, Query(pattern=r"^(19[7-9][0-9]|2[01][0-9][0-9]|2200)-(0[1-9]|1[0-2])$",
                             description="YYYY-MM, local time (1970-2200)")]


@router.get("/reports/monthly", response_class=HTMLResponse,
            responses={200: {"content": {"text/html": {}}}},
            summary="The monthly report of an area (HTML, charts optional)")
def monthly(engine: EngineDep, settings: SettingsDep, principal: Reader, month: Month,
            area: Annotated[str, Query(pattern=r"^[0-9]{12}[0-9]{0,28}$",
                                       description="12-digit admin code or a grid code")],
            charts: bool = False) -> HTMLResponse:
    data = service.monthly_report(engine, settings, area, month, principal)
    return HTMLResponse(render_html(data, charts=charts))
