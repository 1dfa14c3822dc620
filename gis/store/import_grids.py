"""The grid of every imported incident, computed before the rows reach PostgreSQL.

An import already holds its points in numpy, so it locates them with the library path
(:mod:`gis.assign`: the current grids prepared once, most points answered by their
grid's safe region) rather than pairing a million staged rows with the grids in SQL. The
rules are the ones :mod:`gis.store.assignment` renders in SQL, and the two are checked to
agree on every point (tests/test_assignment_sql.py, tests/test_import_assignment.py):
grid, candidates (the strictly containing grid first, then by distance, then by code),
boundary flag, the grid's community and township; a point in no grid gets the community
of the admin polygon holding it (the same SQL as ``sql/assign_result.sql``).

Preparing 10,000 grids (safe regions, lattice) takes ~0.6 s, more than importing 10,000
rows. So a process keeps the grids it prepared and gives them to its next import of the
same grids (:func:`prepared_grids`), e.g. the next upload the web service receives.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.assign import index_polygons, locate_lonlat
from gis.assign.index import GridIndex
from gis.crs import WGS84
from gis.store import pg_copy

# A grid's community and township as sql/assign_result.sql derives them.
_GRIDS = """
SELECT g.code, g.community_code,
       CASE WHEN g.community_code IS NULL THEN NULL
            ELSE coalesce(t.parent_code, left(g.community_code, 9) || '000') END,
       ST_AsBinary(g.geom)
FROM grids g LEFT JOIN admin_units t ON t.code = g.community_code
WHERE g.valid_to IS NULL ORDER BY g.code"""
_BARE = re.compile(r"[A-Za-z0-9_.\-]+")
# What the prepared grids depend on: the grids, the admin units (their townships), and
# which database this is. The counters are bumped by a trigger on every change (migration
# 0002); changed_at tells apart two bumps to the same value (one of them rolled back), the
# postmaster's start time two clusters at the same address.
_VERSION = """
SELECT pg_postmaster_start_time(), current_database(),
       array_agg(ARRAY[c.table_name, c.counter::text, c.changed_at::text] ORDER BY c.table_name)
FROM layer_changes c WHERE c.table_name IN ('grids', 'admin_units')"""
# Points in no grid: the community polygon holding them (smallest code), as assign_result.
_UNITS = """
SELECT c.code,
       CASE WHEN c.code IS NULL THEN NULL
            ELSE coalesce(t.parent_code, left(c.code, 9) || '000') END
FROM unnest(CAST(:x AS float8[]), CAST(:y AS float8[])) WITH ORDINALITY AS p(x, y, i)
LEFT JOIN LATERAL (
    SELECT a.code FROM admin_units a
    WHERE a.level = 'community' AND ST_Intersects(a.geom, ST_SetSRID(ST_MakePoint(p.x, p.y), 4326))
    ORDER BY a.code LIMIT 1) c ON true
