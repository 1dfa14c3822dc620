"""Hand-built area for the overview and report tests (real geometry, in PostGIS).

County 330102 near lon 120.0, lat 30.0 (0.02° tall strips, west to east):

- township T1 330102001: community C1 (grids G11: 250 households, G12: 400) and community
  C2 (G21: 600, basic, too full; G22: 900, exclusive, never out of bounds);
- township T2 330102002: community C3 (G31: 350).

So T1 has 4 grids, 2150 households and 2 grids out of bounds (G11 below 300, G21 above
500); the county has 5 grids and 2500 households.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text

COUNTY, T1, T2 = "330102000000", "330102001000", "330102002000"
C1, C2, C3 = "330102001001", "330102001002", "330102002001"
G11, G12, G21, G22, G31 = C1 + "0001", C1 + "0002", C2 + "0001", C2 + "0002", C3 + "0001"
LOCAL = ZoneInfo("Asia/Shanghai")


def box(x0: float, x1: float, y0: float = 30.0, y1: float = 30.02) -> str:
    return f"SRID=4326;MULTIPOLYGON((({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0})))"


UNITS = [  # code, name, level, kind, parent, geom
    (COUNTY, "西湖县", "county", "county", None, box(120.0, 120.06)),
    (T1, "东山街道", "township", "street", COUNTY, box(120.0, 120.04)),
    (T2, "西岭乡", "township", "township", COUNTY, box(120.04, 120.06)),
    (C1, "青石社区", "community", "community", T1, box(120.0, 120.02)),
    (C2, "柳岸社区", "community", "community", T1, box(120.02, 120.04)),
    (C3, "桃源村", "community", "village", T2, box(120.04, 120.06)),
]
GRIDS = [  # code, name, community, kind, households, geom
    (G11, "青石一网格", C1, "basic", 250, box(120.0, 120.01)),
    (G12, "青石二网格", C1, "basic", 400, box(120.01, 120.02)),
    (G21, "柳岸一网格", C2, "basic", 600, box(120.02, 120.03)),
    (G22, "柳岸学校网格", C2, "exclusive", 900, box(120.03, 120.04)),
    (G31, "桃源网格", C3, "basic", 350, box(120.04, 120.06)),
]
CENTRE = {G11: (120.005, 30.01), G12: (120.015, 30.01), G21: (120.025, 30.01),
          G22: (120.035, 30.01), G31: (120.05, 30.01)}


def insert_area(engine) -> None:
    with engine.begin() as conn:
        for code, name, level, kind, parent, geom in UNITS:
            conn.execute(text(
                "INSERT INTO admin_units (code, name, level, kind, parent_code, geom) "
                "VALUES (:c, :n, :l, :k, :p, ST_GeomFromEWKT(:g))"),
                {"c": code, "n": name, "l": level, "k": kind, "p": parent, "g": geom})
        for code, name, community, kind, households, geom in GRIDS:
            conn.execute(text(
                "INSERT INTO grids (code, name, community_code, kind, households, geom, "
                "valid_from) VALUES (:c, :n, :m, :k, :h, ST_GeomFromEWKT(:g), "
                "now() - interval '400 days')"),
                {"c": code, "n": name, "m": community, "k": kind, "h": households, "g": geom})


def add_incident(conn, grid: str, reported: datetime, due: datetime,
                 closed: datetime | None = None, category: str = "dispute") -> None:
    lon, lat = CENTRE[grid]
    conn.execute(text(
        "INSERT INTO incidents (category, reported_at, due_at, closed_at, status, grid_code, "
        "community_code, township_code, geom) VALUES (:cat, :r, :d, :c, :s, :g, :m, :t, "
        "ST_SetSRID(ST_MakePoint(:x, :y), 4326))"),
        {"cat": category, "r": reported, "d": due, "c": closed,
         "s": "closed" if closed else "handling", "g": grid, "m": grid[:12],
         "t": grid[:9] + "000", "x": lon, "y": lat})


def add_fix(conn, grid: str, at: datetime, worker: str = "w1") -> None:
    lon, lat = CENTRE[grid]
    conn.execute(text("INSERT INTO patrol_points (worker, time, geom) VALUES "
                      "(:w, :t, ST_SetSRID(ST_MakePoint(:x, :y), 4326))"),
                 {"w": worker, "t": at, "x": lon, "y": lat})


def add_coverage(conn, grid: str, target: float, covered: float, spots: int) -> None:
    conn.execute(text(
        "INSERT INTO coverage (grid_code, target_m2, covered_m2, blind_m2, blind_spots) "
        "VALUES (:g, :t, :c, :t - :c, :s)"), {"g": grid, "t": target, "c": covered, "s": spots})


def insert_recent(engine, now: datetime) -> None:
    """Incidents, coverage and patrol fixes relative to ``now`` (see test_overview).

    T1: incidents in the last 12 weeks A (closed), B (open, overdue), C (open); D reported
    20 weeks ago and still open past due. T2: E closed in time a week ago. Coverage for
    G11 (60 of 100 m², 2 blind spots) and G12 (100 of 100). Patrol: G11 walked for 10
    minutes yesterday morning, G12 for 2 minutes (too short)."""
    d = timedelta(days=1)
    with engine.begin() as conn:
        add_incident(conn, G11, now - 3 * d, now + 5 * d, closed=now - d)           # A
        add_incident(conn, G12, now - 2 * d, now - d)                               # B
        add_incident(conn, G21, now - d, now + 2 * d)                               # C
        add_incident(conn, G22, now - 140 * d, now - 133 * d)                       # D
        add_incident(conn, G31, now - 7 * d, now - 5 * d, closed=now - 6 * d)       # E
        add_coverage(conn, G11, 100.0, 60.0, 2)
        add_coverage(conn, G12, 100.0, 100.0, 0)
        local = now.astimezone(LOCAL)
        morning = local.replace(hour=9, minute=0, second=0, microsecond=0) - d
        add_fix(conn, G11, morning)
        add_fix(conn, G11, morning + timedelta(minutes=10))
        add_fix(conn, G12, morning + timedelta(minutes=20))
        add_fix(conn, G12, morning + timedelta(minutes=22))

