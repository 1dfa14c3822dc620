"""gis.store.incident_loader: an incidents import locates its rows with the library path
and writes them in one pass; the answers are the SQL assignment's, a bulk load puts back
every index and key it set aside, and refused files leave nothing behind."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import text

import grid_fixtures as fx
from gis.errors import InvalidRows
from gis.services.imports import import_file
from gis.store.assignment import assign_incidents
from gis.store.db import transaction

COLUMNS = ("external_id, grid_code, boundary, candidates, community_code, township_code, "
           "grid_code_at_report")


def _rows(engine):
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            f"SELECT {COLUMNS} FROM incidents ORDER BY id"))]


def _voronoi_grids(engine, rng):
    """Irregular grids of community 1 sharing edges exactly, plus one laid over others."""
    cells = fx.voronoi_cells(rng)
    with engine.begin() as conn:
        conn.execute(text("UPDATE grids SET valid_to = now() WHERE community_code = :m"),
                     {"m": fx.COMM1})
        for i, cell in enumerate(cells):
            conn.execute(text("INSERT INTO grids (code, community_code, geom) VALUES "
                              "(:c, :m, ST_Multi(ST_GeomFromText(:g, 4326)))"),
                         {"c": f"{fx.COMM1}{9000 + i}", "m": fx.COMM1, "g": cell.wkt})
    return cells


def test_imported_rows_get_the_sql_assignment_on_every_point(grid_area, tmp_path):
    """Points inside, exactly on and 0-15 m off the boundaries of irregular and overlaid
    grids, in grid C, in no grid but inside a community, and outside everything: the
    import stores the grid, flag, candidates, community and township that the SQL
    statement computes for the same stored points."""
    rng = np.random.default_rng(11)
    cells = _voronoi_grids(grid_area, rng)
    xy = fx.points_near_edges(rng, cells, 2000, east=113.032)
    xy[:5] = [(113.035, 28.015), (113.5, 28.5), (113.0305, 28.005), (113.025, 28.005),
              (113.02, 28.005)]  # county only, nowhere, near C, in C, on B|C
    csv = tmp_path / "incidents.csv"
    lines = [f"E{i},{float(x)!r},{float(y)!r},dispute,2024-05-01T08:00:00+08:00" for i, (x, y) in
             enumerate(xy)]
    csv.write_text("event_id,lon,lat,category,reported_at\n" + "\n".join(lines) + "\n")
    rep = import_file(grid_area, "incidents", csv, chunksize=700)
    imported = _rows(grid_area)
    with transaction(grid_area) as session:
        assign_incidents(session, None, bulk=False)
    assert imported == _rows(grid_area)
    flagged = sum(r[2] for r in imported)
    assert rep.assignment["boundary"] == flagged > 300  # the hard cases are really there
    assert rep.assignment["unassigned"] == sum(r[1] is None for r in imported) >= 2
    assert imported[1][1:] == (None, False, None, None, None, None)


def test_a_bulk_load_puts_back_every_index_and_the_events_key(grid_area, tmp_path,
                                                              monkeypatch):
    """A load larger than the table drops the secondary indexes and the events' foreign
    key and adds them back, validated: the catalogue is as before, one report event per
    row and one audit row for the batch."""
    from gis.store import incident_loader

    catalogue = ("SELECT conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint "
                 "WHERE conrelid IN ('incidents'::regclass, 'incident_events'::regclass) "
                 "UNION ALL SELECT indexname, indexdef, true FROM pg_indexes "
                 "WHERE tablename IN ('incidents', 'incident_events') ORDER BY 1, 2")
    with grid_area.connect() as conn:
        before = conn.execute(text(catalogue)).all()
    monkeypatch.setattr(incident_loader, "REBUILD_FROM", 2)
    csv = tmp_path / "events.csv"
    csv.write_text("event_id,lon,lat,category,status,reported_at\n"
                   f"E1,113.005,{fx.MID_LAT},dispute,,2024-05-01T08:00:00+08:00\n"
                   f"E2,{fx.EDGE_LON},{fx.MID_LAT},environment,closed,2024-05-01T09:00:00\n"
                   "E3,113.1,28.5,other,,2024-05-01T10:00:00+08:00\n")
    rep = import_file(grid_area, "incidents", csv, actor="loader")
    assert rep.rows_loaded == 3
    with grid_area.connect() as conn:
        assert conn.execute(text(catalogue)).all() == before
        events = conn.execute(text(
            "SELECT i.external_id, e.action, e.to_status, e.actor, e.grid_code "
            "FROM incident_events e JOIN incidents i ON i.id = e.incident_id "
            "ORDER BY i.external_id")).all()
        audit = conn.execute(text("SELECT actor, after FROM audit_log "
                                  "WHERE action = 'import'")).all()
    assert events == [("E1", "report", "reported", "loader", fx.A),
                      ("E2", "report", "closed", "loader", fx.A),
                      ("E3", "report", "reported", "loader", None)]
    assert audit == [("loader", {"rows": 3, "first_id": 1, "last_id": 3})]


@pytest.mark.parametrize("existing", [False, True], ids=["empty table", "ids stored"])
def test_an_id_seen_in_an_earlier_chunk_or_stored_refuses_the_file(grid_area, tmp_path,
                                                                   existing):
    """Whether the table holds ids (checked by index) or not (checked in memory), an id
    repeated across chunks or already stored is refused by file, row and field, and the
    file leaves nothing behind."""
    if existing:
        first = tmp_path / "first.csv"
        first.write_text("event_id,lon,lat,category,reported_at\n"
                         f"OLD,113.005,{fx.MID_LAT},dispute,2024-05-01T08:00:00+08:00\n")
        import_file(grid_area, "incidents", first)
    before = _rows(grid_area)
    csv = tmp_path / "again.csv"
    csv.write_text("event_id,lon,lat,category,reported_at\n"
                   + "".join(f"{i},113.005,{fx.MID_LAT},dispute,2024-05-01T08:00:00+08:00\n"
                             for i in ("E1", "E2", "E3", "E1", "OLD")))
    with pytest.raises(InvalidRows) as err:
        import_file(grid_area, "incidents", csv, chunksize=2)
    problems = [(p.row, p.field, p.reason) for p in err.value.problems]
    expected = [(4, "external_id", "external_id 'E1' already exists (use --replace to "
                 "replace the layer)")]
    if existing:
        expected.append((5, "external_id", "external_id 'OLD' already exists (use --replace "
                         "to replace the layer)"))
    assert problems == expected
    assert all(p.file == str(csv) for p in err.value.problems)
    assert _rows(grid_area) == before
    with grid_area.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incident_events")).scalar() == len(before)


def test_a_file_broken_after_its_first_chunks_leaves_nothing_and_no_thread(grid_area,
                                                                           tmp_path):
    """The first chunks are already on their way into the table when a later one cannot
    be parsed: the error names the file, nothing is kept, and the COPY thread is gone."""
    import threading

    from gis.errors import InputError

    csv = tmp_path / "broken.csv"
    csv.write_text("event_id,lon,lat,category,reported_at\n"
                   + "".join(f"E{i},113.005,{fx.MID_LAT},dispute,2024-05-01T08:00:00+08:00\n"
                             for i in range(6))
                   + "E9,113.005,28.005,dispute,2024-05-01,extra,fields\n")
    with pytest.raises(InputError) as err:
        import_file(grid_area, "incidents", csv, chunksize=2)
    assert err.value.problem.file == str(csv) and "cannot parse CSV" in str(err.value)
    assert _rows(grid_area) == []
    assert not [t for t in threading.enumerate() if t.name.startswith("gridgis-copy")]
