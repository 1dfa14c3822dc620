"""Plans: draft grid sets, their validation, diff against the published grids, and the
atomic, versioned publish. Loading and saving here; the geometry work is in
:mod:`gis.partition` and :mod:`gis.plan_edits`."""

from __future__ import annotations

from datetime import datetime, timezone

import geopandas as gpd
import pandas as pd
from geoalchemy2.shape import from_shape
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from gis.errors import Conflict, InputError, NotFound
from gis.store import audit
from gis.store.assignment import reassign_open_incidents
from gis.store.models import AdminUnit, Grid, Plan, PlanGrid
from gis.store.users import scope_prefix

OPEN_STATUSES = "('closed')"


def _frame(session: Session, sql: str, **params) -> gpd.GeoDataFrame:
    return gpd.read_postgis(text(sql), session.connection(), geom_col="geom", params=params,
                            crs=4326)


def area_unit(session: Session, code: str) -> AdminUnit:
    unit = session.get(AdminUnit, code)
    if unit is None:
        raise NotFound(f"no admin unit {code}")
    return unit


def communities(session: Session, area_code: str) -> gpd.GeoDataFrame:
    return _frame(session, "SELECT code, name, geom FROM admin_units WHERE level = 'community' "
                           "AND code LIKE :p || '%' ORDER BY code", p=scope_prefix(area_code))


def units(session: Session, area_code: str) -> gpd.GeoDataFrame:
    """Household-bearing units of the area: buildings and rural address points."""
    return _frame(session, """
        SELECT households, compound, community_code, geom FROM buildings
         WHERE community_code LIKE :p || '%'
        UNION ALL
        SELECT households, NULL, community_code, geom FROM address_points
         WHERE community_code LIKE :p || '%'""", p=scope_prefix(area_code))


def roads(session: Session, area_code: str) -> gpd.GeoDataFrame:
    return _frame(session, """
        SELECT r.class, r.geom FROM roads r
         WHERE ST_Intersects(r.geom, (SELECT geom FROM admin_units WHERE code = :c))""",
                  c=area_code)


def current_grids(session: Session, area_code: str) -> gpd.GeoDataFrame:
    return _frame(session, "SELECT code, kind, community_code, households, version, geom "
                           "FROM grids WHERE valid_to IS NULL AND code LIKE :p || '%' "
                           "ORDER BY code", p=scope_prefix(area_code))


def area_version(session: Session, area_code: str) -> int:
    return session.scalar(select(func.coalesce(func.max(Grid.version), 0)).where(
        Grid.valid_to.is_(None), Grid.code.startswith(scope_prefix(area_code)))) or 0


def retired_codes(session: Session, area_code: str) -> set[str]:
    return set(session.scalars(select(Grid.code).where(
        Grid.code.startswith(scope_prefix(area_code)))).all())


def partition_area(session: Session, area_code: str, *, min_households: int = 300,
                   max_households: int = 500, code_width: int = 4) -> tuple[gpd.GeoDataFrame, dict]:
    """Partition every community of the area; codes stay stable against the current grids."""
    from gis.partition import partition

    coms, us, rs = communities(session, area_code), units(session, area_code), roads(session, area_code)
    if coms.empty:
        raise InputError(f"area {area_code} has no communities", field="area_code")
    previous, retired = current_grids(session, area_code), retired_codes(session, area_code)
    parts, reports = [], {}
    for _, com in coms.iterrows():
        mine = us[us["community_code"] == com["code"]]
        res = partition(mine, "households", parent=gpd.GeoDataFrame(
            {"code": [com["code"]]}, geometry=[com.geom], crs=4326), roads=rs if len(rs) else None,
            min_households=min_households, max_households=max_households,
            exclusive="compound", community_code=com["code"], code_width=code_width,
            previous=previous if len(previous) else None, retired_codes=retired)
        parts.append(res.grids)
        reports[com["code"]] = res.report
    grids = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=4326)
    return grids, reports


def create_plan(session: Session, area_code: str, grids: gpd.GeoDataFrame, *, name: str,
                source: str, actor: str | None, params: dict | None = None,
                report: dict | None = None) -> Plan:
    area_unit(session, area_code)
    plan = Plan(name=name, area_code=area_code, source=source, params=params, report=report,
                base_version=area_version(session, area_code), created_by=actor)
    session.add(plan)
    session.flush()
    save_grids(session, plan, grids)
    audit.record(session, actor, "create", "plan", plan.id, after={"name": name, "source": source,
                                                                  "grids": len(grids)})
    return plan


