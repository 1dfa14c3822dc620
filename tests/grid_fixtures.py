"""Hand-built admin units and grids for the incident tests (real geometry, in PostGIS).

County 430102, townships 430102001 and 430102002. Three 0.01° squares side by side near
lon 113.0, lat 28.0: grids A and B (community 430102001001) share the edge lon = 113.01;
grid C (community 430102002001, the other township) lies east of B.
"""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import Geod
from sqlalchemy import text

COUNTY, TOWN1, TOWN2 = "430102000000", "430102001000", "430102002000"
COMM1, COMM2 = "430102001001", "430102002001"
A, B, C = COMM1 + "0001", COMM1 + "0002", COMM2 + "0001"
EDGE_LON, MID_LAT = 113.01, 28.005
GEOD = Geod(ellps="WGS84")


def square(x0: float, y0: float, x1: float, y1: float) -> str:
    return f"SRID=4326;MULTIPOLYGON((({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0})))"


def offset(lon: float, lat: float, azimuth: float, metres: float) -> tuple[float, float]:
    """The point ``metres`` from (lon, lat) towards ``azimuth`` (degrees), on the spheroid."""
    x, y, _ = GEOD.fwd(lon, lat, azimuth, metres)
    return float(x), float(y)


UNITS = [
    (COUNTY, "county", "county", None, square(112.99, 27.99, 113.04, 28.02)),
    (TOWN1, "township", "street", COUNTY, square(113.0, 28.0, 113.02, 28.01)),
    (TOWN2, "township", "street", COUNTY, square(113.02, 28.0, 113.03, 28.01)),
    (COMM1, "community", "community", TOWN1, square(113.0, 28.0, 113.02, 28.01)),
    (COMM2, "community", "community", TOWN2, square(113.02, 28.0, 113.03, 28.01)),
]
GRIDS = [
    (A, COMM1, square(113.0, 28.0, 113.01, 28.01)),
    (B, COMM1, square(113.01, 28.0, 113.02, 28.01)),
    (C, COMM2, square(113.02, 28.0, 113.03, 28.01)),
]


def insert_units_and_grids(engine) -> None:
    with engine.begin() as conn:
        for code, level, kind, parent, geom in UNITS:
            conn.execute(text(
                "INSERT INTO admin_units (code, name, level, kind, parent_code, geom) "
                "VALUES (:c, :n, :l, :k, :p, ST_GeomFromEWKT(:g))"),
                {"c": code, "n": code, "l": level, "k": kind, "p": parent, "g": geom})
        for code, community, geom in GRIDS:
            conn.execute(text(
                "INSERT INTO grids (code, community_code, geom, valid_from) "
                "VALUES (:c, :m, ST_GeomFromEWKT(:g), now() - interval '30 days')"),
                {"c": code, "m": community, "g": geom})


# The boundary cases shared with the file path (gis.assign): name -> (lon, lat, grid,
# boundary, candidates).
CASES = {
    "inside": (113.005, MID_LAT, A, False, [A]),
    "3 m from a neighbour": (*offset(EDGE_LON, MID_LAT, 270, 3.0), A, True, [A, B]),
    "on the shared edge": (EDGE_LON, MID_LAT, A, True, [A, B]),
    "5 m outside": (*offset(113.005, 28.0, 180, 5.0), A, True, [A]),
    "50 m outside": (*offset(113.005, 28.0, 180, 50.0), None, False, None),
}


def voronoi_cells(rng) -> list:
    """Irregular grids over community 1 sharing edges exactly (40 Voronoi cells of
    lon 113.0-113.02, lat 28.0-28.01), plus one small square laid over several of them."""
    box = shapely.box(113.0, 28.0, 113.02, 28.01)
    seeds = shapely.multipoints(np.column_stack([rng.uniform(113.0, 113.02, 40),
                                                 rng.uniform(28.0, 28.01, 40)]))
    cells = list(shapely.intersection(shapely.get_parts(
        shapely.voronoi_polygons(seeds, extend_to=box)), box))
    return cells + [shapely.box(113.004, 28.004, 113.007, 28.006)]


def points_near_edges(rng, cells, n: int, east: float) -> np.ndarray:
    """``n`` random (lon, lat) from lon 112.999 to ``east``, lat 27.999-28.011; about 30 %
    of them on a boundary of ``cells``, half of those moved 0-15 m off it."""
    xy = np.column_stack([rng.uniform(112.999, east, n), rng.uniform(27.999, 28.011, n)])
    edge = rng.random(n) < 0.3
    on = shapely.line_interpolate_point(shapely.boundary(np.asarray(cells)[
        rng.integers(0, len(cells), edge.sum())]), rng.random(edge.sum()), normalized=True)
    shift = np.where(rng.random(edge.sum()) < 0.5, 0.0, rng.uniform(0, 15, edge.sum()))
    angle = rng.uniform(0, 2 * np.pi, edge.sum())
    xy[edge, 0] = shapely.get_x(on) + shift * np.cos(angle) / (111_320 * np.cos(np.radians(28)))
    xy[edge, 1] = shapely.get_y(on) + shift * np.sin(angle) / 110_574
    return xy
