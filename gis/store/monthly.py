"""The monthly report's data from the database: the figures of :mod:`gis.store.overview`
for a calendar month and the month before, per unit one level down and per grid, with
their outlines, as a :class:`gis.report.ReportData`."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import geopandas as gpd
import pandas as pd
from sqlalchemy.orm import Session

from gis.errors import InputError
from gis.report import ReportData
from gis.store.overview import (COUNTS, HALF_DAY, Period, Rules, figures, notes, resolve_area,
                                with_rates)
from gis.store.overview_shapes import unit_shapes
from gis.store.users import Principal


def month_start(month: str, tz: str) -> datetime:
    """Local midnight of the first day of ``YYYY-MM``."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", (month or "").strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise InputError(f"month must look like 2025-05, not {month!r}", field="month")
    return datetime(int(m.group(1)), int(m.group(2)), 1, tzinfo=ZoneInfo(tz))


def _next_month(start: datetime) -> datetime:
    return start.replace(year=start.year + (start.month == 12), month=start.month % 12 + 1)


def _previous_month(start: datetime) -> datetime:
    return start.replace(year=start.year - (start.month == 1), month=(start.month - 2) % 12 + 1)


def month_period(start: datetime, now: datetime) -> Period:
    """The month from ``start``, cut at ``now`` when it is still running (patrol up to the
    last complete half day)."""
    if start >= now:
        raise InputError(f"month {start:%Y-%m} has not started yet", field="month")
    end = min(_next_month(start), now)
    whole = int((end - start) / HALF_DAY)  # half days since local midnight, DST aside
    return Period(start, end, start, start + whole * HALF_DAY)


def _frame(shapes: gpd.GeoDataFrame, cur: dict, prev: dict, windows: tuple[int, int]):
    """Outlines with this month's figures and last month's (suffix ``_prev``)."""
    def table(per: dict, n: int) -> pd.DataFrame:
        zero = with_rates(dict.fromkeys(COUNTS, 0), n)
        rows = [{"code": c, **per.get(c, zero)} for c in shapes["code"]]
        return pd.DataFrame(rows, columns=["code", *zero]).set_index("code")

    now, before = table(cur, windows[0]), table(prev, windows[1]).add_suffix("_prev")
    out = shapes.set_index("code").join(now).join(before).reset_index()
    return gpd.GeoDataFrame(out, geometry="geometry", crs=shapes.crs)


def monthly_data(session: Session, code: str, month: str, principal: Principal | None = None,
                 *, rules: Rules = Rules(), now: datetime | None = None) -> ReportData:
    """Figures of area ``code`` for ``month`` (``YYYY-MM``) and the month before.

    Examples
    --------
    >>> data = monthly_data(session, "330102001000", "2025-05")      # doctest: +SKIP
    >>> data.grids[["code", "incidents", "incidents_prev"]]          # doctest: +SKIP
    """
    now = now or datetime.now(timezone.utc)
    area = resolve_area(session, code, principal)
    start = month_start(month, rules.tz)
    period, before = month_period(start, now), month_period(_previous_month(start), now)
    total, per_unit = figures(session, area, period, rules)
    total_prev, per_unit_prev = figures(session, area, before, rules)
    _, per_grid = figures(session, area, period, rules, by="grid")
    _, per_grid_prev = figures(session, area, before, rules, by="grid")
    windows = (period.windows, before.windows)
    units = unit_shapes(session, area) if area.level != "grid" else unit_shapes(
        session, area).iloc[:0]
    cut = period.end.astimezone(ZoneInfo(rules.tz))
    extra = [] if period.end == _next_month(start) else [
        f"month still running: figures up to {cut:%Y-%m-%d %H:%M}"]
    return ReportData(
        area={"code": area.code, "name": area.name, "level": area.level,
              "child_level": area.child_level,
              "bounds": f"{rules.min_households}–{rules.max_households}",
              "min_minutes": f"{rules.min_minutes:g}"},
        month=f"{start:%Y-%m}", previous=f"{_previous_month(start):%Y-%m}",
        total=total, total_prev=total_prev,
        units=_frame(units, per_unit, per_unit_prev, windows),
        grids=_frame(unit_shapes(session, area, by="grid"), per_grid, per_grid_prev, windows),
        outline=unit_shapes(session, area, by="self"), notes=extra + notes(total),
        generated_at=now.astimezone(ZoneInfo(rules.tz)).strftime("%Y-%m-%d %H:%M"))
