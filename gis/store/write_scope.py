"""Writes stay inside the caller's area. Reads are scoped by the queries
(:mod:`gis.store.scope`); these checks refuse a write before anything of it is kept:
patrol fixes outside the caller's area or for a worker who is not theirs, and plan grids
that reach outside the plan's area or carry codes of another one.

Each raises :class:`Forbidden` (403) naming what was outside; the request's transaction
is rolled back, so nothing of the refused write is kept."""

from __future__ import annotations

import geopandas as gpd
from sqlalchemy import bindparam, or_, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Float
from sqlalchemy.orm import Session

from gis.errors import Forbidden
from gis.store.models import GridStaff, User
from gis.store.users import Principal, scope_prefix

# Share of a plan grid's area allowed outside the plan's area (rounding along shared
# boundaries; a grid drawn into a neighbouring community is far above it).
OUTSIDE_SHARE = 0.01

_POINTS_OUTSIDE = text("""
SELECT p.i - 1 FROM unnest(:xs, :ys) WITH ORDINALITY AS p(x, y, i)
 WHERE NOT ST_Intersects(ST_SetSRID(ST_MakePoint(p.x, p.y), 4326),
                         (SELECT geom FROM admin_units WHERE code = :scope))
 ORDER BY p.i LIMIT 5""").bindparams(bindparam("xs", type_=ARRAY(Float)),
                                     bindparam("ys", type_=ARRAY(Float)))


def check_points_inside(session: Session, principal: Principal | None,
                        lonlats: list[tuple[float, float]], what: str = "fix") -> None:
    """Every point (WGS 84) inside the caller's admin area, else Forbidden naming the
    first ones outside (0-based positions in the request)."""
    if principal is None or not principal.scope_code or not lonlats:
        return
    outside = session.scalars(_POINTS_OUTSIDE, {
        "xs": [float(x) for x, _ in lonlats], "ys": [float(y) for _, y in lonlats],
        "scope": principal.scope_code}).all()
    if outside:
        where = ", ".join(str(i) for i in outside)
        raise Forbidden(f"{what} {where} lie(s) outside your area {principal.scope_code}; "
                        "nothing was kept")


def check_worker(session: Session, principal: Principal, worker: str) -> None:
    """``worker`` must be a grid worker of the caller's area: a grid_worker account scoped
    inside it, or grid staff of a grid inside it whose worker id is this name. A grid
    worker may only name themselves."""
    if worker == principal.username:
        return
    if principal.role == "grid_worker":
        raise Forbidden("a grid worker uploads their own fixes only")
    prefix = principal.scope_prefix
    account = select(User.id).where(User.username == worker, User.role == "grid_worker",
                                    User.active.is_(True),
                                    or_(User.scope_code.startswith(prefix, autoescape=True),
                                        prefix == ""))
    staff = select(GridStaff.id).where(GridStaff.worker_id == worker,
                                       or_(GridStaff.grid_code.startswith(prefix,
                                                                          autoescape=True),
                                           prefix == ""))
    if session.scalar(account.limit(1)) is None and session.scalar(staff.limit(1)) is None:
        raise Forbidden(f"{worker!r} is not a grid worker in your area; fixes may be "
                        "uploaded for your own workers only")


_GRIDS_OUTSIDE = text("""
WITH area AS (SELECT geom FROM admin_units WHERE code = :area),
g AS (SELECT i, ST_GeomFromWKB(wkb, 4326) AS geom
        FROM unnest(:wkbs, :ids) AS u(wkb, i))
SELECT g.i FROM g, area
 WHERE ST_Area(ST_Difference(g.geom, area.geom)) > :share * ST_Area(g.geom)
 ORDER BY g.i LIMIT 5""")


def check_grids_inside(session: Session, area_code: str, grids: gpd.GeoDataFrame) -> None:
    """Plan grids lie inside the plan's area and carry no code of another area."""
    if not len(grids):
        return
    prefix = scope_prefix(area_code)
    for column in ("code", "community_code"):
        if column in grids:
            codes = grids[column].dropna().astype(str)
            foreign = codes[(codes != "") & ~codes.str.startswith(prefix)]
            if len(foreign):
                raise Forbidden(f"grid {column} {foreign.iloc[0]!r} belongs to another area "
                                f"than {area_code}")
    geoms = grids.geometry
    present = geoms.notna() & ~geoms.is_empty
    wkbs = [bytes(g) for g in geoms[present].to_wkb()]
    ids = [int(i) for i in range(len(grids)) if present.iloc[i]]
    outside = session.scalars(_GRIDS_OUTSIDE, {"area": area_code, "wkbs": wkbs, "ids": ids,
                                               "share": OUTSIDE_SHARE}).all()
    if outside:
        label = _labels(grids, outside)
        raise Forbidden(f"grid(s) {label} reach outside the plan's area {area_code}")


def _labels(grids: gpd.GeoDataFrame, rows: list[int]) -> str:
    codes = grids["code"] if "code" in grids else None
    return ", ".join(str(codes.iloc[i]) if codes is not None and codes.iloc[i] else
                     f"#{i + 1}" for i in rows)
