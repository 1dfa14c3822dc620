"""Plans: draft grid sets made by partition, from the current grids, from an upload or by
rebalancing; edits, validation, diff, crosswalk and publish. The geometry rules are
:mod:`gis.plan_edits` and :mod:`gis.partition`; the queries :mod:`gis.store.plans`."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Engine

from gis import plan_edits
from gis.errors import Forbidden, InputError
from gis.services.uow import unit_of_work
from gis.settings import Settings
from gis.store import audit
from gis.store import plans as repo
from gis.store.users import Principal

__all__ = ["create", "create_from_upload", "crosswalk", "diff", "edit", "get", "grids",
           "publish", "rebalance", "violations"]


def _in_scope(principal: Principal, area_code: str) -> None:
    if not area_code.startswith(principal.scope_prefix):
        raise Forbidden(f"area {area_code} is outside your scope")


def _bounds(min_households: int, max_households: int) -> None:
    if min_households > max_households:
        raise InputError("min_households must not exceed max_households", field="min_households")


def _summary(plan) -> dict:
    """The plan as plain values (read while its unit of work is open)."""
    return {"id": plan.id, "name": plan.name, "area_code": plan.area_code, "status": plan.status,
            "source": plan.source, "version": plan.version, "base_version": plan.base_version,
            "report": plan.report, "created_by": plan.created_by}


def create(engine: Engine, settings: Settings, principal: Principal, *, name: str,
           area_code: str, source: str = "partition", min_households: int = 300,
           max_households: int = 500) -> dict:
    """A new draft plan of an area: partitioned afresh, or a copy of the current grids."""
    _in_scope(principal, area_code)
    _bounds(min_households, max_households)
    params = {"name": name, "area_code": area_code, "source": source,
              "min_households": min_households, "max_households": max_households}
    with unit_of_work(engine) as session:
        if source == "partition":
            grids, report = repo.partition_area(session, area_code,
                                                min_households=min_households,
                                                max_households=max_households,
                                                code_width=settings.grid_code_width)
        else:
            grids = repo.current_grids(session, area_code).rename_geometry("geometry")
            report = None
        plan = repo.create_plan(session, area_code, grids, name=name, source=source,
                                actor=principal.username, params=params, report=report)
        return _summary(plan)


def create_from_upload(engine: Engine, principal: Principal, grids: gpd.GeoDataFrame, *,
                       name: str, area_code: str) -> dict:
    """A draft plan from a drawn file; households recounted from the area's buildings."""
    _in_scope(principal, area_code)
    if "code" not in grids:
        grids["code"] = None
    with unit_of_work(engine) as session:
        us = repo.units(session, area_code)
        grids = plan_edits.recount(grids, us) if len(us) else grids.assign(households=0)
        plan = repo.create_plan(session, area_code, grids, name=name, source="upload",
                                actor=principal.username)
        return _summary(plan)


def rebalance(engine: Engine, settings: Settings, principal: Principal, *, area_code: str,
              name: str | None = None, min_households: int = 300,
              max_households: int = 500) -> dict:
    """A draft plan that repairs grids out of bounds, changing as little as possible."""
    _in_scope(principal, area_code)
    _bounds(min_households, max_households)
    params = {"area_code": area_code, "name": name, "min_households": min_households,
              "max_households": max_households}
    with unit_of_work(engine) as session:
        grids, report = repo.rebalance_area(session, area_code, min_households=min_households,
                                            max_households=max_households,
                                            code_width=settings.grid_code_width)
        plan = repo.create_plan(session, area_code, grids, name=name or f"rebalance {area_code}",
                                source="rebalance", actor=principal.username, params=params,
                                report=report)
        return _summary(plan)


def crosswalk(engine: Engine, principal: Principal, area_code: str, other: gpd.GeoDataFrame,
              code_field: str) -> pd.DataFrame:
    """Crosswalk from another grid system to the current grids of an area."""
    _in_scope(principal, area_code)
    with unit_of_work(engine, read_only=True) as session:
        return repo.crosswalk_area(session, area_code, other, code_field)


def get(engine: Engine, plan_id: int, principal: Principal) -> dict:
    with unit_of_work(engine, read_only=True) as session:
        return _summary(repo.get_plan(session, plan_id, principal.scope_prefix))


def grids(engine: Engine, plan_id: int, principal: Principal) -> gpd.GeoDataFrame:
    with unit_of_work(engine, read_only=True) as session:
        repo.get_plan(session, plan_id, principal.scope_prefix)
        return repo.plan_grids(session, plan_id)


def violations(engine: Engine, plan_id: int, principal: Principal, *,
               min_households: int = 300, max_households: int = 500) -> gpd.GeoDataFrame:
    """Every rule the plan breaks, with geometry (empty: valid)."""
    with unit_of_work(engine, read_only=True) as session:
        plan = repo.get_plan(session, plan_id, principal.scope_prefix)
        return repo.validate_plan(session, plan, min_households=min_households,
                                  max_households=max_households)


def diff(engine: Engine, plan_id: int, principal: Principal) -> dict:
    """What publishing would change."""
    with unit_of_work(engine, read_only=True) as session:
        return repo.diff_plan(session, repo.get_plan(session, plan_id, principal.scope_prefix))


def edit(engine: Engine, plan_id: int, principal: Principal, *, op: str, version: int,
         code: str | None = None, other: str | None = None, to_code: str | None = None,
         geometry: BaseGeometry | None = None) -> dict:
    """Merge, split, redraw or move; the plan's version goes up by one (409 if stale)."""
    with unit_of_work(engine) as session:
        plan = repo.get_plan(session, plan_id, principal.scope_prefix, for_update=True)
        repo.check_version(plan, version)
        grid_set = repo.plan_grids(session, plan_id).rename_geometry("geometry")
        if op == "merge":
            grid_set = plan_edits.merge(grid_set, code, other)
        elif op == "split":
            grid_set = plan_edits.split(grid_set, code, geometry)
        elif op == "redraw":
            grid_set = plan_edits.redraw(grid_set, code, geometry)
        else:
            grid_set = plan_edits.move_area(grid_set, geometry, to_code)
        us = repo.units(session, plan.area_code)
        grid_set = plan_edits.recount(grid_set, us) if len(us) else grid_set
        before = {"version": plan.version, "grids": int(repo.plan_grid_count(session, plan.id))}
        repo.save_grids(session, plan, grid_set)
        plan.version += 1
        audit.record(session, principal.username, f"edit:{op}", "plan", plan.id, before=before,
                     after={"version": plan.version, "grids": len(grid_set), "code": code,
                            "other": other, "to_code": to_code})
        return _summary(plan)


def publish(engine: Engine, settings: Settings, plan_id: int, version: int,
            principal: Principal) -> dict:
    """Make the plan the current grids of its area, atomically (409 if stale)."""
    with unit_of_work(engine) as session:
        return repo.publish(session, plan_id, version, actor=principal.username,
                            prefix=principal.scope_prefix, tolerance_m=settings.tolerance_m)
