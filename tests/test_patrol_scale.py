"""The scale paths agree: batches of whole workers, Dask partitions by worker, and one
big batch give identical results on messy synthetic tracks (teleports, duplicates,
out-of-order rows, gaps, grid crossings and a window boundary)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis.patrol import GridIndex, PatrolParams, compliance_table, patrol_presence, read_tracks
from gis.patrol.compliance import window_starts
from gis.patrol.distributed import patrol_presence_dask


def voronoi_grids(n=40, seed=1) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    frame = shapely.box(113.0, 28.0, 113.03, 28.03)
    seeds = shapely.multipoints(rng.uniform([113.0, 28.0], [113.03, 28.03], (n, 2)))
    cells = shapely.intersection(shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=frame)), frame)
    return gpd.GeoDataFrame({"code": [f"g{i:03d}" for i in range(n)]}, geometry=cells, crs=4326)


def messy_tracks(workers=12, per=300, seed=2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for w in range(workers):
        step = rng.normal(0, 0.00012, (per, 2))  # ~13 m per 10 s fix
        xy = rng.uniform([113.003, 28.003], [113.027, 28.027]) + np.cumsum(step, axis=0)
        t = pd.Timestamp("2026-10-30 11:20") + pd.to_timedelta(np.arange(per) * 10 + w * 7, "s")
        t = t.where(np.arange(per) < per // 2, t + pd.Timedelta("15min"))  # a gap
        bad = rng.choice(per, 3, replace=False)
        xy[bad] += 0.03  # teleports
        frames.append(pd.DataFrame({"worker": f"w{w:02d}", "time": t.strftime("%Y-%m-%d %H:%M:%S"),
                                    "lon": xy[:, 0], "lat": xy[:, 1]}))
    df = pd.concat(frames, ignore_index=True).sort_values("time", kind="stable")
    extra = df.sample(40, random_state=seed)  # duplicates and replayed (out-of-order) rows
    return pd.concat([df, extra], ignore_index=True)


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    path = tmp_path_factory.mktemp("scale") / "tracks.csv"
    messy_tracks().to_csv(path, index=False)
    grids = voronoi_grids()
    return path, grids, GridIndex(grids, "code")


def test_batches_of_workers_match_one_batch(scene):
    path, _, index = scene
    fixes = read_tracks(path)
    one = patrol_presence(fixes, index, batch_fixes=10**9)
    many = patrol_presence(fixes, index, batch_fixes=500)
    pd.testing.assert_frame_equal(one.presence, many.presence, check_exact=True)
    assert one.dropped == many.dropped
    assert one.dropped["too_fast"] >= 30 and one.dropped["duplicate"] == 40
    assert len(one.presence["window"].unique()) == 2  # the walk crosses noon
    assert one.presence["grid"].nunique() > 10


def test_dask_result_identical_to_single_machine(scene):
    path, _, index = scene
    params = PatrolParams(window="12h")
    single = patrol_presence(read_tracks(path), index, params)
    dask = patrol_presence_dask(path, index, params, blocksize="20KB", n_workers=2)
    pd.testing.assert_frame_equal(single.presence, dask.presence, check_exact=True)
    assert single.dropped == dask.dropped
    assert (single.fixes_read, single.first_ns, single.last_ns) == \
        (dask.fixes_read, dask.first_ns, dask.last_ns)
    windows = params.windows
    starts = window_starts(windows, single.first_ns, single.last_ns)
    a = compliance_table(single.presence, index.keys, windows, starts)
    b = compliance_table(dask.presence, index.keys, windows, starts)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert len(a) == len(index) * 2 and a["patrolled"].any() and not a["patrolled"].all()


def test_dask_on_a_table_in_memory_and_threads(scene):
    path, _, index = scene
    fixes = read_tracks(path)
    single = patrol_presence(fixes, index)
    dask = patrol_presence_dask(fixes, index, n_workers=2, processes=False, part_fixes=500)
    pd.testing.assert_frame_equal(single.presence, dask.presence, check_exact=True)
    assert single.dropped == dask.dropped and dask.fixes_read == len(fixes)


def test_spilled_file_equals_table_in_memory(scene, tmp_path):
    from gis.patrol.engine import patrol_presence_file

    path, _, index = scene
    single = patrol_presence(read_tracks(path), index)
    for threads in (1, 2):  # many small partitions, processed serially and two at a time
        spilled = patrol_presence_file(path, index, part_fixes=300, threads=threads,
                                       tmp_dir=tmp_path)
        pd.testing.assert_frame_equal(single.presence, spilled.presence, check_exact=True)
        assert (single.dropped, single.fixes_read) == (spilled.dropped, spilled.fixes_read)
    assert list(tmp_path.iterdir()) == []  # temporary partitions removed


def test_time_is_conserved_across_grids(scene):
    """Every second of every plausible segment inside the grid frame lands in some grid."""
    path, grids, index = scene
    res = patrol_presence(read_tracks(path), index)
    total = res.presence["seconds"].sum()
    # 12 workers × (2 runs of 150 fixes, 149 segments of 10 s), minus teleport-dropped fixes
    assert 0.9 * 12 * 2 * 149 * 10 < total <= 12 * 2 * 149 * 10 + 1e-6


def test_fast_track_location_equals_tree_query(scene):
    _, grids, index = scene
    rng = np.random.default_rng(5)
    walk = np.cumsum(rng.normal(0, 40, (5000, 2)), axis=0)
    x0, y0, x1, y1 = shapely.total_bounds(index.polygons)
    x = (x0 + x1) / 2 + walk[:, 0]
    y = (y0 + y1) / 2 + walk[:, 1]
    # fixes exactly on grid vertices (shared edges) and far outside every grid
    verts = shapely.get_coordinates(index.polygons[:5])
    x[:len(verts)], y[:len(verts)] = verts[:, 0], verts[:, 1]
    x[-50:] += 1e6
    assert index.disjoint
    fast, slow = index.locate_track(x, y), index.locate(x, y)
    np.testing.assert_array_equal(fast, slow)
    assert (slow == -1).sum() >= 50 and len(np.unique(slow)) > 10
    overlapping = GridIndex(pd.concat([grids, grids.iloc[[0]].assign(code="dup")]), "code")
    assert not overlapping.disjoint


def test_crossing_pieces_match_shapely_intersection(scene):
    from gis.patrol.join import _crossing_pieces

    _, _, index = scene
    rng = np.random.default_rng(9)
    x0, y0, x1, y1 = shapely.total_bounds(index.polygons)
    a = rng.uniform([x0 - 300, y0 - 300], [x1 + 300, y1 + 300], (400, 2))
    b = a + rng.normal(0, 600, (400, 2))
    got = _crossing_pieces(a[:, 0], a[:, 1], b[:, 0], b[:, 1], index)
    got = got.groupby(["s", "grid"])["frac"].sum()
    lines = shapely.linestrings(np.stack([a, b], axis=1))
    li, gi = index.tree.query(lines, predicate="intersects")
    inside = shapely.length(shapely.intersection(lines[li], index.polygons[gi])) / shapely.length(lines[li])
    want = pd.Series(inside, index=pd.MultiIndex.from_arrays([li, gi], names=["s", "grid"]))
    want = want[want > 1e-12]
    both = pd.concat([got.rename("got"), want.rename("want")], axis=1).fillna(0.0)
    np.testing.assert_allclose(both["got"], both["want"], atol=1e-9)
    assert len(want) > 400  # many segments cross several grids
