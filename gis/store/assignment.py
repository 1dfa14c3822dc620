"""Assigning incidents to grids in PostGIS, with the same rules as the file path
(:mod:`gis.assign`):

* a point strictly inside one grid (more than 1 mm from its boundary) gets that grid;
* every current grid within the tolerance (default 10 m, ``Settings.tolerance_m``, true
  metres) is a *candidate*; more than one candidate flags the point as a
  ``boundary`` case. Candidates are ordered: the strictly containing grid first, then by
  distance (0 on a boundary), then by code (numeric codes by value, then text);
* a point on a shared boundary (covered by several grids) therefore goes to the candidate
  with the smallest code, flagged;
* a point inside no grid but within the tolerance of one goes to the nearest (ties by the
  smallest code), flagged;
* otherwise the incident is unassigned (``grid_code`` NULL), never dropped; its community
  then comes from the admin polygons when one contains it.

Distances are measured as the file path measures them: in the metric CRS of the current
grids' extent (:func:`gis.crs.metric_crs`, a Gauss–Krüger or UTM zone), the projected
distance divided by the projection's scale factor at the point, so both paths agree to
the millimetre. Two paths compute the answers:

* ``sql/assign_candidates.sql`` (a few incidents: the API at insert, lists of ids, a
  single located point) pairs each point with the grids near it, transforming each, and
  applies the rules, which live once in ``sql/assign_rules.sql``;
* many incidents (every incident, a republish) are placed by the library path itself
  (:func:`_precompute`, with the current grids prepared as an import prepares them:
  :mod:`gis.store.import_grids`): the points are read out by one COPY and the answers
  written back by another into a temporary table; then one UPDATE writes the rows that
  change, without the secondary indexes when they are most of the table
  (:func:`set_aside_indexes`).

Both give the same grid, flag and candidates on every point (tests/test_assignment_sql.py).
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

import pyarrow as pa
from pyarrow import csv as pa_csv
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gis.crs import metric_crs
from gis.errors import InputError
from gis.store import pg_copy
from gis.store.import_grids import prepared_grids
from gis.store.indexes import drop_secondary_indexes, drop_unreferenced_unique
from gis.store.models import Grid

SQL_DIR = Path(__file__).with_name("sql")
EDGE_M = 0.001  # a point this close to a boundary is on it (as gis.assign.locate.ON_EDGE_M)
# From this many incidents on, the library path places them (the current grids prepared
# in memory, most points answered by their grid's safe region); below it, the per-pair
# statement is cheaper than preparing the grids. Measured with 10,000 grids, the UPDATE
# included, quiet: 50,000 incidents 1.05 s per pair against 1.3 s by the library path;
# 100,000: 2.2-2.4 s against 1.6 s; 200,000: 4.6 s against 2.0 s.
BULK_FROM = 75_000
# From this many rewritten rows (and half the table) a bulk assignment drops the
# secondary indexes of incidents and builds them again after its UPDATE.
REBUILD_FROM = 100_000


def _sql_file(name: str) -> str:
    text_ = (SQL_DIR / f"{name}.sql").read_text()
    return "\n".join(line for line in text_.splitlines() if not line.startswith("--")).strip()


@cache
def load_sql(name: str) -> str:
    """A statement from ``sql/``, with the shared fragments spliced in: the candidate
    rules (points paired with the grids near them, ``assign_candidates.sql`` by
    ``assign_reach.sql``, then ``assign_rules.sql``), ``{answers}`` (the incidents and
    their answers, ``assign_answers.sql``), the write (``assign_update.sql``) and the log
    of moves (``assign_log.sql``, over the rows the write returned)."""
    # comments out: a parameter named in one would be sent, untyped, if unused otherwise
    body = _sql_file(name).replace("{answers}", _sql_file("assign_answers"))
    body = body.replace("{update}", _sql_file("assign_update"))
    body = body.replace("{log}", _sql_file("assign_log").replace("{moves}", "moved"))
    pairs = _sql_file("assign_candidates").replace("{reach}", _sql_file("assign_reach"))
    body = body.replace("{candidates}", pairs.replace("{rules}", _sql_file("assign_rules")))
    return body.replace("{result}", _sql_file("assign_result"))


def projection(session: Session) -> dict[str, float | int]:
    """``srid``, ``k0`` (scale on the central meridian) and ``fe`` (false easting) of the
    metric CRS for the current grids' extent, as :func:`gis.crs.metric_crs` chooses it."""
    box = session.execute(select(func.ST_XMin(func.ST_Extent(Grid.geom)),
                                 func.ST_YMin(func.ST_Extent(Grid.geom)),
                                 func.ST_XMax(func.ST_Extent(Grid.geom)),
                                 func.ST_YMax(func.ST_Extent(Grid.geom)))
                          .where(Grid.valid_to.is_(None))).one()
    if box[0] is None:  # no grids: nothing to measure against
        return {"srid": 3857, "k0": 1.0, "fe": 0.0}
    crs = metric_crs(box)
    params = {p.name: p.value for p in crs.coordinate_operation.params}
    return {"srid": int(crs.to_epsg()), "k0": float(params["Scale factor at natural origin"]),
            "fe": float(params["False easting"])}


