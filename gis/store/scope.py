"""Filters that keep every query inside the caller's area.

Admin codes nest by prefix (county 6 digits, township 9, community 12) and grid codes
extend their community's code, so a code column is filtered by prefix; layers without
a code column (cameras, roads, tracks) are filtered by intersection with the scope's
polygon."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, select, true

from gis.store.models import AdminUnit
from gis.store.users import Principal


def code_in_scope(column, principal: Principal | None) -> ColumnElement[bool]:
    prefix = principal.scope_prefix if principal else ""
    return column.startswith(prefix, autoescape=True) if prefix else true()


def geom_in_scope(geom_column, principal: Principal | None) -> ColumnElement[bool]:
    if principal is None or not principal.scope_code:
        return true()
    area = select(AdminUnit.geom).where(AdminUnit.code == principal.scope_code).scalar_subquery()
    return func.ST_Intersects(geom_column, area)
