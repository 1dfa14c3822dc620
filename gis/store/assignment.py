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
the millimetre. The rules live once, in ``sql/assign_rules.sql``, fed by one of two
statements that pair points with grids:

* ``sql/assign_candidates.sql`` (a few incidents: the API at insert, lists of ids, a
  single located point) pairs each point with the grids near it, transforming each;
* ``sql/assign_bulk.sql`` (every incident, a republish, an import's stage) transforms
  every grid once and, as the library path does, shrinks each grid into a *safe region*:
  the points inside one (about 88 % on the benchmark's data) are answered by the points'
  GiST index and one point-in-polygon test; only the rest get distances. The safe
  regions are kept (``grid_safe_regions``) per set of current grids: built by the first
  bulk run after a publish or load (:func:`safe_regions`). Its answers go to a temporary
  table first, then one UPDATE writes the rows that change, without the secondary
  indexes when they are most of the table (:func:`set_aside_indexes`).

Both give the same grid, flag and candidates on every point (tests/test_assignment_sql.py).
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gis.crs import metric_crs
from gis.errors import InputError
from gis.store.indexes import drop_secondary_indexes
from gis.store.models import Grid

SQL_DIR = Path(__file__).with_name("sql")
EDGE_M = 0.001  # a point this close to a boundary is on it (as gis.assign.locate.ON_EDGE_M)
# From this many incidents on, transform every current grid once and answer most points
# by their grid's safe region (assign_bulk.sql); below it, the per-pair statement is
# cheaper: preparing 10,000 grids costs 2-3 s at load 9 (most of it the ST_Relate check
# for overlapping grids), a 10,000-row import took 4.7 s with it.
BULK_FROM = 50_000
# From this many rewritten rows (and half the table) a bulk assignment drops the
# secondary indexes of incidents and builds them again after its UPDATE.
REBUILD_FROM = 100_000


def _sql_file(name: str) -> str:
    text_ = (SQL_DIR / f"{name}.sql").read_text()
    return "\n".join(line for line in text_.splitlines() if not line.startswith("--")).strip()


@cache
def load_sql(name: str, bulk: bool = False, points: str = "incidents",
             precomputed: bool = False) -> str:
    """A statement from ``sql/``, with the shared candidate rules spliced in: per point
    (``assign_candidates.sql``), or with ``bulk`` the safe-region path for many points
    (``assign_bulk.sql``, whose ``points`` is a table or flattened subquery with ``id``
    and a GiST-indexed ``geom``); both pair points with grids by ``assign_reach.sql`` and
    end in the same rules (``assign_rules.sql``). ``{answers}`` is the incidents and
    their answers (``assign_answers.sql``), or with ``precomputed`` the answers that
    ``assign_precompute.sql`` left in ``_gg_res``."""
    # comments out: a parameter named in one would be sent, untyped, if unused otherwise
    body = _sql_file(name).replace("{answers}", "res AS (SELECT * FROM _gg_res)" if precomputed
                        else _sql_file("assign_answers"))
    pairs = (_sql_file("assign_bulk" if bulk else "assign_candidates")
             .replace("{points}", points).replace("{reach}", _sql_file("assign_reach")))
    body = body.replace("{candidates}", pairs.replace("{rules}", _sql_file("assign_rules")))
    body = body.replace("{cur}", _sql_file("assign_grids_metric"))
    return body.replace("{result}", _sql_file("assign_result"))


def safe_regions(session: Session, params: dict) -> str:
    """The key of the current grids' safe regions for ``params`` (tolerance, projection),
    building them on first use: once per publish or load, not once per bulk run (the
    check for overlapping grids alone took 1.2 s of 17.5 for 1M x 10,000, load 6.5)."""
    rules = hashlib.md5(load_sql("assign_safe_regions").encode()).hexdigest()
    key = session.execute(text(load_sql("assign_safe_key")), {**params, "rules": rules}).scalar()
    built = session.execute(text("SELECT 1 FROM grid_safe_region_sets WHERE key = :k"),
                            {"k": key}).first()
    if built is None:
        session.execute(text(load_sql("assign_safe_regions")), {**params, "safe_key": key})
        # sets of grids no longer current: a republish makes the old key unreachable
        session.execute(text("DELETE FROM grid_safe_region_sets WHERE key <> :k"), {"k": key})
    return key


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
    """The bulk path: answers into a temporary table first, then one UPDATE of the rows
    that change; when they are a large share of the table, without its secondary
    indexes (each rewritten row costs an insertion into every index: a million rows
    took 76 s with them, 14 s without + 26 s to build them again, load 10)."""
    # hashes and sorts over a million incidents spill to disk at the default
    session.execute(text("SET LOCAL work_mem = '128MB'"))
    session.execute(text("DROP TABLE IF EXISTS _gg_res"))
    params = {**params, "safe_key": safe_regions(session, params)}
    session.execute(text(load_sql("assign_precompute", True)), params)
    moving = session.execute(text(
        "SELECT count(*) FILTER (WHERE old_grid IS DISTINCT FROM grid_code) FROM _gg_res"
    )).scalar()
    rebuild = set_aside_indexes(session, "incidents", moving)
    row = session.execute(text(load_sql("assign_incidents", precomputed=True)),
                          params).mappings().one()
    for definition in rebuild:  # built once over all rows, not row by row
        session.connection().exec_driver_sql(definition)  # catalogue text, run as it is
    session.execute(text("DROP TABLE _gg_res"))
    return {k: int(v) for k, v in row.items()}


def set_aside_indexes(session: Session, table: str, rows: int) -> list[str]:
    """When ``rows`` of ``table`` are about to be rewritten and they are most of it, drop
    its secondary indexes (:func:`gis.store.indexes.drop_secondary_indexes`) and return
    their definitions, to run after the write. The drop locks the table until the
    transaction ends, as a bulk rewrite of half of it holds its rows anyway."""
    size = session.execute(text("SELECT greatest(reltuples, 0) FROM pg_class "
                                "WHERE oid = CAST(:t AS regclass)"), {"t": table}).scalar()
    if rows < max(REBUILD_FROM, 0.5 * (size or 0)):
        return []
    with session.connection().connection.cursor() as cur:
        return drop_secondary_indexes(cur, table)


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