def _check_tolerance(tolerance_m: float) -> float:
    tol = float(tolerance_m)
    if not (tol >= 0 and tol < 10_000):
        raise InputError(f"tolerance must be between 0 and 10000 metres, not {tolerance_m}",
                         field="tolerance_m")
    return tol


def assign_incidents(session: Session, ids=None, *, tolerance_m: float = 10.0,
                     at_report: bool = True, open_only: bool = False, log_moves: bool = False,
                     actor: str | None = None, bulk: bool | None = None) -> dict[str, int]:
    """Assign grid, community, township, boundary flag and candidates to incidents.

    Parameters
    ----------
    session
        The caller's transaction (flushed, not committed).
    ids
        Incident ids to assign; None assigns every incident (or every open one).
    tolerance_m
        Boundary tolerance in metres.
    at_report
        Also record the grid as ``grid_code_at_report`` (True at insert time).
    open_only
        Leave closed incidents alone.
    log_moves
        Record an ``incident_events`` row (action ``reassign``) for each incident whose
        grid changes, keeping the grid it moved to.
    bulk
        Use the safe-region statement (None: for all incidents when there are
        ``BULK_FROM`` or more). Both give the same answers; tests force each.

    Returns
    -------
    dict
        Counts: ``incidents``, ``assigned``, ``boundary``, ``unassigned``, ``moved``.
    """
    session.flush()
    params = {"ids": None if ids is None else [int(i) for i in ids],
              "tol": _check_tolerance(tolerance_m), "edge_m": EDGE_M,
              "at_report": at_report, "open_only": open_only, "log_moves": log_moves,
              "actor": actor, **projection(session)}
    # JIT compiles this statement's expressions for seconds and gains nothing back
    session.execute(text("SET LOCAL jit = off"))
    if bulk is None:
        bulk = _many(session, ids)
    if bulk:
        return _assign_many(session, params)
    row = session.execute(text(load_sql("assign_incidents")), params).mappings().one()
    return {k: int(v) for k, v in row.items()}


def _assign_many(session: Session, params: dict) -> dict[str, int]:
    """The bulk path: answers computed by the library path into a temporary table first
    (:func:`_precompute`), then one UPDATE of the rows that change; when they are a large
    share of the table, without its secondary indexes and the unique constraints no key
    refers to (each rewritten row costs an insertion into every index: a million rows
    took 76 s with them, 14 s without + 26 s to build them again, load 10).

    The counts are those of the answers; ``moved`` counts the incidents whose stored grid,
    when the points were read, differs from their answer (the rows the UPDATE moves)."""
    # hashes and sorts over a million incidents spill to disk at the default
    session.execute(text("SET LOCAL work_mem = '128MB'"))
    session.execute(text("DROP TABLE IF EXISTS _gg_res"))
    counts = _precompute(session, params)
    rebuild = set_aside_indexes(session, "incidents", counts["moved"])
    if params["log_moves"]:
        session.execute(text(load_sql("assign_log").replace("{moves}", _MOVES)), params)
    session.execute(text(load_sql("assign_write")), params)
    for definition in rebuild:  # built once over all rows, not row by row
        session.connection().exec_driver_sql(definition)  # catalogue text, run as it is
    session.execute(text("DROP TABLE _gg_res"))
    return counts


