"""Dispatcher queries over incidents: per-grid statistics, hot spots and locate.

All stay inside the caller's scope (see :func:`gis.store.incidents.in_scope`)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import and_, cast, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from gis.crs import metric_crs
from gis.errors import InputError, NotFound
from gis.store.assignment import locate_point
from gis.store.incidents import (IncidentFilter, _now, counted_once, in_scope, overdue_expr,
                                 to_wgs84)
from gis.store.models import AdminUnit, Grid, GridStaff, Incident, PatrolPoint
from gis.store.scope import code_in_scope, geom_in_scope
from gis.store.users import Principal


def grid_stats(session: Session, principal: Principal | None, filters: IncidentFilter, *,
               now: datetime | None = None) -> dict:
    """Per current grid in scope: ``incidents``, ``open``, ``closed``, ``resolution_rate``
    (closed / incidents), ``median_hours_to_close``, ``overdue`` (open past due, or closed
    late), ``boundary``; grids without incidents are listed with zeros. ``unassigned``
    counts the matching incidents outside every grid."""
    now = _now(now)
    where = [in_scope(principal), *filters.clauses(now), counted_once()]
    hours = func.extract("epoch", Incident.closed_at - Incident.reported_at) / 3600.0
    closed = Incident.status == "closed"
    per = (select(Incident.grid_code.label("code"), func.count().label("incidents"),
                  func.count().filter(~closed).label("open"),
                  func.count().filter(closed).label("closed"),
                  func.percentile_cont(0.5).within_group(hours).label("median_hours"),
                  func.count().filter(overdue_expr(now).is_not(None)).label("overdue"),
                  func.count().filter(Incident.boundary).label("boundary"))
           .where(*where).group_by(Incident.grid_code).subquery())
    grid_where = [Grid.valid_to.is_(None), code_in_scope(Grid.code, principal)]
    if filters.area:
        grid_where.append(Grid.code.startswith(filters.area.strip(), autoescape=True)
                          | Grid.community_code.startswith(filters.area.strip(), autoescape=True))
    rows = session.execute(
        select(Grid.code, Grid.name, Grid.community_code, per.c.incidents, per.c.open,
               per.c.closed, per.c.median_hours, per.c.overdue, per.c.boundary)
        .outerjoin(per, per.c.code == Grid.code).where(*grid_where).order_by(Grid.code)).all()
    unassigned = session.scalar(select(func.count()).select_from(Incident)
                                .where(*where, Incident.grid_code.is_(None)))
    return {"grids": [_stat_row(r) for r in rows], "unassigned": int(unassigned or 0)}


def _stat_row(r) -> dict:
    n = int(r.incidents or 0)
    closed = int(r.closed or 0)
    return {"grid_code": r.code, "name": r.name, "community_code": r.community_code,
            "incidents": n, "open": int(r.open or 0), "closed": closed,
            "resolution_rate": round(closed / n, 4) if n else None,
            "median_hours_to_close": None if r.median_hours is None
            else round(float(r.median_hours), 2),
            "overdue": int(r.overdue or 0), "boundary": int(r.boundary or 0)}


def hotspots(session: Session, principal: Principal | None, filters: IncidentFilter, *,
             size_m: float = 250.0, limit: int = 500, now: datetime | None = None) -> dict:
    """Hexagons (``size_m``: edge length in metres, in the area's metric CRS) with their
    incident counts, busiest first, as a GeoJSON FeatureCollection in EPSG:4326.

    Each incident counts once (a point on a shared hexagon edge goes to one of them)."""
    if not (10.0 <= size_m <= 50_000.0):
        raise InputError("size_m must be between 10 and 50000 metres", field="size_m")
    now = _now(now)
    where = [in_scope(principal), *filters.clauses(now), counted_once()]
    box = session.execute(select(func.ST_XMin(func.ST_Extent(Incident.geom)),
                                 func.ST_YMin(func.ST_Extent(Incident.geom)),
                                 func.ST_XMax(func.ST_Extent(Incident.geom)),
                                 func.ST_YMax(func.ST_Extent(Incident.geom))).where(*where)).one()
    if box[0] is None:
        return {"type": "FeatureCollection", "features": [], "size_m": size_m, "total": 0}
    srid = metric_crs(box).to_epsg()
    pts = select(Incident.id, func.ST_Transform(Incident.geom, srid).label("g")) \
        .where(*where).subquery()
    hexes = func.ST_HexagonGrid(size_m, pts.c.g).table_valued("geom", "i", "j").lateral("h")
    pairs = (select(pts.c.id, hexes.c.i, hexes.c.j, hexes.c.geom)
             .join_from(pts, hexes, func.ST_Intersects(hexes.c.geom, pts.c.g))
             .ext(distinct_on(pts.c.id)).order_by(pts.c.id, hexes.c.i, hexes.c.j).subquery())
    count = func.count().label("n")
    rows = session.execute(
        select(count, func.ST_AsGeoJSON(func.ST_Transform(pairs.c.geom, 4326), 7).label("gj"))
        .group_by(pairs.c.i, pairs.c.j, pairs.c.geom)
        .order_by(count.desc(), pairs.c.i, pairs.c.j).limit(limit)).all()
    total = sum(r.n for r in rows)
    features = [{"type": "Feature", "geometry": json.loads(r.gj),
                 "properties": {"incidents": int(r.n), "rank": k + 1}}
                for k, r in enumerate(rows)]
    return {"type": "FeatureCollection", "features": features, "size_m": size_m,
            "srid": srid, "total": total}


def locate(session: Session, lon: float, lat: float, principal: Principal | None, *,
           crs: str = "wgs84", tolerance_m: float = 10.0, patrol_hours: float = 12.0,
           now: datetime | None = None) -> dict:
    """Who is responsible for a place: grid (by the assignment rules), community,
    township, the grid's staff, and the nearest worker by last known patrol position
    (within the last ``patrol_hours``, inside the caller's scope).

    Raises NotFound when the place is outside the caller's scope."""
    now = _now(now)
    lon, lat = to_wgs84(lon, lat, crs)
    hit = locate_point(session, lon, lat, tolerance_m=tolerance_m)
    point = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
    community = hit["community_code"]
    prefix = principal.scope_prefix if principal else ""
    visible = community.startswith(prefix) if community else \
        bool(session.scalar(select(geom_in_scope(point, principal))))
    if not visible:
        raise NotFound("this place is outside your area")
    township = session.scalar(select(AdminUnit.parent_code).where(AdminUnit.code == community)) \
        if community else None
    names = dict(session.execute(select(AdminUnit.code, AdminUnit.name)
                                 .where(AdminUnit.code.in_([c for c in (community, township)
                                                            if c]))).all())
    staff = session.execute(select(GridStaff.name, GridStaff.role, GridStaff.phone,
                                   GridStaff.worker_id)
                            .where(GridStaff.grid_code == hit["grid_code"])
                            .order_by(GridStaff.role, GridStaff.name)).mappings().all() \
        if hit["grid_code"] else []
    return {"lon": lon, "lat": lat, "grid": hit["grid_code"], "grid_name": hit["grid_name"],
            "boundary": hit["boundary"], "candidates": hit["candidates"],
            "distance_m": hit["distance_m"],
            "community": {"code": community, "name": names.get(community)} if community else None,
            "township": {"code": township, "name": names.get(township)} if township else None,
            "staff": [dict(s) for s in staff],
            "nearest_worker": _nearest_worker(session, point, principal, now, patrol_hours)}


def _nearest_worker(session: Session, point, principal: Principal | None, now: datetime,
                    hours: float) -> dict | None:
    last = (select(PatrolPoint.worker, PatrolPoint.time, PatrolPoint.geom)
            .where(PatrolPoint.time >= now - timedelta(hours=hours), PatrolPoint.time <= now)
            .ext(distinct_on(PatrolPoint.worker))
            .order_by(PatrolPoint.worker, PatrolPoint.time.desc()).subquery())
    dist = func.ST_Distance(cast(last.c.geom, _geography()), cast(point, _geography()))
    row = session.execute(
        select(last.c.worker, last.c.time, func.ST_X(last.c.geom).label("lon"),
               func.ST_Y(last.c.geom).label("lat"), dist.label("distance_m"),
               GridStaff.name, GridStaff.grid_code)
        .outerjoin(GridStaff, and_(GridStaff.worker_id == last.c.worker))
        .where(geom_in_scope(last.c.geom, principal))
        .order_by(dist, last.c.worker).limit(1)).mappings().first()
    if row is None:
        return None
    out = dict(row)
    out["distance_m"] = round(float(out["distance_m"]), 1)
    out["last_seen"] = out.pop("time")
    return out


def _geography():
    from geoalchemy2 import Geography

    return Geography(srid=4326)

