"""What the dispatcher page shows when a grid is clicked: the grid and its staff."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis import vocabulary
from gis.errors import NotFound
from gis.store.models import AdminUnit, Grid, GridStaff
from gis.store.scope import code_in_scope
from gis.store.users import Principal


def grid_card(session: Session, code: str, principal: Principal | None) -> dict:
    """The current grid ``code`` (outside the caller's scope: not found) with its
    community's name, area in m² and staff (role labels in Chinese as users say them)."""
    row = session.execute(
        select(Grid.code, Grid.name, Grid.kind, Grid.households, Grid.version,
               Grid.community_code, AdminUnit.name.label("community"),
               func.ST_Area(func.Geography(Grid.geom)).label("area_m2"))
        .outerjoin(AdminUnit, AdminUnit.code == Grid.community_code)
        .where(Grid.code == code, Grid.valid_to.is_(None), code_in_scope(Grid.code, principal))
    ).mappings().first()
    if row is None:
        raise NotFound(f"no current grid {code!r}")
    staff = session.execute(
        select(GridStaff.name, GridStaff.role, GridStaff.phone)
        .where(GridStaff.grid_code == code).order_by(GridStaff.role, GridStaff.name)
    ).mappings().all()
    return {**dict(row), "area_m2": round(float(row["area_m2"]), 1),
            "staff": [{**dict(s), "role_label": vocabulary.STAFF_ROLES.get(s["role"], s["role"])}
                      for s in staff]}
