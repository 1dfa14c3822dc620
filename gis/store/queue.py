"""A department's queue (issue 16): its parts in incidents, what waits for it to report in,
what it is handling, what is overdue. Read-only queries."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gis import supervision
from gis.errors import Forbidden
from gis.store.incidents import in_scope
from gis.store.models import Incident, IncidentEvent, Summons
from gis.store.users import Principal


def queue(session: Session, principal: Principal, *, include_done: bool = False,
          now: datetime | None = None) -> dict:
    """The caller's department's open parts (and, with ``include_done``, finished ones),
    most urgent first, counted by ``waiting`` (to acknowledge), ``handling`` and
    ``overdue``."""
    if not principal.department_code:
        raise Forbidden("the queue is a department account's")
    now = now or datetime.now(timezone.utc)
    cond = [Summons.department_code == principal.department_code, in_scope(principal)]
    if not include_done:
        cond += [Summons.state != "fed_back", Incident.status != "closed"]
    reopened = (select(func.count()).where(   # 重办 against this department on this case
        IncidentEvent.incident_id == Summons.incident_id, IncidentEvent.action == "reopen",
        IncidentEvent.department_code == Summons.department_code)
        .correlate(Summons).scalar_subquery())
    rows = session.execute(
        select(Summons, Incident.category, Incident.subcategory, Incident.status,
               Incident.version, Incident.grid_code, Incident.description,
               func.ST_X(Incident.geom), func.ST_Y(Incident.geom), reopened)
        .join(Incident, Incident.id == Summons.incident_id)
        .where(*cond).order_by(Summons.ack_due_at, Summons.id)).all()
    items = []
    for s, category, subcategory, status, version, grid, description, lon, lat, again in rows:
        lapse = supervision.lapsed(supervision.Summons(
            s.department_code, s.state, s.ack_due_at, s.handle_due_at), now)
        items.append({"incident_id": s.incident_id, "kind": s.kind, "state": s.state,
                      "note": s.note, "summoned_at": s.summoned_at,
                      "ack_due_at": s.ack_due_at, "handle_due_at": s.handle_due_at,
                      "overdue": lapse, "category": category, "subcategory": subcategory,
                      "status": status, "version": version, "grid_code": grid,
                      "description": description, "lon": lon, "lat": lat,
                      "reopened": again})
    return {"department": principal.department_code,
            "waiting": sum(i["state"] == "summoned" for i in items),
            "handling": sum(i["state"] == "acknowledged" for i in items),
            "overdue": sum(i["overdue"] is not None for i in items), "items": items}
