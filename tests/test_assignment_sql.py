"""Assignment in PostGIS (gis.store.assignment): the boundary rules, agreement with the
file path, and re-assignment when grids are republished."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from gis.store.assignment import assign_incidents, locate_point, reassign_open_incidents
from gis.store.db import transaction
import grid_fixtures as fx


def _insert_points(engine, points, status="reported") -> list[int]:
    with engine.begin() as conn:
        return [conn.execute(text(
            "INSERT INTO incidents (category, reported_at, status, geom) "
            "VALUES ('other', now(), :s, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) RETURNING id"),
            {"s": status, "x": x, "y": y}).scalar_one() for x, y in points]


def _rows(engine, ids):
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT id, grid_code, boundary, candidates, community_code, township_code, "
            "grid_code_at_report FROM incidents WHERE id = ANY(:ids) ORDER BY id"),
            {"ids": ids}).mappings().all()
    return [dict(r) for r in rows]


@pytest.fixture
def grids(db):
    fx.insert_units_and_grids(db)
    return db


@pytest.mark.parametrize("bulk", [False, True], ids=["per-point", "safe-region"])
def test_boundary_cases_follow_the_documented_rules(grids, bulk):
    """Both statements (per point, and the bulk one that answers points deep inside a
    grid by its safe region) follow the rules on the hand-built cases."""
    ids = _insert_points(grids, [(x, y) for x, y, *_ in fx.CASES.values()])
    with transaction(grids) as session:
        counts = assign_incidents(session, ids, bulk=bulk)
    assert counts == {"incidents": 5, "assigned": 4, "boundary": 3, "unassigned": 1, "moved": 4}
    for (name, (_, _, grid, flag, cands)), row in zip(fx.CASES.items(), _rows(grids, ids)):
        assert (row["grid_code"], row["boundary"], row["candidates"]) == (grid, flag, cands), name
        assert row["grid_code_at_report"] == grid, name
    inside = _rows(grids, ids[:1])[0]
    assert (inside["community_code"], inside["township_code"]) == (fx.COMM1, fx.TOWN1)


def test_sql_agrees_with_the_file_path():
    """The same hand-built cases through gis.assign (the library path) give the same
    grid, flag and candidates as the SQL above asserts."""
    from gis.assign.index import build_index
    from gis.assign.locate import locate_lonlat

    grids = gpd.GeoDataFrame({"code": [g[0] for g in fx.GRIDS]},
                             geometry=shapely.from_wkt([g[2].split(";")[1] for g in fx.GRIDS]),
                             crs=4326)
    index = build_index(grids, "code", tolerance=10.0)
    lon = [c[0] for c in fx.CASES.values()]
    lat = [c[1] for c in fx.CASES.values()]
    got = locate_lonlat(index, lon, lat)
    labels, cands = got.grid_labels(index.labels), got.candidate_text()
    for i, (name, (_, _, grid, flag, expected)) in enumerate(fx.CASES.items()):
        assert labels[i] == grid, name
        assert bool(got.boundary[i]) == flag, name
        assert (cands[i].split(";") if cands[i] else None) == expected, name


@pytest.mark.parametrize("bulk", [False, True], ids=["per-point", "safe-region"])
def test_tolerance_is_configurable(grids, bulk):
    ids = _insert_points(grids, [fx.CASES["3 m from a neighbour"][:2],
                                 fx.CASES["5 m outside"][:2]])
    with transaction(grids) as session:
        assign_incidents(session, ids, tolerance_m=2.0, bulk=bulk)
    near, outside = _rows(grids, ids)
    assert (near["grid_code"], near["boundary"], near["candidates"]) == (fx.A, False, [fx.A])
    assert outside["grid_code"] is None and outside["candidates"] is None


def test_locate_point_uses_the_same_rules(grids):
    with transaction(grids) as session:
        edge = locate_point(session, fx.EDGE_LON, fx.MID_LAT)
        far = locate_point(session, *fx.CASES["50 m outside"][:2])
    assert (edge["grid_code"], edge["boundary"], edge["candidates"]) == (fx.A, True, [fx.A, fx.B])
    assert edge["community_code"] == fx.COMM1
    assert far["grid_code"] is None


@pytest.mark.parametrize("bulk", [False, True], ids=["per-point", "library"])
def test_republish_moves_open_incidents_only(grids, bulk, monkeypatch):
    """Grid A is split: its east half becomes a new grid D. The open incident in that half
    moves to D, the closed one stays in A, and history keeps the grid at the time (both
    paths: a republish of many incidents places them with the library path)."""
    from gis.store import assignment

    monkeypatch.setattr(assignment, "_many", lambda session, ids: bulk)
    point = (113.0075, 28.005)
    open_id, closed_id = _insert_points(grids, [point, point])
    with transaction(grids) as session:
        assign_incidents(session, [open_id, closed_id])
        session.execute(text("UPDATE incidents SET status = 'closed', closed_at = now() "
                             "WHERE id = :i"), {"i": closed_id})
    d_code = fx.COMM1 + "0003"
    with grids.begin() as conn:
        conn.execute(text("UPDATE grids SET valid_to = now() WHERE code = :a"), {"a": fx.A})
        for code, geom in ((fx.A, fx.square(113.0, 28.0, 113.005, 28.01)),
                           (d_code, fx.square(113.005, 28.0, 113.01, 28.01))):
            conn.execute(text("INSERT INTO grids (code, community_code, geom, version) "
                              "VALUES (:c, :m, ST_GeomFromEWKT(:g), 2)"),
                         {"c": code, "m": fx.COMM1, "g": geom})
    with transaction(grids) as session:
        counts = reassign_open_incidents(session)
    assert counts["incidents"] == 1 and counts["moved"] == 1
    opened, closed = _rows(grids, [open_id, closed_id])
    assert (opened["grid_code"], opened["grid_code_at_report"]) == (d_code, fx.A)
    assert (closed["grid_code"], closed["grid_code_at_report"]) == (fx.A, fx.A)
    with grids.connect() as conn:
        events = conn.execute(text("SELECT incident_id, action, grid_code FROM incident_events"))
        assert [tuple(e) for e in events] == [(open_id, "reassign", d_code)]


def test_bulk_statement_agrees_with_the_library_on_every_point(grids):
    """Voronoi grids over community 1 (irregular, sharing edges exactly), one grid laid
    over two others (bad data: no safe region for any of the three), and points inside,
    exactly on and within 0-15 m of boundaries: the bulk (safe-region) statement, the
    per-point statement and the library path give the same grid, flag and candidates
    on every point."""
    import numpy as np

    from gis.assign import assign_points

    rng = np.random.default_rng(7)
    cells = fx.voronoi_cells(rng)  # the last one is laid over others
    codes = [f"{fx.COMM1}{9000 + i}" for i in range(len(cells))]
    with grids.begin() as conn:
        conn.execute(text("UPDATE grids SET valid_to = now()"))
        for code, cell in zip(codes, cells):
            conn.execute(text("INSERT INTO grids (code, community_code, geom) VALUES "
                              "(:c, :m, ST_Multi(ST_GeomFromText(:g, 4326)))"),
                         {"c": code, "m": fx.COMM1, "g": cell.wkt})
    xy = fx.points_near_edges(rng, cells, 3000, east=113.021)
    with grids.begin() as conn:
        conn.execute(text("INSERT INTO incidents (category, reported_at, geom) "
                          "SELECT 'other', now(), ST_SetSRID(ST_MakePoint(x, y), 4326) "
                          "FROM unnest(CAST(:x AS float8[]), CAST(:y AS float8[])) AS t(x, y)"),
                     {"x": xy[:, 0].tolist(), "y": xy[:, 1].tolist()})
    lib = assign_points(gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
                                         crs=4326),
                        gpd.GeoDataFrame({"code": codes}, geometry=cells, crs=4326), "code")
    expected = [(g if isinstance(g, str) else None, bool(b), c.split(";") if c else None)
                for g, b, c in zip(lib["grid"], lib["boundary"], lib["candidates"].fillna(""))]
    for bulk in (True, False):
        with transaction(grids) as session:
            assign_incidents(session, None, bulk=bulk)
        with grids.connect() as conn:
            got = [(r[0], r[1], r[2]) for r in conn.execute(text(
                "SELECT grid_code, boundary, candidates FROM incidents ORDER BY id"))]
        wrong = [i for i, (e, g) in enumerate(zip(expected, got)) if e != g]
        assert not wrong, (bulk, [(tuple(xy[i]), expected[i], got[i]) for i in wrong[:3]])
    assert sum(e[1] for e in expected) > 300  # the boundary cases are really there


def _index_definitions(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(text(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'incidents'")).scalars())


def _index_oids(engine) -> dict[str, tuple[int, bool]]:
    """Index name: (oid, whether a foreign key refers to it)."""
    with engine.connect() as conn:
        return {name: (oid, referred) for name, oid, referred in conn.execute(text(
            "SELECT i.indexrelid::regclass::text, i.indexrelid::int, EXISTS ("
            "  SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' "
            "  AND f.conindid = i.indexrelid) "
            "FROM pg_index i WHERE i.indrelid = 'incidents'::regclass"))}


def _constraints(engine) -> set[tuple[str, str]]:
    with engine.connect() as conn:
        return set(conn.execute(text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'incidents'::regclass")).all())


def test_bulk_rewrite_without_indexes_gives_the_same_rows_and_indexes(grids, monkeypatch):
    """When a bulk assignment rewrites most of the table it drops the secondary indexes
    and the unique constraints no foreign key needs, and makes them again after its
    UPDATE: the rows are those of the plain UPDATE, every index and constraint is back
    with its definition, the rebuilt indexes answer queries and the unique constraint
    refuses a duplicate again."""
    import gis.store.assignment as assignment

    ids = _insert_points(grids, [(x, y) for x, y, *_ in fx.CASES.values()])
    before, constraints = _index_definitions(grids), _constraints(grids)
    assert any("grid_code" in d for d in before)  # a secondary index that is dropped
    assert ("uq_incidents_external_id", "UNIQUE (external_id)") in constraints
    with transaction(grids) as session:
        plain = assign_incidents(session, ids, bulk=True)
    expected = _rows(grids, ids)
    with grids.begin() as conn:
        conn.execute(text("UPDATE incidents SET grid_code = NULL, candidates = NULL, "
                          "boundary = false, community_code = NULL, township_code = NULL, "
                          "grid_code_at_report = NULL"))
    old_oids = _index_oids(grids)
    monkeypatch.setattr(assignment, "REBUILD_FROM", 1)  # the fixture's few rows are "many"
    with transaction(grids) as session:
        rebuilt = assign_incidents(session, ids, bulk=True)
    assert rebuilt == plain and _rows(grids, ids) == expected
    new_oids = _index_oids(grids)
    assert new_oids.keys() == old_oids.keys()
    for name, (oid, referred) in old_oids.items():  # the keys' indexes stay, others rebuilt
        assert (new_oids[name][0] == oid) == referred, name
    assert new_oids["pk_incidents"][0] == old_oids["pk_incidents"][0]
    assert _index_definitions(grids) == before and _constraints(grids) == constraints
    with grids.begin() as conn:
        conn.execute(text("UPDATE incidents SET external_id = 'X-1' WHERE id = :i"),
                     {"i": ids[0]})
    with pytest.raises(IntegrityError, match="uq_incidents_external_id"), grids.begin() as conn:
        conn.execute(text("UPDATE incidents SET external_id = 'X-1' WHERE id = :i"),
                     {"i": ids[1]})
    with grids.connect() as conn:
        conn.execute(text("SET enable_seqscan = off"))
        found = conn.execute(text("SELECT count(*) FROM incidents WHERE grid_code = :g"),
                             {"g": expected[0]["grid_code"]}).scalar()
    assert found == sum(r["grid_code"] == expected[0]["grid_code"] for r in expected)


def _answers(engine, ids):
    return [(r["grid_code"], r["boundary"], r["candidates"]) for r in _rows(engine, ids)]


def test_a_grid_changed_in_place_is_followed_by_the_next_bulk_run(grids):
    """The bulk path prepares the current grids as they are now: moving a grid's
    boundary in place (same id, code and version) changes the next run's answers, which
    equal the per-point statement's."""
    ids = _insert_points(grids, [(x, y) for x, y, *_ in fx.CASES.values()])
    with transaction(grids) as session:
        assign_incidents(session, ids, bulk=True)
    before = _answers(grids, ids)
    with grids.begin() as conn:  # the first case's grid shrinks away from its point
        x, y = next(iter(fx.CASES.values()))[:2]
        conn.execute(text(
            "UPDATE grids SET geom = ST_Multi(ST_Difference(geom, ST_Buffer("
            "ST_SetSRID(ST_MakePoint(:x, :y), 4326), 0.0005))) "
            "WHERE valid_to IS NULL "
            "AND ST_Intersects(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326))"),
            {"x": x, "y": y})
    with transaction(grids) as session:
        assign_incidents(session, ids, bulk=True)
    bulk = _answers(grids, ids)
    with transaction(grids) as session:
        assign_incidents(session, ids, bulk=False)
    assert bulk == _answers(grids, ids)
    assert bulk[0] != before[0]  # the move changed its answer


