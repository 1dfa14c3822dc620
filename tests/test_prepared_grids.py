"""gis.store.import_grids.prepared_grids: an import reuses the grids an earlier import of
the same process prepared, and only while neither the grids nor the admin units changed:
every answer is the one freshly prepared grids give."""

from __future__ import annotations

import pytest
from sqlalchemy import text

import grid_fixtures as fx
from gis.services.imports import import_file
from gis.store import import_grids
from gis.store.db import transaction
from gis.store.importer import load_file

# (external id, lon, lat): the middle of A, the middle of B, 30 m west of the A|B edge
POINTS = [("P1", 113.005, fx.MID_LAT), ("P2", 113.015, fx.MID_LAT),
          ("P3", *fx.offset(fx.EDGE_LON, fx.MID_LAT, 270, 30.0))]


@pytest.fixture
def prepared(monkeypatch):
    """Count the grid sets prepared from the database, starting from an empty store."""
    calls = []
    real = import_grids.current_grids

    def counted(session, tolerance_m):
        calls.append(tolerance_m)
        return real(session, tolerance_m)

    monkeypatch.setattr(import_grids, "current_grids", counted)
    monkeypatch.setattr(import_grids, "_kept", type(import_grids._kept)())
    return calls


def _csv(tmp_path, name="incidents.csv"):
    path = tmp_path / name
    path.write_text("event_id,lon,lat,category,reported_at\n" + "".join(
        f"{i},{x!r},{y!r},dispute,2024-05-01T08:00:00+08:00\n" for i, x, y in POINTS))
    return path


def _import(engine, path):
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM incidents"))
    import_file(engine, "incidents", path)
    with engine.connect() as conn:
        return conn.execute(text("SELECT external_id, grid_code, boundary, township_code "
                                 "FROM incidents ORDER BY external_id")).all()


def test_a_second_import_of_the_same_grids_does_not_prepare_them_again(grid_area, tmp_path,
                                                                        prepared):
    path = _csv(tmp_path)
    first = _import(grid_area, path)
    second = _import(grid_area, path)
    assert first == second == [("P1", fx.A, False, fx.TOWN1), ("P2", fx.B, False, fx.TOWN1),
                               ("P3", fx.A, False, fx.TOWN1)]
    assert len(prepared) == 1
    _import(grid_area, path)  # deleting incidents changes nothing the grids depend on
    assert len(prepared) == 1


def test_a_grid_moved_between_imports_is_used_by_the_next_one(grid_area, tmp_path, prepared):
    """A's east edge moves 35 m west (B takes the strip): P3, 30 m west of the old edge,
    is now in B, 5 m from the new edge, so flagged."""
    path = _csv(tmp_path)
    assert _import(grid_area, path)[2] == ("P3", fx.A, False, fx.TOWN1)
    west = fx.offset(fx.EDGE_LON, fx.MID_LAT, 270, 35.0)[0]
    with grid_area.begin() as conn:
        conn.execute(text("UPDATE grids SET geom = ST_GeomFromEWKT(:g) WHERE code = :c"),
                     {"g": fx.square(113.0, 28.0, west, 28.01), "c": fx.A})
        conn.execute(text("UPDATE grids SET geom = ST_GeomFromEWKT(:g) WHERE code = :c"),
                     {"g": fx.square(west, 28.0, 113.02, 28.01), "c": fx.B})
    assert _import(grid_area, path)[2] == ("P3", fx.B, True, fx.TOWN1)
    assert len(prepared) == 2
    assert len(import_grids._kept) == 1  # the outdated set is not kept beside it


def test_a_changed_township_reaches_the_next_import(grid_area, tmp_path, prepared):
    path = _csv(tmp_path)
    assert _import(grid_area, path)[0][3] == fx.TOWN1
    with grid_area.begin() as conn:
        conn.execute(text("UPDATE admin_units SET parent_code = :t WHERE code = :m"),
                     {"t": fx.TOWN2, "m": fx.COMM1})
    assert [r[3] for r in _import(grid_area, path)] == [fx.TOWN2] * 3
    assert len(prepared) == 2


def test_grids_prepared_in_a_rolled_back_transaction_are_not_used_later(grid_area, tmp_path,
                                                                        prepared):
    """An import inside a transaction that deleted grid A, rolled back; then B deleted and
    committed, which brings the grids' counter to the same value the rolled-back
    transaction had seen: the next import still sees A, and no B."""
    path = _csv(tmp_path)
    with pytest.raises(RuntimeError, match="undo"):
        with transaction(grid_area) as session:
            session.execute(text("DELETE FROM grids WHERE code = :c"), {"c": fx.A})
            load_file(session, "incidents", path)
            grid = session.execute(text(
                "SELECT grid_code FROM incidents WHERE external_id = 'P1'")).scalar_one()
            assert grid is None
            raise RuntimeError("undo")
    with grid_area.begin() as conn:
        conn.execute(text("DELETE FROM grids WHERE code = :c"), {"c": fx.B})
    assert [r[1] for r in _import(grid_area, path)] == [fx.A, None, fx.A]
    assert len(prepared) == 2


def test_grids_in_use_are_not_shared_with_a_second_import(grid_area, prepared):
    """GEOS' prepared geometries are not shared between threads: while one import holds
    the grids, another prepares its own; both are answered alike."""
    with transaction(grid_area) as session:
        with import_grids.prepared_grids(session, 10.0) as one, \
                import_grids.prepared_grids(session, 10.0) as two:
            assert one is not two
            lon, lat = [p[1] for p in POINTS], [p[2] for p in POINTS]
            assert list(one.locate(lon, lat).grid) == list(two.locate(lon, lat).grid) \
                == [fx.A, fx.B, fx.A]
        with import_grids.prepared_grids(session, 10.0) as again:
            assert again is one or again is two
        with import_grids.prepared_grids(session, 40.0) as wider:  # another tolerance
            assert wider is not one and wider is not two
            assert wider.locate([lon[2]], [lat[2]]).boundary.tolist() == [True]
    assert len(prepared) == 3
