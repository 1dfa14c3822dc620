"""The one-screen overview (一屏观城乡), a grid's card on the map, and the monthly report's
figures. The SQL is :mod:`gis.store.overview`, :mod:`gis.store.overview_shapes`,
:mod:`gis.store.grid_panel` and :mod:`gis.store.monthly`; all read-only."""

from __future__ import annotations

import geopandas as gpd
from sqlalchemy import Engine

from gis.services.uow import unit_of_work
from gis.settings import Settings
from gis.store import overview as repo
from gis.store.grid_panel import grid_card
from gis.report import ReportData
from gis.store.monthly import monthly_data
from gis.store.overview_shapes import unit_shapes
from gis.store.users import Principal

__all__ = ["ReportData", "area_figures", "grid_panel", "monthly_report", "start_code",
           "unit_outlines"]


def _rules(settings: Settings) -> repo.Rules:
    return repo.Rules(tz=settings.timezone)


def start_code(engine: Engine, principal: Principal) -> str | None:
    """Where the overview page starts: the caller's scope, else the top unit loaded."""
    with unit_of_work(engine, read_only=True) as session:
        return repo.root_code(session, principal)


def area_figures(engine: Engine, settings: Settings, code: str, principal: Principal, *,
                 weeks: int = 12, half_days: int = 14) -> dict:
    """Figures of an area and of its units one level down."""
    from datetime import datetime, timedelta, timezone

    from gis.services.departments import performance
    from gis.store.incidents import IncidentFilter

    with unit_of_work(engine, read_only=True) as session:
        out = repo.overview(session, code, principal, weeks=weeks, half_days=half_days,
                            rules=_rules(settings))
    # the departments' last 30 days in this area, worst first (issue 16)
    since = datetime.now(timezone.utc) - timedelta(days=DEPARTMENT_DAYS)
    out["departments"] = performance(engine, principal, IncidentFilter(
        area=out["area"]["code"], start=since))["departments"]
    return out


DEPARTMENT_DAYS = 30


def unit_outlines(engine: Engine, code: str, principal: Principal) -> gpd.GeoDataFrame:
    """Outlines of the units one level down (simplified to about 10 m above grid level:
    enough for a county-wide screen, light enough to send whole)."""
    with unit_of_work(engine, read_only=True) as session:
        area = repo.resolve_area(session, code, principal)
        return unit_shapes(session, area, simplify_deg=0.0001 if area.level != "grid" else 0.0)


def grid_panel(engine: Engine, code: str, principal: Principal) -> dict:
    """A grid's card for the map's side panel: the grid, its community and its staff."""
    with unit_of_work(engine, read_only=True) as session:
        return grid_card(session, code, principal)


def monthly_report(engine: Engine, settings: Settings, code: str, month: str,
                   principal: Principal | None = None) -> ReportData:
    """Figures and shapes of area ``code`` for ``month`` and the month before, with the
    grid workers' 123456 assessment of the month (the figures of GET /workers/assessment;
    its read of the key households is audited, as the command line's 'cli' without a
    caller)."""
    from gis.services.assessment import month_assessment

    with unit_of_work(engine, read_only=True) as session:
        data = monthly_data(session, code, month, principal, rules=_rules(settings))
    data.departments = _departments(engine, settings, code, month, principal)
    reader = principal or Principal(0, "cli", "admin", None)
    data.workers = month_assessment(engine, reader, month=data.month, area=code,
                                    tz=settings.timezone).workers
    return data


def _departments(engine: Engine, settings: Settings, code: str, month: str,
                 principal: Principal | None) -> list[dict]:
    """The departments' figures for the cases they received in the month (issue 16)."""
    from gis.services.departments import performance
    from gis.store.incidents import IncidentFilter
    from gis.store.monthly import _next_month, month_start

    start = month_start(month, settings.timezone)
    flt = IncidentFilter(area=code, start=start, end=_next_month(start))
    return performance(engine, principal or Principal(0, "report", "admin", None),
                       flt)["departments"]