def test_a_bulk_run_over_no_incidents_counts_none(grids):
    with transaction(grids) as session:
        assert assign_incidents(session, [], bulk=True) == dict(
            incidents=0, assigned=0, boundary=0, unassigned=0, moved=0)


def _versions(engine, ids):
    """Each row's xmin: a new one whenever the row is written again."""
    with engine.connect() as conn:
        return dict(conn.execute(text(
            "SELECT id, xmin::text FROM incidents WHERE id = ANY(:ids)"), {"ids": ids}).all())


def test_a_bulk_run_writes_again_only_the_rows_whose_answer_changed(grids):
    """Grid C renamed: the incidents in C move, the one on the B|C edge keeps its grid
    but gets new candidates, and the others, whose answers are the same, are not
    written again. The answers are the per-point statement's."""
    on_bc = (fx.offset(113.02, fx.MID_LAT, 270, 3.0))  # in B, 3 m from C
    points = [(x, y) for x, y, *_ in fx.CASES.values()] + [on_bc, (113.025, fx.MID_LAT)]
    ids = _insert_points(grids, points)
    with transaction(grids) as session:
        first = assign_incidents(session, None, bulk=True)
    assert first["moved"] == 6  # all but the one 50 m outside, which has no grid
    before = _versions(grids, ids)
    with grids.begin() as conn:
        conn.execute(text("UPDATE grids SET code = :new WHERE code = :old"),
                     {"new": fx.COMM2 + "0009", "old": fx.C})
    with transaction(grids) as session:
        counts = assign_incidents(session, None, bulk=True)
    assert counts == dict(incidents=7, assigned=6, boundary=4, unassigned=1, moved=1)
    after = _versions(grids, ids)
    assert [i for i in ids if after[i] != before[i]] == ids[-2:]
    rows = _rows(grids, ids[-2:])
    assert [r["candidates"] for r in rows] == [[fx.B, fx.COMM2 + "0009"], [fx.COMM2 + "0009"]]
    bulk = _answers(grids, ids)
    with transaction(grids) as session:
        assign_incidents(session, None, bulk=False)
    assert bulk == _answers(grids, ids)