def save_grids(session: Session, plan: Plan, grids: gpd.GeoDataFrame) -> None:
    from gis.store.write_scope import check_grids_inside

    check_grids_inside(session, plan.area_code, grids)  # uploads and edits stay in the area
    session.execute(PlanGrid.__table__.delete().where(PlanGrid.plan_id == plan.id))
    rows = []
    for rec in grids.to_dict("records"):
        geom = polygonal(rec["geometry"])
        rows.append({"plan_id": plan.id, "code": rec.get("code") or None,
                     "kind": rec.get("kind") or "basic",
                     "community_code": rec.get("community_code") or None,
                     "households": int(rec.get("households") or 0),
                     "geom": from_shape(geom, srid=4326)})
    if rows:
        session.execute(PlanGrid.__table__.insert(), rows)


def polygonal(geom):
    """A valid MultiPolygon: repairs degenerate rings that unions can leave behind (the
    database refuses invalid geometry) and keeps only the polygonal parts."""
    import shapely
    from shapely.geometry import MultiPolygon

    if not shapely.is_valid(geom):
        geom = shapely.make_valid(geom)
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and not p.is_empty]
    if not parts and geom.geom_type == "GeometryCollection":
        parts = [p for g in geom.geoms for p in shapely.get_parts(g) if p.geom_type == "Polygon"]
    return MultiPolygon(parts)


def get_plan(session: Session, plan_id: int, prefix: str = "", *, for_update: bool = False) -> Plan:
    stmt = select(Plan).where(Plan.id == plan_id)
    if for_update:
        stmt = stmt.with_for_update()
    plan = session.scalar(stmt)
    if plan is None or not (plan.area_code or "").startswith(prefix):
        raise NotFound(f"no plan {plan_id}")
    return plan


def plan_grid_count(session: Session, plan_id: int) -> int:
    return session.scalar(select(func.count()).select_from(PlanGrid)
                          .where(PlanGrid.plan_id == plan_id)) or 0


def plan_grids(session: Session, plan_id: int) -> gpd.GeoDataFrame:
    return _frame(session, "SELECT code, kind, community_code, households, geom FROM plan_grids "
                           "WHERE plan_id = :id ORDER BY code NULLS LAST, id", id=plan_id)


def check_version(plan: Plan, version: int | None) -> None:
    if plan.status != "draft":
        raise Conflict(f"plan {plan.id} is {plan.status}", current_version=plan.version)
    if version is not None and version != plan.version:
        raise Conflict(f"plan {plan.id} changed since you read it", current_version=plan.version)


def validate_plan(session: Session, plan: Plan, *, min_households=300, max_households=500):
    from gis.partition import validate

    grids = plan_grids(session, plan.id).rename_geometry("geometry")
    parent = area_unit(session, plan.area_code)
    from geoalchemy2.shape import to_shape

    us = units(session, plan.area_code)
    return validate(grids, to_shape(parent.geom), us if len(us) else None,
                    min_households=min_households, max_households=max_households)


def diff_plan(session: Session, plan: Plan) -> dict:
    """What publishing would change: grids added/removed/changed, households moved, staff,
    incidents and cameras whose grid would change."""
    row = session.execute(text(_DIFF_SQL), {"plan": plan.id, "p": scope_prefix(plan.area_code)})
    return dict(row.mappings().one())


_DIFF_SQL = """
WITH cur AS (SELECT code, households, geom FROM grids
              WHERE valid_to IS NULL AND code LIKE :p || '%'),
     new AS (SELECT code, households, geom FROM plan_grids WHERE plan_id = :plan),
     moved_inc AS (
       SELECT i.id FROM incidents i
        LEFT JOIN LATERAL (SELECT n.code FROM new n WHERE ST_Covers(n.geom, i.geom)
                           ORDER BY n.code LIMIT 1) t ON true
        WHERE i.grid_code LIKE :p || '%' AND i.status <> 'closed'
          AND t.code IS DISTINCT FROM i.grid_code),
     moved_cam AS (
       SELECT c.id FROM cameras c
        JOIN LATERAL (SELECT code FROM cur WHERE ST_Covers(cur.geom, c.geom) ORDER BY code LIMIT 1) a ON true
        LEFT JOIN LATERAL (SELECT code FROM new WHERE ST_Covers(new.geom, c.geom) ORDER BY code LIMIT 1) b ON true
        WHERE a.code IS DISTINCT FROM b.code)
SELECT
  (SELECT count(*) FROM new WHERE code IS NULL OR code NOT IN (SELECT code FROM cur)) AS added,
  (SELECT count(*) FROM cur WHERE code NOT IN (SELECT code FROM new WHERE code IS NOT NULL)) AS removed,
  (SELECT count(*) FROM cur JOIN new USING (code)
    WHERE NOT ST_Equals(ST_SnapToGrid(cur.geom, 1e-7), ST_SnapToGrid(new.geom, 1e-7))) AS changed,
  (SELECT count(*) FROM cur JOIN new USING (code)
    WHERE ST_Equals(ST_SnapToGrid(cur.geom, 1e-7), ST_SnapToGrid(new.geom, 1e-7))) AS unchanged,
  (SELECT coalesce(sum(abs(cur.households - coalesce(new.households, 0))), 0)
     FROM cur LEFT JOIN new USING (code)) AS households_moved_upper_bound,
  (SELECT count(*) FROM grid_staff s WHERE s.grid_code IN (
     SELECT code FROM cur WHERE code NOT IN (SELECT code FROM new WHERE code IS NOT NULL))) AS staff_affected,
  (SELECT count(*) FROM moved_inc) AS open_incidents_moving,
  (SELECT count(*) FROM moved_cam) AS cameras_moving
"""


