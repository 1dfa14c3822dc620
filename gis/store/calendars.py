"""Holiday calendars per county in the store (:class:`gis.clocks.Calendar`). Repositories:
they flush, never commit. A county without rows has weekends off and nothing else."""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gis.clocks import Calendar
from gis.store.models import CalendarDay


def calendar_for(session: Session, place_code: str | None) -> Calendar:
    """The calendar of the county holding ``place_code`` (any admin or grid code)."""
    county = (place_code or "")[:6]
    rows = session.execute(select(CalendarDay.day, CalendarDay.kind)
                           .where(CalendarDay.county_code == county)).all() if county else []
    return Calendar(holidays={d for d, k in rows if k == "holiday"},
                    workdays={d for d, k in rows if k == "workday"})


def replace_days(session: Session, calendars: dict[str, Calendar],
                 names: dict | None = None) -> dict[str, int]:
    """Set the calendars of the given counties (their years in the file replace what was
    stored for those years); days per county."""
    out = {}
    for county, cal in calendars.items():
        days = cal.holidays | cal.workdays
        years = {d.year for d in days}
        for year in years:
            session.execute(delete(CalendarDay).where(
                CalendarDay.county_code == county,
                CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31))))
        for day in sorted(days):
            session.add(CalendarDay(county_code=county, day=day,
                                    kind="holiday" if day in cal.holidays else "workday"))
        out[county] = len(days)
    session.flush()
    return out
