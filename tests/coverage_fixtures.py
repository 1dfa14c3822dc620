"""A small district for the coverage store and camera API tests (real geometry, PostGIS).

The admin units and grids of :mod:`grid_fixtures`: grids A and B (township 1) share
the edge lon = 113.01, grid C (township 2) lies east of B; each is a 0.01° square (about
980 m × 1110 m). A street runs west-east through A, B and C at lat 28.005, with two
buildings on it in A; a school (key place) sits in A. Cameras: two in A near its west
edge (far from B), one on the A/B edge, one in C, one offline in A. Incidents: three on
the street in A, 200 m from every camera (inside a blind spot).
"""

from __future__ import annotations

from sqlalchemy import text

from grid_fixtures import A, B, C, insert_units_and_grids, offset, square

STREET_LAT = 28.005
BUILDINGS = [square(113.003, 28.0052, 113.004, 28.0058),
             square(113.0045, 28.0042, 113.0052, 28.0048)]
ROAD = "SRID=4326;MULTILINESTRING((113.0 28.005, 113.03 28.005))"
SCHOOL = square(113.006, 28.006, 113.007, 28.007)
# name -> (lon, lat, type, status, azimuth, fov, range_m)
CAMERAS = {
    "west-dome": (113.002, 28.005, "dome", "online", None, None, 40.0),
    "west-gun": (113.0025, 28.0049, "xueliang_b", "online", 90.0, 60.0, 60.0),
    "edge": (113.01, 28.005, "dome", "online", None, None, 50.0),
    "east": (113.025, 28.005, "tianwang", "online", 270.0, 70.0, 100.0),
    "school": (113.0065, 28.0065, "school", "offline", 0.0, 90.0, 40.0),
}
INCIDENTS = [(113.008, 28.0051), (113.0081, 28.00495), (113.0079, 28.00505)]


def insert_district(engine) -> dict[str, int]:
    """Units, grids, buildings, the street, the school, cameras and incidents.

    Returns camera ids by name."""
    insert_units_and_grids(engine)
    ids = {}
    with engine.begin() as conn:
        for geom in BUILDINGS:
            conn.execute(text("INSERT INTO buildings (geom, households) "
                              "VALUES (ST_GeomFromEWKT(:g), 10)"), {"g": geom})
        conn.execute(text("INSERT INTO roads (class, name, geom) "
                          "VALUES ('secondary', 'Main St', ST_GeomFromEWKT(:g))"), {"g": ROAD})
        conn.execute(text("INSERT INTO key_places (name, kind, geom) "
                          "VALUES ('No. 1 School', 'school', ST_GeomFromEWKT(:g))"),
                     {"g": SCHOOL})
        for name, (lon, lat, typ, status, az, fov, rng) in CAMERAS.items():
            ids[name] = conn.execute(text(
                "INSERT INTO cameras (code, type, status, azimuth, fov, range_m, geom) VALUES "
                "(:c, :t, :s, :a, :f, :r, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) "
                "RETURNING id"), {"c": name, "t": typ, "s": status, "a": az, "f": fov,
                                  "r": rng, "x": lon, "y": lat}).scalar_one()
        for i, (lon, lat) in enumerate(INCIDENTS):
            conn.execute(text(
                "INSERT INTO incidents (category, reported_at, grid_code, community_code, geom) "
                "VALUES ('dispute', now() - :d * interval '1 day', :g, :m, "
                "ST_SetSRID(ST_MakePoint(:x, :y), 4326))"),
                {"d": 10 * (i + 1), "g": A, "m": A[:12], "x": lon, "y": lat})
        conn.execute(text("DELETE FROM coverage_stale"))  # a fresh district: nothing computed
    return ids


__all__ = ["A", "B", "C", "CAMERAS", "INCIDENTS", "STREET_LAT", "insert_district", "offset"]
