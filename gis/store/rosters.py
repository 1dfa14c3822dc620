"""The duty roster in the store (issue 18's fairness rule): rows of a file upserted by
(worker, day) for the workers of the caller's area, and a month's roster of some workers
read back as the ``worker, date, on`` table that ``gridgis assess --roster`` reads."""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gis.errors import InvalidRows, RowProblem
from gis.store import audit
from gis.store.models import GridStaff, Roster
from gis.store.users import Principal


def _workers_in_scope(session: Session, principal: Principal, workers: set[str]) -> set[str]:
    """Those of ``workers`` who are staff of a grid inside the caller's area."""
    return set(session.scalars(select(GridStaff.worker_id).distinct().where(
        GridStaff.worker_id.in_(workers),
        GridStaff.grid_code.startswith(principal.scope_prefix, autoescape=True))))


def import_rows(session: Session, principal: Principal, rows: list[dict],
                file: str | None) -> int:
    """Upsert every row, or none: a worker who is on no grid of the caller's area is a
    problem (a roster can only be set for one's own staff)."""
    known = _workers_in_scope(session, principal, {r["worker"] for r in rows})
    problems = [RowProblem(None, "worker", f"{w} is on no grid of your area", file)
                for w in sorted({r["worker"] for r in rows} - known)]
    if problems:
        raise InvalidRows(problems, file=file)
    for start in range(0, len(rows), 5000):
        chunk = rows[start:start + 5000]
        stmt = insert(Roster).values(chunk)
        session.execute(stmt.on_conflict_do_update(
            index_elements=[Roster.worker, Roster.day],
            set_={"on_duty": stmt.excluded.on_duty, "updated_at": func.now()}))
    session.flush()
    audit.record(session, principal.username, "import", "rosters", None,
                 after={"file": file, "rows": len(rows),
                        "workers": len({r["worker"] for r in rows})})
    return len(rows)


def load(session: Session, workers: list[str], first: date, last: date) -> pd.DataFrame:
    """``worker, date, on`` of ``workers`` from ``first`` to ``last`` (inclusive)."""
    rows = session.execute(select(Roster.worker, Roster.day, Roster.on_duty).where(
        Roster.worker.in_(workers), Roster.day >= first, Roster.day <= last)
        .order_by(Roster.worker, Roster.day)).all()
    return pd.DataFrame({"worker": [r[0] for r in rows],
                         "date": [r[1].isoformat() for r in rows],
                         "on": ["on" if r[2] else "off" for r in rows]}, dtype=object)
