"""The one-screen overview (一屏观城乡) and the monthly figures: statistics of any admin unit
or grid, in SQL, with one row per unit one level down for drill-down.

Definitions (the same for the page and the monthly report; ``[a, b)`` is the period):

- ``households``, ``grids``: current grids of the area (grids are the unit of management;
  an area without grids falls back to the admin unit's own household count).
- ``out_of_bounds``: basic grids outside ``min_households``–``max_households`` (exclusive
  grids are kept whole whatever their size, so they never count).
- ``incidents``: reported in the period; ``closed``: of those, closed before ``b``;
  ``resolution_rate`` = closed / incidents; ``open``: not closed at ``b``; ``overdue``: the
  rule of :func:`gis.incidents.overdue` at ``b`` (open past the due time, still reported
  past the accept limit, or closed late), the same rule as the list and the map; ``late``: reported in the period and closed after the
  due time or still open past it; ``per_1000`` = incidents per 1,000 households.
- ``coverage_ratio`` and ``blind_spots``: the stored camera coverage analysis (table
  ``coverage``; current only, no history); ``None`` when no analysis is stored.
- ``patrol_compliance``: share of (grid, half-day window) pairs patrolled, a SQL
  approximation of :mod:`gis.patrol.compliance`: a grid counts as patrolled in a window
  when the fixes inside it span at least ``min_minutes`` (time between the first and
  the last fix inside, not the time summed over visits).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gis.errors import InputError, NotFound
from gis.store.models import AdminUnit, Grid
from gis.store.overdue import overdue_sql
from gis.store.scope import code_in_scope
from gis.store.users import Principal

SQL_DIR = Path(__file__).with_name("sql")
HALF_DAY = timedelta(hours=12)
PREFIX_LEN = {"county": 6, "township": 9, "community": 12}
CHILD = {"county": ("township", 9), "township": ("community", 12), "community": ("grid", 0),
         "grid": (None, 0)}
COUNTS = ("grids", "households", "basic_grids", "below_min", "above_max", "incidents",
          "closed", "open", "overdue", "late", "coverage_grids", "blind_spots",
          "patrolled_windows")  # the counts of sql/overview_units.sql


# The overdue rule at the period's end :b, for an incident as it stood then (closed only
# if closed before :b; the status is today's: a status history is not kept per instant).
OVERDUE_AT_B = overdue_sql("i.", ":b",
                           closed_at="(CASE WHEN i.closed_at < :b THEN i.closed_at END)")


@cache
def _sql(name: str):
    return text((SQL_DIR / f"{name}.sql").read_text().replace("/*overdue_at_b*/", OVERDUE_AT_B))


@dataclass(frozen=True)
class Rules:
    """Thresholds of the figures (the partitioner's bounds, the patrol rule)."""

    min_households: int = 300
    max_households: int = 500
    min_minutes: float = 5.0
    tz: str = "Asia/Shanghai"


@dataclass(frozen=True)
class Area:
    """An admin unit or a current grid, resolved inside the caller's scope."""

    code: str
    name: str
    level: str  # county | township | community | grid
    parent_code: str | None
    households: int = 0
    bbox: list[float] | None = field(default=None, compare=False)

    @property
    def prefix(self) -> str:
        return self.code if self.level == "grid" else self.code[:PREFIX_LEN[self.level]]

    @property
    def child_level(self) -> str | None:
        return CHILD[self.level][0]


def _bbox(geom) -> list:
    return [func.ST_XMin(geom), func.ST_YMin(geom), func.ST_XMax(geom), func.ST_YMax(geom)]


def resolve_area(session: Session, code: str, principal: Principal | None) -> Area:
    """The admin unit or current grid ``code``; outside the caller's scope or unknown:
    :class:`~gis.errors.NotFound` (never reveal that it exists)."""
    code = (code or "").strip()
    if not code.isdigit() or len(code) < 12:
        raise InputError(f"area code must be a 12-digit admin code or a grid code, not {code!r}",
                         field="code")
    row = session.execute(
        select(AdminUnit.code, AdminUnit.name, AdminUnit.level, AdminUnit.parent_code,
               AdminUnit.households, *_bbox(AdminUnit.geom))
        .where(AdminUnit.code == code, code_in_scope(AdminUnit.code, principal))).first()
    if row is None:
        row = session.execute(
            select(Grid.code, func.coalesce(Grid.name, Grid.code), text("'grid'"),
                   Grid.community_code, Grid.households, *_bbox(Grid.geom))
            .where(Grid.code == code, Grid.valid_to.is_(None),
                   code_in_scope(Grid.code, principal))).first()
    if row is None:
        raise NotFound(f"no area {code!r}")
    return Area(row[0], row[1] or row[0], row[2], row[3], int(row[4] or 0),
                [round(float(v), 6) for v in row[5:9]] if row[5] is not None else None)


def breadcrumbs(session: Session, area: Area, principal: Principal | None) -> list[dict]:
    """The area's ancestors inside the caller's scope, top first, then the area itself."""
    chain = [{"code": area.code, "name": area.name, "level": area.level}]
    parent = area.parent_code
    while parent:
        row = session.execute(select(AdminUnit.code, AdminUnit.name, AdminUnit.level,
                                     AdminUnit.parent_code)
                              .where(AdminUnit.code == parent,
                                     code_in_scope(AdminUnit.code, principal))).first()
        if row is None:
            break
        chain.insert(0, {"code": row[0], "name": row[1] or row[0], "level": row[2]})
        parent = row[3]
    return chain


def units_below(session: Session, area: Area, by: str = "child") -> list[dict]:
    """Units one level down (``by="child"``) or every current grid (``by="grid"``) of the
    area: ``code``, ``name``, ``level``, ``parent`` (community of a grid)."""
    if by == "grid" or area.child_level == "grid":
        where = (Grid.code == area.code) if area.level == "grid" else \
            Grid.code.startswith(area.prefix, autoescape=True)
        rows = session.execute(select(Grid.code, Grid.name, Grid.community_code)
                               .where(Grid.valid_to.is_(None), where).order_by(Grid.code))
        return [{"code": c, "name": n or c, "level": "grid", "parent": p} for c, n, p in rows]
    if area.child_level is None:
        return []
    rows = session.execute(select(AdminUnit.code, AdminUnit.name, AdminUnit.level)
                           .where(AdminUnit.parent_code == area.code).order_by(AdminUnit.code))
    return [{"code": c, "name": n or c, "level": lv, "parent": area.code} for c, n, lv in rows]


@dataclass(frozen=True)
class Period:
    """Incidents reported in ``[start, end)``; patrol windows ``[patrol_start, patrol_end)``."""

    start: datetime
    end: datetime
    patrol_start: datetime
    patrol_end: datetime

    @property
    def windows(self) -> int:
        return max(0, int((self.patrol_end - self.patrol_start) / HALF_DAY))


def figures(session: Session, area: Area, period: Period, rules: Rules = Rules(), *,
            by: str = "child") -> tuple[dict, dict[str, dict]]:
    """Area totals and figures per unit (one level down, or per grid with ``by="grid"``),
    keyed by unit code; rates are computed here from the counts (see module docs)."""
    clen = 0 if by == "grid" else CHILD[area.level][1]
    params = {"prefix": area.prefix, "plen": len(area.prefix), "is_grid": area.level == "grid",
              "clen": clen, "a": period.start, "b": period.end,
              "wstart": period.patrol_start, "wend": period.patrol_end, "wlen": HALF_DAY,
              "min_minutes": rules.min_minutes, "min_hh": rules.min_households,
              "max_hh": rules.max_households}
    rows = {r["key"]: dict(r) for r in session.execute(_sql("overview_units"), params).mappings()}
    empty = dict.fromkeys(COUNTS, 0)
    total = with_rates({**empty, **rows.pop("*", {})}, period.windows)
    if not total["grids"]:
        total["households"] = area.households
    rows.pop("-", None)  # incidents of the area outside every unit: in the total only
    return total, {k: with_rates({**empty, **v}, period.windows) for k, v in rows.items()}


def _ratio(num, den, digits: int = 4):
    return round(float(num) / float(den), digits) if den else None


def with_rates(r: dict, windows: int) -> dict:
    r.pop("key", None)
    target, covered = r.pop("target_m2", None), r.pop("covered_m2", None)
    r = {k: int(v) for k, v in r.items()}
    r["out_of_bounds"] = r["below_min"] + r["above_max"]
    r["resolution_rate"] = _ratio(r["closed"], r["incidents"])
    r["per_1000"] = _ratio(r["incidents"] * 1000, r["households"], 2)
    r["coverage_ratio"] = _ratio(covered, target) if r["coverage_grids"] else None
    r["patrol_windows"] = r["grids"] * windows
    r["patrol_compliance"] = _ratio(r["patrolled_windows"], r["patrol_windows"])
    return r


def weekly_trend(session: Session, area: Area, start: datetime, weeks: int) -> list[dict]:
    """Incidents reported and closed per week for ``weeks`` weeks from ``start``."""
    params = {"prefix": area.prefix, "plen": len(area.prefix), "is_grid": area.level == "grid",
              "start": start, "weeks": weeks}
    return [{"week_start": r.week_start.isoformat(), "reported": int(r.reported),
             "closed": int(r.closed)} for r in session.execute(_sql("overview_trend"), params)]


def _local_midnight(now: datetime, tz: str) -> datetime:
    local = now.astimezone(ZoneInfo(tz))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def recent_period(now: datetime, tz: str, *, weeks: int = 12, half_days: int = 14) -> Period:
    """The overview's period: incidents of the last ``weeks`` weeks (from a local Monday),
    patrol over the last ``half_days`` complete half-day windows."""
    midnight = _local_midnight(now, tz)
    monday = midnight - timedelta(days=midnight.weekday(), weeks=weeks - 1)
    window_end = midnight + (HALF_DAY if now >= midnight + HALF_DAY else timedelta(0))
    return Period(monday, now, window_end - half_days * HALF_DAY, window_end)


def overview(session: Session, code: str, principal: Principal | None, *,
             now: datetime | None = None, weeks: int = 12, half_days: int = 14,
             rules: Rules = Rules()) -> dict:
    """Everything the overview page shows for one area (see the module docs).

    Examples
    --------
    >>> overview(session, "330102001000", principal)["figures"]["open"]  # doctest: +SKIP
    12
    """
    if not (1 <= weeks <= 104 and 1 <= half_days <= 366):
        raise InputError("weeks must be 1–104 and half_days 1–366", field="weeks")
    now = now or datetime.now(timezone.utc)
    area = resolve_area(session, code, principal)
    period = recent_period(now, rules.tz, weeks=weeks, half_days=half_days)
    total, per_unit = figures(session, area, period, rules)
    children = [] if area.level == "grid" else [
        {**u, **per_unit.get(u["code"], with_rates(dict.fromkeys(COUNTS, 0), period.windows))}
        for u in units_below(session, area)]
    return {"area": {**asdict(area), "child_level": area.child_level},
            "breadcrumbs": breadcrumbs(session, area, principal),
            "figures": total, "children": children,
            "incident_trend": weekly_trend(session, area, period.start, weeks),
            "period": {"incidents_from": period.start.isoformat(), "to": now.isoformat(),
                       "patrol_from": period.patrol_start.isoformat(),
                       "patrol_to": period.patrol_end.isoformat(),
                       "patrol_windows": period.windows,
                       "patrol_rule": f"fixes inside a grid spanning ≥ {rules.min_minutes:g} "
                                      "min in a half day (SQL approximation)",
                       "bounds": [rules.min_households, rules.max_households]},
            "notes": notes(total)}


def notes(total: dict) -> list[str]:
    """What the figures cannot say for this area, in words for the reader."""
    out = []
    if not total["coverage_grids"]:
        out.append("no stored camera coverage analysis for this area "
                   "(run gridgis coverage-db): coverage ratio and blind spots unknown")
    elif total["coverage_grids"] < total["grids"]:
        out.append(f"camera coverage stored for {total['coverage_grids']} of "
                   f"{total['grids']} grids")
    if not total["grids"]:
        out.append("no current grids in this area")
    return out


def root_code(session: Session, principal: Principal | None) -> str | None:
    """Where the overview starts: the caller's scope, else the first county (or the top
    unit loaded); None when no admin units are loaded."""
    if principal is not None and principal.scope_code:
        return principal.scope_code
    return session.scalar(select(AdminUnit.code).where(AdminUnit.parent_code.is_(None))
                          .order_by(AdminUnit.level != "county", AdminUnit.code).limit(1))
