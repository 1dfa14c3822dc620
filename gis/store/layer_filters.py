"""One filter for a layer, shared by the features API, the downloads and the vector tiles:
the layer's fixed condition, the caller's scope, a bbox, a datetime interval and property
filters. Built as a SQLAlchemy expression over the table alias ``t`` and compiled to SQL
text with named bind parameters, so the tile SQL files and the item queries splice in
exactly the same condition and user values are always bound, never pasted."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from sqlalchemy import ColumnElement, and_, bindparam, func, literal_column, or_, text, true
from sqlalchemy.dialects import postgresql

from gis.errors import InputError
from gis.store.layers_catalog import Layer, Prop
from gis.store.scope import code_in_scope, geom_in_scope
from gis.store.users import Principal

_DIALECT = postgresql.dialect(paramstyle="named")
_BIND_CAST = re.compile(r"(:\w+)::")
_TRUE = {"true", "1", "yes", "t"}
_FALSE = {"false", "0", "no", "f"}


@dataclass
class LayerQuery:
    """What a request asks of a layer (already validated)."""

    principal: Principal | None = None
    bbox: tuple[float, float, float, float] | None = None
    bbox_srid: int = 4326
    interval: tuple[datetime | None, datetime | None] | None = None
    filters: dict[str, list] = field(default_factory=dict)

    def key(self) -> tuple:
        """Hashable identity for caches (the scope is part of it: users see different rows)."""
        prefix = self.principal.scope_prefix if self.principal else ""
        scope = (prefix, self.principal.view if self.principal else None,
                 getattr(self.principal, "department_code", None))
        return (scope, self.bbox, self.bbox_srid, self.interval,
                tuple(sorted((k, tuple(v)) for k, v in self.filters.items())))


def _col(sql: str):
    return literal_column(sql)


def scope_condition(layer: Layer, principal: Principal | None) -> ColumnElement[bool]:
    """Rows of ``layer`` inside the caller's area (prefix on a code column, else by
    location; rows without a code, e.g. unassigned incidents, fall back to location).
    A grid worker sees only their own rows of a layer with an owner (patrol tracks:
    other staff's whole walks would show where they went outside the community). A
    department account sees only its department's incidents (issue 16)."""
    area = _area_condition(layer, principal)
    if layer.owner_column and principal is not None and principal.role == "grid_worker":
        return and_(area, _col(f"t.{layer.owner_column}") == bindparam(
            "owner", principal.username))
    department = getattr(principal, "department_code", None)
    if department and layer.table == "incidents":
        dept = bindparam("scope_department", department)
        return and_(area, or_(_col("t.department_code") == dept, text(
            "EXISTS (SELECT 1 FROM summons s WHERE s.incident_id = t.id "
            "AND s.department_code = :scope_department)").bindparams(dept)))
    return area


def _area_condition(layer: Layer, principal: Principal | None) -> ColumnElement[bool]:
    if layer.scope_code and layer.scope_geom:
        code = _col(f"t.{layer.scope_code}")
        return or_(code_in_scope(code, principal),
                   and_(code.is_(None), geom_in_scope(_col("t.geom"), principal)))
    if layer.scope_code:
        return code_in_scope(_col(f"t.{layer.scope_code}"), principal)
    return geom_in_scope(_col("t.geom"), principal)


def layer_condition(layer: Layer, query: LayerQuery) -> ColumnElement[bool]:
    """The full WHERE condition of ``query`` on ``layer`` (alias ``t``)."""
    parts = [text(layer.where)] if layer.where else []
    parts.append(scope_condition(layer, query.principal))
    if query.bbox is not None:
        env = func.ST_MakeEnvelope(*(bindparam(f"bbox_{i}", v) for i, v in
                                     enumerate(query.bbox)), query.bbox_srid)
        if query.bbox_srid != 4326:
            env = func.ST_Transform(env, 4326)
        parts.append(func.ST_Intersects(_col("t.geom"), env))
    if query.interval is not None and layer.datetime is not None:
        start, end = query.interval
        first, last = layer.datetime
        if start is not None:
            parts.append(_col(f"t.{last}") >= bindparam("dt_start", start))
        if end is not None:
            parts.append(_col(f"t.{first}") <= bindparam("dt_end", end))
    for name, values in sorted(query.filters.items()):
        prop = layer.prop(name)  # validated by parse_filters
        parts.append(_col(prop.filter_sql or prop.sql)
                     .in_(bindparam(f"f_{name}", values, expanding=True)))
    return and_(true(), *parts)


def compile_condition(condition: ColumnElement[bool]) -> tuple[str, dict]:
    """SQL text (named ``:params``) and its parameters, ready to splice into a .sql file."""
    compiled = condition.compile(dialect=_DIALECT, compile_kwargs={"render_postcompile": True})
    # Bind casts (":p::VARCHAR") would read as a parameter named "p:" to text(): escape them.
    return _BIND_CAST.sub(r"\1\\:\\:", str(compiled)), dict(compiled.params)


def where_sql(layer: Layer, query: LayerQuery) -> tuple[str, dict]:
    return compile_condition(layer_condition(layer, query))


def parse_value(prop: Prop, raw: str):
    """A filter value from a query string, typed by the property's kind (422 if bad)."""
    kind = prop.filter_kind or prop.kind
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            low = raw.strip().lower()
            if low not in _TRUE | _FALSE:
                raise ValueError
            return low in _TRUE
        if kind == "time":
            return parse_instant(raw, prop.name)
        if kind == "date":
            return date.fromisoformat(raw)
    except ValueError:
        raise InputError(f"{raw!r} is not a valid {kind} value", field=prop.name) from None
    return raw


def parse_instant(raw: str, field_name: str = "datetime") -> datetime:
    """An RFC 3339 instant (a bare date means its start, in UTC)."""
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{raw!r} is not an RFC 3339 date-time", field=field_name) from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def parse_interval(raw: str | None) -> tuple[datetime | None, datetime | None] | None:
    """OGC ``datetime``: an instant, ``start/end``, ``../end`` or ``start/..``."""
    if not raw:
        return None
    if "/" not in raw:
        instant = parse_instant(raw)
        return instant, instant
    start, _, end = raw.partition("/")
    lo = None if start in ("", "..") else parse_instant(start)
    hi = None if end in ("", "..") else parse_instant(end)
    if lo and hi and lo > hi:
        raise InputError("datetime interval ends before it starts", field="datetime")
    return lo, hi


def parse_bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    """``minx,miny,maxx,maxy`` (4 numbers; 6 with heights are accepted, heights ignored)."""
    if not raw:
        return None
    try:
        nums = [float(v) for v in raw.split(",")]
    except ValueError:
        raise InputError(f"bbox {raw!r} must be 4 numbers", field="bbox") from None
    if len(nums) == 6:
        nums = [nums[0], nums[1], nums[3], nums[4]]
    if len(nums) != 4 or nums[0] > nums[2] or nums[1] > nums[3]:
        raise InputError("bbox must be minx,miny,maxx,maxy with min <= max", field="bbox")
    return tuple(nums)


def parse_filters(layer: Layer, params: dict[str, str]) -> dict[str, list]:
    """Property filters ``?status=closed`` (comma-separated values mean any of them)."""
    filters: dict[str, list] = {}
    for name, raw in params.items():
        prop = layer.prop(name)
        if prop is None or not prop.filterable:
            known = ", ".join(p.name for p in layer.props if p.filterable)
            raise InputError(f"unknown query parameter {name!r} for collection {layer.id} "
                             f"(filterable: {known})", field=name)
        filters[name] = [parse_value(prop, v) for v in raw.split(",")]
    return filters