# The moves of the bulk path, for assign_log.sql: each answer with its incident's status.
_MOVES = ("(SELECT r.id, r.old_grid, r.grid_code, i.status "
          "FROM _gg_res r JOIN incidents i ON i.id = r.id)")


# The points to assign and the answers stored for them, as CSV (floats printed exactly:
# extra_float_digits = 3; the candidates as PostgreSQL prints an array).
_POINTS = ("COPY (SELECT i.id, ST_X(i.geom), ST_Y(i.geom), i.grid_code, i.candidates, "
           "i.boundary, i.community_code, i.grid_code_at_report FROM incidents i "
           "WHERE {where}) TO STDOUT (FORMAT csv)")
_STORED = {"id": pa.int64(), "x": pa.float64(), "y": pa.float64(), "old_grid": pa.string(),
           "old_candidates": pa.string(), "old_boundary": pa.bool_(),
           "old_community": pa.string(), "old_at_report": pa.string()}
_RESULTS = ("CREATE TEMP TABLE _gg_res (id bigint, old_grid text, grid_code text, "
            "candidates text[], boundary boolean, community_code text, township_code text) "
            "ON COMMIT DROP")
_COPY_RESULTS = "COPY _gg_res (id, old_grid, {}) FROM STDIN (FORMAT binary)"


def _precompute(session: Session, params: dict) -> dict[str, int]:
    """Fill ``_gg_res`` (the ``res`` of assign_incidents.sql) with the answers of the
    library path (:mod:`gis.store.import_grids`, as an import places its rows) that differ
    from the stored ones, and return the counts over all answers: the points and their
    stored answers read out by one COPY, located in memory against the current grids, the
    changed answers written back by one binary COPY. (A republish moves few incidents:
    writing back, and joining, all of a million answers took 2-3 s of its ~6 s.)

    Profile (1M incidents x 10,000 grids, quiet): the SQL bulk statement that computed
    the same answers in PostGIS took 8.8 s of a 25.3 s assignment; reading the points
    out, locating them and writing the answers back take 4.5 s. The rules and answers are
    the library's, which tests/test_assignment_sql.py checks against the per-point SQL
    statement on every point."""
    where = ["true"]
    if params["ids"] is not None:  # integers, validated by the caller
        where.append(f"i.id = ANY(ARRAY[{','.join(map(str, params['ids'])) or 'NULL'}]::bigint[])")
    if params["open_only"]:
        where.append("i.status <> 'closed'")
    session.execute(text("SET LOCAL extra_float_digits = 3"))
    raw = session.connection().connection.driver_connection
    buf = io.BytesIO()
    with raw.cursor() as cur, cur.copy(_POINTS.format(where=" AND ".join(where))) as copy:
        for part in copy:
            buf.write(part)
    points = _read_points(buf.getvalue())
    x, y = (points[name].to_numpy() for name in ("x", "y"))
    with prepared_grids(session, params["tol"]) as grids:
        got = grids.locate(x, y)
    got.fill_units(session, x, y)
    moved = points["old_grid"].to_numpy(zero_copy_only=False) != got.grid
    changed = moved | _changed(points, got, params["at_report"])
    sent = points.filter(pa.array(changed))
    answers = got.take(changed).copy_fields()
    columns = [pg_copy.fixed(sent["id"].to_numpy(), ">i8"),
               pg_copy.text(sent["old_grid"].combine_chunks()), *answers.values()]
    session.execute(text(_RESULTS))
    with raw.cursor() as cur, cur.copy(_COPY_RESULTS.format(", ".join(answers))) as copy:
        for part in pg_copy.encode(columns):
            copy.write(part)
    session.execute(text("ANALYZE _gg_res"))
    return _counts(got, moved)


