"""Camera coverage: run the analysis for an area and store it (all grids or only the stale
ones), per-grid figures, blind spots ranked by incidents, key places, and suggested new
camera sites. The analysis is :mod:`gis.coverage`; the SQL :mod:`gis.store.coverage` and
:mod:`gis.store.coverage_queries`."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from gis.services.uow import unit_of_work
from gis.store import coverage as repo
from gis.store import coverage_queries as queries
from gis.store.coverage import RunOptions
from gis.store.coverage_queries import MAX_PAGE
from gis.store.users import Principal

__all__ = ["MAX_PAGE", "RunOptions", "blind_spots", "grid_figures", "key_places", "run",
           "suggest_sites"]


def run(engine: Engine, area_code: str | None, options: RunOptions, *,
        principal: Principal | None = None,
        on_step: Callable[[str], None] | None = None) -> dict:
    """Compute and store coverage for an area; committed before the summary is returned."""
    with unit_of_work(engine) as session:
        return repo.run_coverage(session, area_code, options, principal=principal,
                                 on_step=on_step)


def grid_figures(engine: Engine, principal: Principal, *, area: str | None = None,
                 limit: int = 1000, offset: int = 0) -> dict:
    """Per-grid coverage figures, worst covered first."""
    with unit_of_work(engine, read_only=True) as session:
        return queries.grid_stats(session, principal, area=area, limit=limit, offset=offset)


def blind_spots(engine: Engine, principal: Principal, *, area: str | None = None,
                min_area: float = 0.0, min_incidents: int = 0, limit: int = 500,
                offset: int = 0) -> dict:
    """Blind spots as GeoJSON, most incidents first."""
    with unit_of_work(engine, read_only=True) as session:
        return queries.blind_spots(session, principal, area=area, min_area=min_area,
                                   min_incidents=min_incidents, limit=limit, offset=offset)


def key_places(engine: Engine, principal: Principal, *, area: str | None = None,
               max_ratio: float | None = None, limit: int = 1000, offset: int = 0) -> dict:
    """Key places with their coverage, least covered first."""
    with unit_of_work(engine, read_only=True) as session:
        return queries.key_places(session, principal, area=area, max_ratio=max_ratio,
                                  limit=limit, offset=offset)


def suggest_sites(engine: Engine, principal: Principal, area_code: str | None, k: int, *,
                  weight: str = "incidents", camera_type: str = "dome",
                  spacing: float = 25.0) -> dict:
    """``k`` new camera sites with their marginal gains (nothing is stored)."""
    with unit_of_work(engine, read_only=True) as session:
        return queries.suggest(session, principal, area_code, k, weight=weight,
                               camera_type=camera_type, spacing=spacing)
