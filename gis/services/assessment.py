"""The monthly 123456 assessment of grid workers (issue 18) over the database, and the
writes of key households and visits. Rules: :mod:`gis.assessment`; loading:
:mod:`gis.store.assessment`.

Reading an assessment reads the key-household register, so it is audited: the entry is
committed with the read's unit of work, before the figures are returned.
"""

from __future__ import annotations

from sqlalchemy import Engine

from gis.assessment import Assessment, Month, Norms, assess
from gis.services.uow import unit_of_work
from gis.store import assessment as repo
from gis.store.users import Principal

__all__ = ["add_key_household", "add_visit", "month_assessment"]


def month_assessment(engine: Engine, principal: Principal, *, month: str, area: str | None = None,
                     tz: str = "Asia/Shanghai", norms: Norms = Norms()) -> Assessment:
    """Every worker of the area's grids assessed for ``month`` (``YYYY-MM``); a grid worker
    gets their own row only. An area outside the caller's scope is NotFound."""
    m = Month.parse(month, tz)  # a bad month is refused before any query
    with unit_of_work(engine) as session:  # not read-only: the audit entry must be kept
        ev = repo.load_month(session, principal, area, m)
    return assess(ev.fixes, ev.staff, ev.grids, ev.incidents, ev.visits, ev.key_households,
                  m.label, tz, buildings=ev.buildings, grid_key="code", building_key="id",
                  norms=norms)


def add_key_household(engine: Engine, principal: Principal, row: dict) -> int:
    """Register a key household in a community of the caller's scope (audited)."""
    with unit_of_work(engine) as session:
        return repo.add_key_household(session, principal, row)


def add_visit(engine: Engine, principal: Principal, row: dict) -> int:
    """Record a visit; a grid worker records their own only."""
    with unit_of_work(engine) as session:
        return repo.add_visit(session, principal, row)