def _counts(got, moved) -> dict[str, int]:
    """The counts of assign_incidents over all answers (``moved``: grid changed)."""
    assigned = int((got.grid != None).sum())  # noqa: E711 (element-wise)
    return {"incidents": len(got.grid), "assigned": assigned,
            "boundary": int(got.boundary.sum()), "unassigned": len(got.grid) - assigned,
            "moved": int(moved.sum())}


def _changed(points: pa.Table, got, at_report: bool):
    """The rows whose answer, but for the grid (compared by the caller), differs from the
    stored one, by the test of assign_update.sql (which still makes it: a row sent
    needlessly is only skipped there). Object arrays compare element by element with None
    equal to None, as IS DISTINCT FROM does with NULL."""
    def stored(name):
        return points[name].to_numpy(zero_copy_only=False)

    changed = ((stored("old_boundary") != got.boundary)
               | (stored("old_community") != got.community)
               | (stored("old_candidates") != got.candidate_literals()))
    if at_report:
        changed |= stored("old_at_report") != got.grid
    return changed


def _read_points(data: bytes) -> pa.Table:
    """The columns of :data:`_STORED` from the CSV that :data:`_POINTS` writes (Arrow
    parses floats exactly; an empty field is NULL, as COPY writes it)."""
    if not data:  # no incident to assign (Arrow refuses an empty file)
        return pa.table({name: pa.array([], kind) for name, kind in _STORED.items()})
    table = pa_csv.read_csv(
        io.BytesIO(data),
        read_options=pa_csv.ReadOptions(column_names=list(_STORED)),
        convert_options=pa_csv.ConvertOptions(
            column_types=_STORED, true_values=["t"], false_values=["f"],
            strings_can_be_null=True, quoted_strings_can_be_null=False))
    return table


def set_aside_indexes(session: Session, table: str, rows: int) -> list[str]:
    """When ``rows`` of ``table`` are about to be rewritten and they are most of it, drop
    its secondary indexes (:func:`gis.store.indexes.drop_secondary_indexes`) and its
    unique constraints that no foreign key needs
    (:func:`gis.store.indexes.drop_unreferenced_unique`), and return the statements that
    make them again, to run after the write. The drop locks the table until the
    transaction ends, as a bulk rewrite of half of it holds its rows anyway; the write
    changes no column those constraints cover, and adding them back checks them again."""
    size = session.execute(text("SELECT greatest(reltuples, 0) FROM pg_class "
                                "WHERE oid = CAST(:t AS regclass)"), {"t": table}).scalar()
    if rows < max(REBUILD_FROM, 0.5 * (size or 0)):
        return []
    with session.connection().connection.cursor() as cur:
        return drop_secondary_indexes(cur, table) + drop_unreferenced_unique(cur, table)


def _many(session: Session, ids) -> bool:
    if ids is not None:  # the bulk statement looks at every incident: not for a few ids
        return False
    # the planner's row estimate: exact enough to choose a plan, and free
    est = session.execute(text("SELECT reltuples FROM pg_class WHERE oid = 'incidents'::regclass"))
    return (est.scalar() or 0) >= BULK_FROM


def reassign_open_incidents(session: Session, *, tolerance_m: float = 10.0,
                            actor: str | None = "system") -> dict[str, int]:
    """Re-assign every open incident to the current grids after a republish.

    Closed incidents keep the grid they were closed in; every incident keeps
    ``grid_code_at_report``; an incident that moves gets a ``reassign`` event holding
    its new grid, so the events keep the grid of their time.
    """
    return assign_incidents(session, None, tolerance_m=tolerance_m, at_report=False,
                            open_only=True, log_moves=True, actor=actor)


def locate_point(session: Session, lon: float, lat: float, *,
                 tolerance_m: float = 10.0) -> dict:
    """The grid of one WGS 84 point by the same rules: ``grid_code`` (None when outside
    every grid), ``candidates``, ``boundary``, ``distance_m``, ``community_code``,
    ``grid_name``, ``grid_kind``."""
    params = {"lon": float(lon), "lat": float(lat), "tol": _check_tolerance(tolerance_m),
              "edge_m": EDGE_M, **projection(session)}
    row = session.execute(text(load_sql("locate_point")), params).mappings().one()
    return dict(row)
