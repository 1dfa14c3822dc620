"""Duplicates (issue 16): likely duplicates of an incident, and merging one into another.
The rule is :mod:`gis.duplicates`; queries :mod:`gis.store.duplicates`."""

from __future__ import annotations

from sqlalchemy import Engine

from gis.duplicates import DEFAULT_DISTANCE_M, DEFAULT_REOPEN_DAYS, DEFAULT_WITHIN_HOURS
from gis.services.uow import unit_of_work
from gis.store import duplicates as repo
from gis.store.incidents import feature
from gis.store.users import Principal

__all__ = ["DEFAULT_DISTANCE_M", "DEFAULT_REOPEN_DAYS", "DEFAULT_WITHIN_HOURS", "find",
           "merge"]


def find(engine: Engine, principal: Principal, incident_id: int, *,
         distance_m: float = DEFAULT_DISTANCE_M, within_hours: float = DEFAULT_WITHIN_HOURS,
         reopen_days: float = DEFAULT_REOPEN_DAYS) -> list[dict]:
    """Open incidents of the same category within ``distance_m`` metres and
    ``within_hours`` hours, nearest first, then those closed within ``reopen_days``
    (``"reopen": true``); only those the caller may see."""
    with unit_of_work(engine, read_only=True) as session:
        return repo.duplicates_of(session, incident_id, principal, distance_m=distance_m,
                                  within_hours=within_hours, reopen_days=reopen_days)


def merge(engine: Engine, principal: Principal, incident_id: int, *, into: int,
          version: int, reopen_days: float = DEFAULT_REOPEN_DAYS) -> dict:
    """Merge ``incident_id`` (read at ``version``) into ``into``; returns the survivor. A
    survivor closed within ``reopen_days`` reopens (重办); one closed earlier refuses."""
    with unit_of_work(engine) as session:
        return feature(repo.merge(session, incident_id, into, version=version,
                                  principal=principal, reopen_days=reopen_days))