def publish(session: Session, plan_id: int, version: int | None, *, actor: str | None,
            prefix: str = "", tolerance_m: float = 10.0) -> dict:
    """Make the plan the current grids of its area in one transaction: old grids get
    ``valid_to``, new ones a higher version; open incidents are re-assigned. A second
    planner publishing over the same grids gets a Conflict."""
    plan = get_plan(session, plan_id, prefix, for_update=True)
    check_version(plan, version)
    # Serialise publishers of the same area on the area's row.
    session.execute(select(AdminUnit.code).where(AdminUnit.code == plan.area_code).with_for_update())
    current = area_version(session, plan.area_code)
    if plan.base_version is not None and current != plan.base_version:
        raise Conflict(f"the grids of {plan.area_code} were published (version {current}) "
                       f"after this plan was made from version {plan.base_version}",
                       current_version=current)
    grids = plan_grids(session, plan.id)
    if grids["code"].isna().any():
        raise InputError("some grids of the plan have no code yet: validate and recode first",
                         field="code")
    now = datetime.now(timezone.utc)
    closed = session.execute(update(Grid).where(
        Grid.valid_to.is_(None), Grid.code.startswith(scope_prefix(plan.area_code)))
        .values(valid_to=now)).rowcount
    session.execute(text("""
        INSERT INTO grids (code, kind, community_code, households, version, valid_from, plan_id, geom)
        SELECT code, kind, community_code, households, :v, :now, plan_id, geom
          FROM plan_grids WHERE plan_id = :plan"""), {"v": current + 1, "now": now, "plan": plan.id})
    plan.status, plan.published_at = "published", now
    plan.version += 1
    moved = reassign_open_incidents(session, tolerance_m=tolerance_m, actor=actor)
    audit.record(session, actor, "publish", "plan", plan.id,
                 before={"version": current, "grids": closed},
                 after={"version": current + 1, "grids": len(grids), "incidents_moved": moved})
    return {"plan": plan.id, "version": current + 1, "grids_retired": closed,
            "grids_published": len(grids), "incidents_reassigned": moved}


def rebalance_area(session: Session, area_code: str, *, min_households: int = 300,
                   max_households: int = 500, code_width: int = 4) -> tuple[gpd.GeoDataFrame, dict]:
    """Rebalance the current grids of the area against today's households: only grids out
    of bounds and their neighbours change. Returns all grids and the change report
    (figures plus one row per code: kept, redrawn, new or retired)."""
    from gis.partition import rebalance

    grids = current_grids(session, area_code).rename_geometry("geometry")
    if grids.empty:
        raise InputError(f"area {area_code} has no current grids to rebalance", field="area_code")
    us, rs = units(session, area_code), roads(session, area_code)
    if us.empty:
        raise InputError(f"area {area_code} has no buildings or address points", field="area_code")
    res = rebalance(grids.drop(columns=["version"]), us, "households",
                    roads=rs if len(rs) else None, min_households=min_households,
                    max_households=max_households, code_width=code_width,
                    retired_codes=retired_codes(session, area_code))
    report = {**res.report, "changes": res.changes.to_dict("records")}
    return res.grids, report


def crosswalk_area(session: Session, area_code: str, other: gpd.GeoDataFrame,
                   code_field: str = "code") -> pd.DataFrame:
    """Crosswalk from another thematic grid system (``other``, codes in ``code_field``) to
    the current grids of the area, with shared households and area (多网合一)."""
    from gis.partition import crosswalk

    if code_field not in other.columns:
        raise InputError(f"the uploaded grids have no field {code_field!r} (fields: "
                         f"{', '.join(c for c in other.columns if c != 'geometry')})",
                         field="code_field")
    grids = current_grids(session, area_code).rename_geometry("geometry")
    if grids.empty:
        raise InputError(f"area {area_code} has no current grids", field="area_code")
    us = units(session, area_code)
    return crosswalk(other, grids, us if len(us) else None, "households", old_code=code_field)