LEFT JOIN admin_units t ON t.code = c.code
ORDER BY p.i"""


@dataclass
class Assigned:
    """Per point: ``grid`` code (None: in no grid), ``candidates`` as indexes into
    ``lists`` (-1: none), ``boundary``, ``community`` and ``township`` codes."""

    grid: np.ndarray
    candidates: np.ndarray
    lists: list[list[str]]
    boundary: np.ndarray
    community: np.ndarray
    township: np.ndarray

    def take(self, rows: np.ndarray) -> Assigned:
        """The answers of ``rows`` (a mask or indexes) only."""
        return Assigned(self.grid[rows], self.candidates[rows], self.lists,
                        self.boundary[rows], self.community[rows], self.township[rows])

    def candidate_literals(self) -> np.ndarray:
        """Each point's candidates as PostgreSQL prints a ``text[]`` (None: none), to
        compare with stored ones."""
        literals = np.array([_array_literal(codes) for codes in self.lists] + [None],
                            dtype=object)
        return literals[self.candidates]  # -1, no candidates: the None at the end

    def copy_fields(self) -> dict:
        """The answers as binary COPY fields (:mod:`gis.store.pg_copy`) by column name."""
        return {"grid_code": pg_copy.text_repeated(self.grid),
                "candidates": pg_copy.text_arrays(self.lists, self.candidates),
                "boundary": pg_copy.fixed(self.boundary, "?"),
                "community_code": pg_copy.text_repeated(self.community),
                "township_code": pg_copy.text_repeated(self.township)}

    def fill_units(self, session: Session, lon: np.ndarray, lat: np.ndarray) -> None:
        """Community and township of the points in no grid, from the admin polygons."""
        rest = np.flatnonzero(self.grid == None)  # noqa: E711 (element-wise)
        if len(rest):
            rows = session.execute(text(_UNITS), {"x": lon[rest].tolist(),
                                                  "y": lat[rest].tolist()}).all()
            self.community[rest] = [r[0] for r in rows]
            self.township[rest] = [r[1] for r in rows]


def _array_literal(codes: list[str]) -> str:
    """``codes`` as PostgreSQL's array output prints them. Codes of letters, digits and
    ``_.-`` print bare; any other is quoted, as PostgreSQL would quote some of them only:
    where the two differ the row is counted changed, and written again as before."""
    return "{" + ",".join(c if _BARE.fullmatch(c) and c.upper() != "NULL"
                          else '"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"'
                          for c in codes) + "}"


@dataclass
class CurrentGrids:
    """The current grids, prepared for one import at a time (:func:`prepared_grids`)."""

    index: GridIndex | None
    code_of_row: np.ndarray      # stored code per index row
    community_of_row: np.ndarray
    township_of_row: np.ndarray
    stored: dict[str, str]       # the library's label of a grid -> its stored code

    def locate(self, lon: np.ndarray, lat: np.ndarray) -> Assigned:
        """Grid, candidates, flag, community and township of WGS 84 points; the points in
        no grid still need :meth:`Assigned.fill_units` (the only step that reads SQL)."""
        n = len(lon)
        if self.index is None:  # no current grids: every point is in none
            grid_row = np.full(n, -1)
            picks, lists, boundary = np.full(n, -1), [], np.zeros(n, dtype=bool)
        else:
            found = locate_lonlat(self.index, lon, lat)
            grid_row, boundary = found.grid, found.boundary.astype(bool)
            lists = [[self.stored[c] for c in joined.split(";")] for joined in found.dictionary]
            picks = found.candidates
        hit = grid_row >= 0
        grid, community, township = (np.full(n, None, dtype=object) for _ in range(3))
        grid[hit] = self.code_of_row[grid_row[hit]]
        community[hit] = self.community_of_row[grid_row[hit]]
        township[hit] = self.township_of_row[grid_row[hit]]
        return Assigned(grid, np.asarray(picks), lists, boundary, community, township)


KEPT = 4  # prepared grid sets kept per process, at most (one per cluster, database, tolerance)
_kept: OrderedDict[tuple, CurrentGrids] = OrderedDict()
_kept_lock = threading.Lock()


@contextmanager
def prepared_grids(session: Session, tolerance_m: float) -> Iterator[CurrentGrids]:
    """:func:`current_grids`, prepared by an earlier import of this process when the grids
    and admin units have not changed since; kept for the next one when done.

    While in use the grids are out of the store: a second import at the same time prepares
    its own, since GEOS' prepared geometries are not shared between threads
    (:meth:`gis.assign.index.GridIndex.replicas`)."""
    # read before the grids: under READ COMMITTED a change committed in between is then
    # stored under the older version, which later transactions no longer see
    started, database, counters = session.execute(text(_VERSION)).one()
    if not counters:  # no counter to tell a change by (rows deleted by hand): never kept
        yield current_grids(session, tolerance_m)
        return
    key = (started, database, tuple(map(tuple, counters)), float(tolerance_m))
    with _kept_lock:
        grids = _kept.pop(key, None)
    if grids is None:
        grids = current_grids(session, tolerance_m)
    try:
        yield grids
    finally:
        with _kept_lock:
            for older in [k for k in _kept if _same_place(k, key)]:  # outdated: ~37 MB each
                del _kept[older]
            _kept[key] = grids
            while len(_kept) > KEPT:
                _kept.popitem(last=False)


def _same_place(a: tuple, b: tuple) -> bool:
    """Keys of the same cluster, database and tolerance (whatever their versions)."""
    return a[:2] == b[:2] and a[3] == b[3]


def current_grids(session: Session, tolerance_m: float) -> CurrentGrids:
    """The current grids as a :class:`~gis.assign.index.GridIndex` (none when there are no
    current grids) with each row's stored code, community and township."""
    rows = session.execute(text(_GRIDS)).all()
    if not rows:
        empty = np.empty(0, dtype=object)
        return CurrentGrids(None, empty, empty, empty, {})
    codes = np.array([r[0] for r in rows], dtype=object)
    index = index_polygons(shapely.from_wkb([bytes(r[3]) for r in rows]), codes, WGS84,
                           tolerance_m, key="grid_code")
    # the index's rows are the polygonal grids it kept, labelled by the code's display text
    stored = {str(c).strip(): (c, m, t) for c, m, t, _ in rows}
    by_row = [stored[label] for label in index.labels]
    return CurrentGrids(index, *(np.array([r[i] for r in by_row], dtype=object)
                                 for i in range(3)), {k: v[0] for k, v in stored.items()})
