"""The demo district: generated (deterministic per seed), loaded in one transaction with one
account per role, on the first run only; a second run finds the data and reports it. The
parts are :mod:`gis.store.demo`."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from sqlalchemy import Engine, func, select

from gis.services.reports import new_code
from gis.services.uow import unit_of_work
from gis.settings import Settings
from gis.store import demo as parts
from gis.store import demo_departments
from gis.store.models import AdminUnit

__all__ = ["ensure_demo"]


def ensure_demo(engine: Engine, settings: Settings, *, households: int = 30_000,
                seed: int = 1, now: datetime | None = None) -> dict:
    """Load the demo district unless the database already holds data; return a summary
    with counts and the demo accounts (tokens and passwords). The generated incidents,
    patrols and visits end at ``now`` (default: the current time), in the deployment's
    time zone, so the county looks as it runs today."""
    t0 = time.perf_counter()
    demo_dir = settings.data_dir / "demo"
    with unit_of_work(engine, read_only=True) as session:
        loaded = session.scalar(select(func.count()).select_from(AdminUnit)) > 0
    if not loaded:
        district = parts.generate(demo_dir, households, seed)
        with unit_of_work(engine) as session:
            added = parts.load(session, district, settings,
                               now=now or datetime.now(timezone.utc), new_code=new_code)
            accounts = parts.create_accounts(session, district)
            county = district.admin_units.query("level == 'county'")["code"].iloc[0]
            accounts += demo_departments.create(session, county)   # issue 16
        parts.save_accounts(demo_dir, accounts)  # only once the accounts are stored
    with unit_of_work(engine, read_only=True) as session:
        summary = parts.counts(session)
    if not loaded:
        summary["added"] = added
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    summary["files"] = str(demo_dir)
    summary["accounts"] = parts.read_accounts(demo_dir)
    return summary
