"""A three-community district for the role and scope matrix (real geometry, PostGIS).

County 430102; township 1 holds communities 1 (grid A) and 1b (grid B), township 2 holds
community 2 (grid C). Each grid is a 0.01° square (about 980 m x 1110 m) side by side
west to east near lon 113.0, lat 28.0. Every grid holds one building, one road, one key
place, one camera, one incident and (per community) one draft plan, so every layer has
something inside and something outside each scope.
"""

from __future__ import annotations

from sqlalchemy import text

from gis.store.db import transaction

COUNTY, TOWN1, TOWN2 = "430102000000", "430102001000", "430102002000"
COMM1, COMM1B, COMM2 = "430102001001", "430102001002", "430102002001"
A, B, C = COMM1 + "0001", COMM1B + "0001", COMM2 + "0001"
X = {"A": 113.00, "B": 113.01, "C": 113.02}   # west edge of each grid
Y0, Y1 = 28.00, 28.01
GRID_CODE = {"A": A, "B": B, "C": C}
COMMUNITY = {"A": COMM1, "B": COMM1B, "C": COMM2}
SCOPES = {"county": COUNTY, "township": TOWN1, "community": COMM1}
VISIBLE = {"county": {"A", "B", "C"}, "township": {"A", "B"}, "community": {"A"}}
DISTRICT = (113.0, Y0, 113.03, Y1)


def square(x0: float, y0: float, x1: float, y1: float) -> str:
    return f"SRID=4326;MULTIPOLYGON((({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0})))"


def centre(letter: str) -> tuple[float, float]:
    return X[letter] + 0.005, (Y0 + Y1) / 2


UNITS = [
    (COUNTY, "county", "county", None, square(113.0, Y0, 113.03, Y1)),
    (TOWN1, "township", "street", COUNTY, square(113.0, Y0, 113.02, Y1)),
    (TOWN2, "township", "street", COUNTY, square(113.02, Y0, 113.03, Y1)),
    (COMM1, "community", "community", TOWN1, square(113.0, Y0, 113.01, Y1)),
    (COMM1B, "community", "community", TOWN1, square(113.01, Y0, 113.02, Y1)),
    (COMM2, "community", "community", TOWN2, square(113.02, Y0, 113.03, Y1)),
]


def _exec(conn, sql: str, **params):
    return conn.execute(text(sql), params)


def _insert_grid_things(conn, letter: str) -> dict[str, int]:
    x0, (cx, cy) = X[letter], centre(letter)
    code, comm = GRID_CODE[letter], COMMUNITY[letter]
    _exec(conn, "INSERT INTO grids (code, community_code, households, geom, valid_from) "
                "VALUES (:c, :m, 40, ST_GeomFromEWKT(:g), now() - interval '30 days')",
          c=code, m=comm, g=square(x0, Y0, x0 + 0.01, Y1))
    _exec(conn, "INSERT INTO buildings (geom, households, community_code) "
                "VALUES (ST_GeomFromEWKT(:g), 40, :m)",
          g=square(cx - 0.002, cy + 0.001, cx - 0.001, cy + 0.002), m=comm)
    _exec(conn, "INSERT INTO roads (class, name, geom) VALUES ('secondary', :n, "
                "ST_GeomFromEWKT(:g))", n=f"road {letter}",
          g=f"SRID=4326;MULTILINESTRING(({x0 + 0.001} {cy},{x0 + 0.009} {cy}))")
    _exec(conn, "INSERT INTO key_places (name, kind, geom) VALUES (:n, 'school', "
                "ST_GeomFromEWKT(:g))", n=f"school {letter}",
          g=square(cx + 0.001, cy - 0.002, cx + 0.002, cy - 0.001))
    camera = _exec(conn, "INSERT INTO cameras (code, type, status, range_m, geom) VALUES "
                         "(:c, 'dome', 'online', 60, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) "
                         "RETURNING id", c=f"cam-{letter}", x=cx, y=cy - 0.0005).scalar_one()
    incident = _exec(conn, "INSERT INTO incidents (category, reported_at, status, grid_code, "
                           "community_code, township_code, external_id, geom) VALUES "
                           "('dispute', now() - interval '1 day', 'reported', :g, :m, :t, :e, "
                           "ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING id",
                     g=code, m=comm, t=comm[:9] + "000", e=f"inc-{letter}", x=cx + 0.001,
                     y=cy + 0.001).scalar_one()
    return {"camera": camera, "incident": incident}


def insert_district(engine) -> dict[str, dict[str, int]]:
    """Units, grids, buildings, roads, key places, cameras, incidents, one draft plan per
    community, and stored coverage. Returns ids by grid letter: camera, incident, plan."""
    from gis.store import coverage, plans

    ids: dict[str, dict[str, int]] = {}
    with engine.begin() as conn:
        for code, level, kind, parent, geom in UNITS:
            _exec(conn, "INSERT INTO admin_units (code, name, level, kind, parent_code, geom) "
                        "VALUES (:c, :n, :l, :k, :p, ST_GeomFromEWKT(:g))",
                  c=code, n=f"unit {code}", l=level, k=kind, p=parent, g=geom)
        for letter in X:
            ids[letter] = _insert_grid_things(conn, letter)
    with transaction(engine) as session:
        for letter in X:
            area = COMMUNITY[letter]
            plan = plans.create_plan(session, area, plans.current_grids(session, area)
                                     .rename_geometry("geometry"), name=f"plan {letter}",
                                     source="current", actor="fixture")
            ids[letter]["plan"] = plan.id
        coverage.run_coverage(session, None)
    return ids
