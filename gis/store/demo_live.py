"""What makes the demo database look like a county running now, beyond the generated
layers: visits along the patrols, key households, cases dispatched to the demo grid worker,
residents' reports, and camera coverage computed at load (the departments:
:mod:`gis.store.demo_departments`). Each writes in
the caller's transaction (the demo use case commits)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from gis.generate.visits import visits_along_patrols
from gis.store import incidents as incidents_repo
from gis.store import public_reports
from gis.store.coverage import RunOptions, run_coverage
from gis.store.models import Building, Grid, Visit

# Each visit names the nearest building within 30 m of where it was made (as POST /visits).
_VISIT_BUILDINGS = """
UPDATE visits v SET building_id = near.id, community_code = near.community_code
  FROM (SELECT w.id AS visit_id, b.id, b.community_code
          FROM visits w
          CROSS JOIN LATERAL (
                SELECT id, community_code FROM buildings
                 WHERE ST_DWithin(geography(buildings.geom), geography(w.geom), 30)
                 ORDER BY buildings.geom <-> w.geom LIMIT 1) b
         WHERE w.building_id IS NULL AND w.geom IS NOT NULL) near
 WHERE v.id = near.visit_id
"""


def add_visits(session: Session, fixes: pd.DataFrame, *, seed: int) -> int:
    visits = visits_along_patrols(fixes, seed=seed)
    rows = [{"worker": w, "time": t.to_pydatetime(), "note": "入户走访",
             "geom": f"SRID=4326;POINT({x!r} {y!r})"}
            for w, t, x, y in zip(visits["worker"], visits["time"], visits["lon"], visits["lat"])]
    if rows:
        session.execute(insert(Visit), rows)
        session.execute(text(_VISIT_BUILDINGS))
    return len(rows)


# Three key households per community, in its residential buildings (least personal data:
# a register reference and a kind, nothing else).
_KEY_HOUSEHOLDS = """
INSERT INTO key_households (household_ref, kind, building_id, community_code)
SELECT 'KH-' || community_code || '-' || rn, (ARRAY['elderly_alone', 'disability',
       'left_behind_child'])[rn], id, community_code
  FROM (SELECT id, community_code,
               row_number() OVER (PARTITION BY community_code ORDER BY id) AS rn
          FROM buildings WHERE community_code IS NOT NULL AND households > 0
           AND kind IN ('highrise', 'lowrise')) b
 WHERE rn <= 3
"""


def add_key_households(session: Session) -> int:
    return session.execute(text(_KEY_HOUSEHOLDS)).rowcount


def dispatch_to(session: Session, grids: list[str], now: datetime, tolerance_m: float) -> int:
    """Two fresh cases in the demo worker's first grid, accepted and dispatched there: the
    grid-worker app opens on work to do."""
    if not grids:
        return 0
    spot = session.execute(select(Building.id, text("ST_X(ST_PointOnSurface(buildings.geom))"),
                                  text("ST_Y(ST_PointOnSurface(buildings.geom))"))
                           .join(Grid, text("ST_Intersects(grids.geom, buildings.geom)"))
                           .where(Grid.code == grids[0], Grid.valid_to.is_(None))
                           .order_by(Building.id).limit(2)).all()
    cases = [("environment", "garbage", "楼下垃圾堆放，请清理", 3),
             ("safety_hazard", "gas", "楼道内有煤气味，请到场查看", 1)]
    for (_, lon, lat), (cat, sub, desc, hours) in zip(spot, cases):
        new = incidents_repo.NewIncident(lon=lon, lat=lat, category=cat, subcategory=sub,
                                         description=desc, reporter="12345热线",
                                         reported_at=now - timedelta(hours=hours))
        row = incidents_repo.create_incident(session, new, actor="demo-dispatcher",
                                             tolerance_m=tolerance_m, now=now)
        for version, action in enumerate(("accept", "dispatch"), start=1):
            incidents_repo.transition(session, row["id"], action, version=version,
                                      principal=None, now=now)
    return len(spot)


PUBLIC_REPORTS = [("public_facility", "streetlight", "路灯不亮，晚上很黑", 20),
                  ("environment", "garbage", "小区门口垃圾没人清", 50),
                  ("safety_hazard", "construction", "工地围挡倒了，挡住人行道", 110)]


def add_public_reports(session: Session, township: str, now: datetime, tolerance_m: float,
                       new_code: Callable[[], str]) -> list[str]:
    """A few residents' reports (channel public, status reported, no contact details)
    waiting in the dispatcher's queue; returns their tracking codes (/report/{code})."""
    spots = session.execute(select(text("ST_X(ST_PointOnSurface(geom))"),
                                   text("ST_Y(ST_PointOnSurface(geom))"))
                            .select_from(Building)
                            .where(Building.community_code.startswith(township[:9]))
                            .order_by(Building.id.desc()).limit(len(PUBLIC_REPORTS))).all()
    codes = []
    for (lon, lat), (cat, sub, desc, minutes) in zip(spots, PUBLIC_REPORTS):
        new = incidents_repo.NewIncident(lon=lon, lat=lat, category=cat, subcategory=sub,
                                         description=desc, channel="public",
                                         reported_at=now - timedelta(minutes=minutes))
        row = incidents_repo.create_incident(session, new, actor="public",
                                             tolerance_m=tolerance_m, now=now)
        codes.append(new_code())
        public_reports.add(session, row["id"], codes[-1], public_reports.Contact())
    return codes


def compute_coverage(session: Session, county: str) -> int:
    """Camera coverage of every grid, stored: the overview shows it from the first visit."""
    result = run_coverage(session, county, RunOptions())
    return int(result.get("grids", 0)) if isinstance(result, dict) else 0
