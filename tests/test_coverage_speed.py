"""Issue 19's faster coverage gives the previous pipeline's answers: the same views and
per-grid figures (within floating-point noise) on a town whose buildings occlude
cameras, and the same answer whatever the chunks and the number of processes."""

from __future__ import annotations

import os
import threading

import geopandas as gpd
import numpy as np
import pytest
import shapely

from bench.bench_coverage import GK, cameras, town
from bench.coverage_before import coverage_before, targets_before, views_before
from gis.coverage import coverage
from gis.coverage.cameras import normalize_cameras
from gis.coverage.per_grid import grid_figures
from gis.coverage.target import Targets
from gis.coverage.visibility import footprint_parts, views_metric
from gis.coverage.workers import can_fork, map_ranges

AREA_TOL_M2 = 1e-4  # per view or per grid: floating-point order, not geometry


@pytest.fixture(scope="module")
def county():
    """900 buildings in blocks (some rotated, some with courtyards), 400 cameras on the
    streets between them, 16 grids, the streets as roads."""
    geoms, streets, grids = town(900, seed=3)
    cams = normalize_cameras(cameras(400, streets, seed=4))
    return {"cameras": cams, "buildings": gpd.GeoDataFrame(geometry=geoms, crs=GK),
            "grids": gpd.GeoDataFrame({"code": [f"g{i}" for i in range(len(grids))]},
                                      geometry=grids, crs=GK),
            "roads": gpd.GeoDataFrame({"class": ["residential"] * len(streets)},
                                      geometry=streets, crs=GK)}


def _metric(county):
    c = county["cameras"]
    parts = footprint_parts(county["buildings"], GK)
    return (c.geometry.x.to_numpy(), c.geometry.y.to_numpy(), c["azimuth"], c["fov"],
            c["range"]), parts


def test_views_equal_the_previous_ones_and_buildings_do_occlude(county):
    args, parts = _metric(county)
    new, moved = views_metric(*args, parts)
    old, moved_old = views_before(*args, parts)
    sectors_m2 = np.pi * np.asarray(args[4]) ** 2 * np.minimum(args[3], 360) / 360
    assert (shapely.area(new) < 0.9 * sectors_m2).sum() > 100  # many views are cut
    assert np.array_equal(moved, moved_old)
    assert shapely.is_valid(new).all()
    assert np.abs(shapely.area(new) - shapely.area(old)).max() < AREA_TOL_M2
    assert shapely.area(shapely.symmetric_difference(new, old)).max() < AREA_TOL_M2


def test_whole_analysis_equals_the_previous_pipeline_per_grid(county):
    kw = {"roads": county["roads"], "grid_key": "code"}
    new = coverage(county["cameras"], county["buildings"], county["grids"], workers=2, **kw)
    old = coverage_before(county["cameras"], county["buildings"], county["grids"], **kw)
    a, b = new.grid_coverage, old.grid_coverage
    assert a["grid"].tolist() == b["grid"].tolist()
    for col in ("target_m2", "covered_m2", "blind_m2"):
        assert np.abs(a[col].to_numpy() - b[col].to_numpy()).max() < AREA_TOL_M2, col
    assert 0.05 < new.summary["coverage_ratio"] < 0.95
    assert abs(len(new.blind_spots) - len(old.blind_spots)) <= 0.01 * len(old.blind_spots)


def test_chunks_and_processes_do_not_change_the_answer(county):
    args, parts = _metric(county)
    one, _ = views_metric(*args, parts, workers=1)
    many, _ = views_metric(*args, parts, chunk=37, workers=2)
    assert shapely.equals_exact(one, many, tolerance=0).all()
    grids = county["grids"].geometry.to_numpy()
    streets = shapely.buffer(county["roads"].geometry.to_numpy(), 3.0, cap_style="flat")
    targets = Targets(parts, streets, "public")
    whole = grid_figures(grids, targets, one, workers=1, chunk=len(grids))
    split = grid_figures(grids, targets, one, workers=2, chunk=3)
    for name in ("targets", "covered", "blind"):
        assert shapely.equals_exact(getattr(whole, name), getattr(split, name), 0).all(), name
    before = targets_before(grids, parts, streets)
    assert shapely.area(shapely.symmetric_difference(whole.targets, before)).max() < AREA_TOL_M2


def _where(lo, hi):
    return os.getpid(), lo, hi


def test_ranges_come_back_in_order_from_forked_workers_or_from_here_when_threads_run():
    out = map_ranges(_where, 10, 3, workers=2)
    assert [(lo, hi) for _, lo, hi in out] == [(0, 3), (3, 6), (6, 9), (9, 10)]
    if can_fork():
        assert os.getpid() not in {pid for pid, _, _ in out}
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:  # a thread could hold a lock across the fork: no pool then, same answer
        assert not can_fork()
        assert map_ranges(_where, 10, 3, workers=2) == [(os.getpid(), lo, hi) for lo, hi in
                                                       [(0, 3), (3, 6), (6, 9), (9, 10)]]
    finally:
        release.set()
        thread.join()


def test_the_command_line_bar_leaves_the_coverage_both_cores():
    """`gridgis coverage` draws a bar while it works; the bar's own refresh thread would
    keep the analysis on one core, so the coverage commands draw at each step instead."""
    from gis.cli.app import progress

    before = set(threading.enumerate())  # other tests may have left threads of their own
    with progress("coverage", total=1) as advance:  # the usual bar: a refresh thread
        refresh = set(threading.enumerate()) - before
        assert len(refresh) == 1
        advance(1)
    for thread in refresh:  # rich tells its refresh thread to stop, without waiting for it
        thread.join(timeout=10)
    before = set(threading.enumerate())
    with progress("coverage", total=1, forks=True) as advance:
        assert set(threading.enumerate()) <= before  # no thread of its own: nothing stops the fork
        out = map_ranges(_where, 10, 3, workers=2)
        advance(1)
    if can_fork():  # alone in this process (the test run by itself): it did fork
        assert os.getpid() not in {pid for pid, _, _ in out}
