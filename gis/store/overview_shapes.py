"""Outlines for the overview map and the monthly report: the units one level below an
area (or its grids), as a GeoDataFrame in EPSG:4326."""

from __future__ import annotations

import geopandas as gpd
from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from gis.store.models import AdminUnit, Grid
from gis.store.overview import Area


def unit_shapes(session: Session, area: Area, by: str = "child", *,
                simplify_deg: float = 0.0) -> gpd.GeoDataFrame:
    """``code``, ``name``, ``level``, ``parent`` and the outline of each unit one level down
    (``by="child"``; a grid area gives itself), every current grid (``by="grid"``), or the
    area itself (``by="self"``). ``simplify_deg`` thins outlines for drawing (topology kept
    per shape)."""
    if by == "self":
        return _frame(session, _self_query(area), simplify_deg)
    if by == "grid" or area.level in ("community", "grid"):
        where = (Grid.code == area.code) if area.level == "grid" else \
            Grid.code.startswith(area.prefix, autoescape=True)
        query = select(Grid.code, func.coalesce(Grid.name, Grid.code).label("name"),
                       literal("grid").label("level"), Grid.community_code.label("parent"),
                       Grid.geom).where(Grid.valid_to.is_(None), where).order_by(Grid.code)
    else:
        query = select(AdminUnit.code, AdminUnit.name, AdminUnit.level,
                       AdminUnit.parent_code.label("parent"), AdminUnit.geom) \
            .where(AdminUnit.parent_code == area.code).order_by(AdminUnit.code)
    return _frame(session, query, simplify_deg)


def _self_query(area: Area):
    if area.level == "grid":
        return select(Grid.code, Grid.name, literal("grid").label("level"),
                      Grid.community_code.label("parent"), Grid.geom) \
            .where(Grid.code == area.code, Grid.valid_to.is_(None))
    return select(AdminUnit.code, AdminUnit.name, AdminUnit.level,
                  AdminUnit.parent_code.label("parent"), AdminUnit.geom) \
        .where(AdminUnit.code == area.code)


def _frame(session: Session, query, simplify_deg: float) -> gpd.GeoDataFrame:
    sub = query.subquery()
    geom = sub.c.geom
    if simplify_deg > 0:
        geom = func.ST_SimplifyPreserveTopology(geom, simplify_deg)
    stmt = select(sub.c.code, sub.c.name, sub.c.level, sub.c.parent,
                  func.ST_AsBinary(geom).label("geom"))
    frame = gpd.read_postgis(stmt, session.connection(), geom_col="geom", crs="EPSG:4326")
    frame["name"] = frame["name"].fillna(frame["code"])
    return frame.rename_geometry("geometry")
