"""The Dask paths give the single-machine results: points to grids and camera coverage
per grid, through the library and through ``gridgis assign/coverage --scheduler``.

One LocalCluster (two worker processes) serves the whole module through its address,
as a real cluster would, so the tests pay its start-up once."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

import gis.cli  # noqa: F401  (registers the commands)
from gis.assign import assign_points
from gis.cli.app import app
from gis.coverage import coverage
from gis.distributed.assign import assign_points_dask
from gis.distributed.coverage import coverage_dask


@pytest.fixture(scope="module")
def scheduler():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def grids():
    """6 x 6 square grids of about 550 m near Changsha, keyed by text codes."""
    step = 0.005
    cells = [shapely.box(113 + i * step, 28 + j * step, 113 + (i + 1) * step, 28 + (j + 1) * step)
             for j in range(6) for i in range(6)]
    return gpd.GeoDataFrame({"code": [f"4301020010010{k:03d}" for k in range(36)]},
                            geometry=cells, crs=4326)


@pytest.fixture(scope="module")
def points(grids):
    """Random points, some exactly on shared edges, some outside, some missing."""
    rng = np.random.default_rng(4)
    n = 3000
    x, y = rng.uniform(112.998, 113.032, n), rng.uniform(27.998, 28.032, n)
    x[:300] = 113 + rng.integers(1, 6, 300) * 0.005  # on a vertical edge
    geoms = np.asarray(shapely.points(x, y), dtype=object)
    geoms[300:310] = None
    geoms[310:315] = shapely.Point()
    return gpd.GeoDataFrame({"id": [f"E{i:05d}" for i in range(n)],
                             "category": rng.choice(["dispute", "environment"], n)},
                            geometry=geoms, crs=4326, index=np.arange(n) * 7)


def test_dask_assignment_equals_single_machine(points, grids, scheduler):
    one = assign_points(points, grids, "code")
    many = assign_points_dask(points, grids, "code", scheduler=scheduler, npartitions=5)
    pd.testing.assert_frame_equal(pd.DataFrame(many), pd.DataFrame(one))
    assert one["boundary"].sum() >= 300  # the edge cases are really there
    assert one["grid"].isna().sum() > 15  # outside points and missing geometry


def test_assign_cli_with_scheduler_matches_the_file_path(points, grids, scheduler, tmp_path):
    grids.to_file(tmp_path / "grids.gpkg")
    located = points[~(points.geometry.isna() | points.geometry.is_empty)]
    pd.DataFrame({"id": located["id"], "lon": located.geometry.x,
                  "lat": located.geometry.y}).to_csv(tmp_path / "pts.csv", index=False)
    runner = CliRunner()
    outs = {}
    for name, extra in (("file", []), ("dask", ["--scheduler", scheduler])):
        out = tmp_path / f"{name}.csv"
        res = runner.invoke(app, ["assign", str(tmp_path / "pts.csv"), "--grids",
                                  str(tmp_path / "grids.gpkg"), "--grid-key", "code",
                                  "--out", str(out), "--json", *extra])
        assert res.exit_code == 0, res.output
        outs[name] = pd.read_csv(out, dtype=str, keep_default_na=False)
        assert json.loads(res.stdout.strip().splitlines()[-1])["rows"] == len(located)
    for col in ("id", "grid", "candidates"):
        assert outs["dask"][col].tolist() == outs["file"][col].tolist()
    assert (outs["dask"]["boundary"].str.lower() == outs["file"]["boundary"].str.lower()).all()


@pytest.fixture(scope="module")
def district():
    from gis.generate import generate_district

    d = generate_district(3000, 5)
    communities = d.admin_units[d.admin_units["level"] == "community"][["code", "geometry"]]
    return d, communities.reset_index(drop=True)


def test_dask_coverage_equals_single_machine(district, scheduler):
    d, grids = district
    kwargs = dict(roads=d.roads, incidents=d.incidents, key_places=d.key_places)
    one = coverage(d.cameras, d.buildings, grids, **kwargs)
    many = coverage_dask(d.cameras, d.buildings, grids, scheduler=scheduler, npartitions=3,
                         **kwargs)
    a, b = one.grid_coverage, many.grid_coverage
    assert a["grid"].tolist() == b["grid"].tolist()
    for col in ("target_m2", "covered_m2", "blind_m2", "blind_spots", "blind_incidents"):
        np.testing.assert_allclose(b[col], a[col], rtol=1e-9, atol=1e-6)
    assert a["covered_m2"].sum() > 0 and a["blind_m2"].sum() > 0
    sa, sb = one.blind_spots, many.blind_spots
    assert sa[["spot", "grid", "incidents", "nearest_camera"]].equals(
        sb[["spot", "grid", "incidents", "nearest_camera"]])
    np.testing.assert_allclose(sb["area_m2"], sa["area_m2"], rtol=1e-9)
    np.testing.assert_allclose(many.key_places["covered_m2"], one.key_places["covered_m2"],
                               rtol=1e-9, atol=1e-6)
    assert {k: v for k, v in one.summary.items() if k != "seconds"} == \
        {k: v for k, v in many.summary.items() if k != "seconds"}


def test_coverage_cli_with_scheduler(district, scheduler, tmp_path):
    d, grids = district
    for name in ("cameras", "buildings", "roads"):
        getattr(d, name).to_file(tmp_path / f"{name}.gpkg")
    grids.to_file(tmp_path / "grids.gpkg")
    runner = CliRunner()
    tables = {}
    for name, extra in (("one", []), ("dask", ["--scheduler", scheduler])):
        out = tmp_path / f"{name}.gpkg"
        res = runner.invoke(app, ["coverage", "--cameras", str(tmp_path / "cameras.gpkg"),
                                  "--buildings", str(tmp_path / "buildings.gpkg"),
                                  "--grids", str(tmp_path / "grids.gpkg"),
                                  "--roads", str(tmp_path / "roads.gpkg"),
                                  "--out", str(out), "--json", *extra])
        assert res.exit_code == 0, res.output
        tables[name] = gpd.read_file(out, layer="grid_coverage")
    np.testing.assert_allclose(tables["dask"]["covered_m2"], tables["one"]["covered_m2"],
                               rtol=1e-9, atol=1e-6)
    assert tables["dask"]["grid"].tolist() == tables["one"]["grid"].tolist()