def test_a_bulk_run_recording_the_grid_at_report_writes_rows_whose_grid_did_not_move(grids):
    """After a republish (which keeps the grid at report), a run that records the grid
    at report rewrites the incidents whose grid stayed but whose grid at report differs."""
    [inside_c] = _insert_points(grids, [(113.025, fx.MID_LAT)])
    with transaction(grids) as session:
        assign_incidents(session, None, bulk=True)
    with grids.begin() as conn:
        conn.execute(text("UPDATE grids SET code = :new WHERE code = :old"),
                     {"new": fx.COMM2 + "0009", "old": fx.C})
    with transaction(grids) as session:
        reassign_open_incidents(session)
    [row] = _rows(grids, [inside_c])
    assert (row["grid_code"], row["grid_code_at_report"]) == (fx.COMM2 + "0009", fx.C)
    with transaction(grids) as session:
        counts = assign_incidents(session, None, bulk=True)
    assert counts["moved"] == 0
    [row] = _rows(grids, [inside_c])
    assert row["grid_code_at_report"] == fx.COMM2 + "0009"


def test_candidate_lists_are_compared_as_postgresql_reads_them(db):
    """The bulk path compares the answers' candidates with the stored ones as text: each
    literal it writes must read back, in PostgreSQL, as the same list (else an unchanged
    row could look changed, or a changed one unchanged). Plain codes print as PostgreSQL
    prints them."""
    from gis.store.import_grids import _array_literal

    lists = [["4301020010010001"], ["A-1", "b_2.3"], ["a b", 'x"y', "back\\slash", "{c,d}"],
             ["NULL", "null", "网格1"], [""]]
    with db.connect() as conn:
        for codes in lists:
            read = conn.execute(text("SELECT CAST(:lit AS text[])"),
                                {"lit": _array_literal(codes)}).scalar_one()
            assert read == codes
        printed = conn.execute(text("SELECT CAST(:codes AS text[])::text"),
                               {"codes": lists[1]}).scalar_one()
    assert printed == _array_literal(lists[1])
