"""Assigning points to grids: the boundary rules with known answers, and ``gridgis assign``."""

from __future__ import annotations

import csv
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import Point, box
from typer.testing import CliRunner

import gis.cli  # noqa: F401  (registers the commands)
from gis.assign import assign_points, build_index, canonical_key, key_matches
from gis.cli.app import app
from gis.crs import wgs84_to_gcj02
from gis.errors import InputError

GK = 4547  # CGCS2000 3-degree Gauss-Krüger CM 114E: the metric CRS gridgis picks at lon 113
TO_LL = Transformer.from_crs(GK, 4326, always_xy=True)
X0, Y0 = 400_000.0, 3_100_000.0  # about lon 112.98, lat 28.01


def metric_grids(keys=(2, 10)) -> gpd.GeoDataFrame:
    """Two 500 m squares sharing the edge x = X0 + 500, defined in EPSG:4547."""
    return gpd.GeoDataFrame({"code": list(keys)}, crs=GK, geometry=[
        box(X0, Y0, X0 + 500, Y0 + 500), box(X0 + 500, Y0, X0 + 1000, Y0 + 500)])


def lonlat(x, y) -> tuple[float, float]:
    return TO_LL.transform(x, y)


def points_at(xy, crs=4326) -> gpd.GeoDataFrame:
    geoms = [None if p is None else Point(*lonlat(*p)) for p in xy]
    return gpd.GeoDataFrame({"n": range(len(xy))}, geometry=geoms, crs=crs)


def result(frame: gpd.GeoDataFrame) -> list[tuple]:
    return [(None if pd.isna(g) else g, bool(b), c)
            for g, b, c in zip(frame["grid"], frame["boundary"], frame["candidates"])]


def test_rules_on_two_squares_with_integer_keys():
    pts = points_at([
        (X0 + 250, Y0 + 250),    # strictly inside 2
        (X0 + 497, Y0 + 250),    # inside 2, 3 m from 10
        (X0 + 500, Y0 + 250),    # exactly on the shared edge
        (X0 + 250, Y0 - 5),      # 5 m outside 2 only
        (X0 + 500, Y0 - 5),      # 5 m below the shared corner: equally near both
        (X0 + 250, Y0 - 50),     # 50 m outside everything
        None,                    # no coordinates
    ])
    out = assign_points(pts, metric_grids(), "code")
    assert result(out) == [
        ("2", False, "2"),
        ("2", True, "2;10"),
        ("2", True, "2;10"),     # smallest key, numerically (text order would pick "10")
        ("2", True, "2"),
        ("2", True, "2;10"),
        (None, False, ""),
        (None, False, ""),
    ]
    assert list(out["n"]) == list(range(7)) and out.crs == pts.crs


def test_neighbour_order_strict_inside_first_then_distance():
    # Inside 10, 3 m from 2: the containing grid comes first even though its key is larger.
    out = assign_points(points_at([(X0 + 503, Y0 + 250), (X0 + 2, Y0 + 250)]),
                        metric_grids(), "code", tolerance=10)
    assert result(out) == [("10", True, "10;2"), ("2", False, "2")]


def test_tolerance_is_configurable_and_zero_still_handles_edges():
    pts = points_at([(X0 + 497, Y0 + 250), (X0 + 500, Y0 + 250), (X0 + 250, Y0 - 5)])
    wide = assign_points(pts, metric_grids(), "code", tolerance=2)
    assert result(wide) == [("2", False, "2"), ("2", True, "2;10"), (None, False, "")]
    zero = assign_points(pts, metric_grids(), "code", tolerance=0)
    assert result(zero)[1] == ("2", True, "2;10")


def test_zero_coordinates_and_empty_points_are_kept_unassigned():
    pts = gpd.GeoDataFrame({"n": [1, 2, 3]}, crs=4326,
                           geometry=[Point(0, 0), Point(), Point(*lonlat(X0 + 10, Y0 + 10))])
    out = assign_points(pts, metric_grids(), "code")
    assert result(out) == [(None, False, ""), (None, False, ""), ("2", False, "2")]


def test_tolerance_in_true_metres_far_from_the_central_meridian():
    # Two squares 20° of longitude apart: the metric CRS is centred between them, where
    # the projection's scale is 1 %; the tolerance must still be 10 true metres.
    grids = gpd.GeoDataFrame({"code": ["a", "b"]}, crs=4326, geometry=[
        box(100.0, 30.0, 100.01, 30.01), box(120.0, 30.0, 120.01, 30.01)])
    geod = Geod(ellps="WGS84")
    near = geod.fwd(120.01, 30.005, 90, 9.9)[:2]
    far = geod.fwd(120.01, 30.005, 90, 10.2)[:2]
    pts = gpd.GeoDataFrame(geometry=[Point(near), Point(far)], crs=4326)
    assert result(assign_points(pts, grids, "code")) == [("b", True, "b"), (None, False, "")]
    assert build_index(grids, "code").scale[1] > 1.005  # the case is really distorted


def test_overlapping_grids_are_still_candidates():
    # A digitising overlap: grid 3 reaches 100 m into grid 2. A point inside 2 only,
    # 4 m from grid 3's edge, is a boundary case with both.
    grids = pd.concat([metric_grids(), gpd.GeoDataFrame(
        {"code": [3]}, crs=GK, geometry=[box(X0 + 400, Y0 + 300, X0 + 700, Y0 + 500)])])
    out = assign_points(points_at([(X0 + 396, Y0 + 400), (X0 + 450, Y0 + 400)]),
                        grids, "code")
    assert result(out) == [("2", True, "2;3"), ("2", True, "2;3")]


def test_rows_sharing_a_key_are_one_grid():
    grids = metric_grids(keys=(7, "7"))  # one area in two rows, the key in two types
    out = assign_points(points_at([(X0 + 500, Y0 + 250), (X0 + 497, Y0 + 250)]), grids, "code")
    assert result(out) == [("7", False, "7"), ("7", False, "7")]


def test_grids_in_a_us_state_plane_in_feet():
    # EPSG:2263 (New York Long Island, US survey feet): tolerance stays in metres.
    ft = 1200 / 3937  # metres per US survey foot
    x0, y0 = 980_000.0, 200_000.0
    grids = gpd.GeoDataFrame({"precinct": [14]}, crs=2263,
                             geometry=[box(x0, y0, x0 + 3000, y0 + 3000)])
    to_ll = Transformer.from_crs(2263, 4326, always_xy=True)
    pts = gpd.GeoDataFrame(crs=4326, geometry=[
        Point(to_ll.transform(x0 + 1500, y0 - 5 / ft)),     # 5 m outside
        Point(to_ll.transform(x0 + 1500, y0 - 20 / ft))])   # 20 m (66 ft) outside
    assert result(assign_points(pts, grids, "precinct")) == [("14", True, "14"),
                                                             (None, False, "")]


def test_bad_inputs_are_named():
    with pytest.raises(InputError, match="no grid key column 'zone'"):
        assign_points(points_at([(X0, Y0)]), metric_grids(), "zone")
    keyless = metric_grids(keys=(1, None))
    with pytest.raises(InputError, match="row 2.*grid without a key"):
        assign_points(points_at([(X0, Y0)]), keyless, "code")
    with pytest.raises(InputError, match="declare no CRS"):
        assign_points(gpd.GeoDataFrame(geometry=[Point(1, 1)]), metric_grids(), "code")


def test_keys_compare_by_canonical_form():
    assert [canonical_key(v) for v in (1, 1.0, "01", " 1 ", np.int64(1))] == ["1"] * 5
    assert canonical_key("E23000001") == "E23000001" and canonical_key(float("nan")) is None
    got = key_matches(["01", "Metropolitan  police", "x", None],
                      ["1", "Metropolitan Police", "2", "2"], ["1", "Metropolitan Police",
                                                                  "2;x", "2"])
    assert got.tolist() == [True, True, True, False]


# --- the command line -----------------------------------------------------------------

def write_grids(tmp_path, crs=GK, keys=(2, 10)):
    path = tmp_path / "grids.gpkg"
    metric_grids(keys).to_crs(crs).to_file(path)
    return path


def run_assign(*args) -> dict:
    res = CliRunner().invoke(app, ["assign", *map(str, args), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_cli_keeps_every_column_as_written_and_streams_chunks(tmp_path):
    grids = write_grids(tmp_path)  # stored in EPSG:4547, not lon/lat
    inside, edge = lonlat(X0 + 250, Y0 + 250), lonlat(X0 + 500, Y0 + 250)
    rows = [
        ["007", "Bob, \"the\" builder", f"{inside[1]:.9f}", f"{inside[0]:.9f}", "2"],
        ["1e3", "", f"{edge[1]:.9f}", f"{edge[0]:.9f}", "10"],
        ["x", "no coords", "", "", "2"],
        ["TRUE", "zero", "0", "0", ""],
        ["3.50", "junk", "north", "east", "2"],
        ["", "街巷", f"{inside[1]:.9f}", f"{inside[0]:.9f}", "02"],
    ]
    src = tmp_path / "crimes.csv"
    with open(src, "w", newline="", encoding="utf8") as fh:
        w = csv.writer(fh)
        w.writerow(["Crime ID", "Note", "Latitude", "Longitude", "Area"])
        w.writerows(rows)
    out = tmp_path / "out.csv"
    summary = run_assign(src, "--grids", grids, "--grid-key", "code", "--out", out,
                         "--chunk-size", 2, "--check", "Area")
    assert {k: summary[k] for k in ("rows", "assigned", "boundary", "unassigned",
                                    "no_coordinates", "checked", "reproduced")} == {
        "rows": 6, "assigned": 3, "boundary": 1, "unassigned": 3, "no_coordinates": 3,
        "checked": 3, "reproduced": 3}
    with open(out, newline="", encoding="utf8") as fh:
        back = list(csv.reader(fh))
    assert back[0] == ["Crime ID", "Note", "Latitude", "Longitude", "Area", "grid",
                       "boundary", "candidates"]
    assert [r[:5] for r in back[1:]] == rows  # every input value exactly as written
    assert [r[5:] for r in back[1:]] == [
        ["2", "false", "2"], ["2", "true", "2;10"], ["", "false", ""], ["", "false", ""],
        ["", "false", ""], ["2", "false", "2"]]


def test_cli_gcj02_points_land_in_the_right_grid(tmp_path):
    grids = write_grids(tmp_path)
    true_lon, true_lat = lonlat(X0 + 700, Y0 + 250)          # inside grid 10
    g_lon, g_lat = wgs84_to_gcj02(true_lon, true_lat)         # as a phone app reports it
    src = tmp_path / "app.csv"
    pd.DataFrame({"lng": [float(g_lon)], "lat": [float(g_lat)]}).to_csv(src, index=False)
    run_assign(src, "--grids", grids, "--grid-key", "code", "--crs", "gcj02",
               "--out", tmp_path / "ok.csv")
    run_assign(src, "--grids", grids, "--grid-key", "code", "--out", tmp_path / "raw.csv")
    assert pd.read_csv(tmp_path / "ok.csv", dtype=str)["grid"].tolist() == ["10"]
    # Without --crs the ~500 m offset puts it elsewhere: the declaration matters.
    assert pd.read_csv(tmp_path / "raw.csv", dtype=str)["grid"].tolist() != ["10"]


def test_cli_vector_points_to_geopackage(tmp_path):
    grids = write_grids(tmp_path, crs=4326, keys=("01", "02"))
    pts = points_at([(X0 + 100, Y0 + 100), (X0 + 900, Y0 + 100), (X0 - 500, Y0)])
    src = tmp_path / "incidents.geojson"
    pts.to_file(src)
    out = tmp_path / "assigned.gpkg"
    summary = run_assign(src, "--grids", grids, "--grid-key", "code", "--out", out)
    back = gpd.read_file(out)
    assert summary["rows"] == 3 and summary["unassigned"] == 1
    assert back["grid"].tolist()[:2] == ["01", "02"] and back["grid"].isna().tolist()[2]
    assert back["n"].tolist() == [0, 1, 2]


def test_cli_names_a_missing_column(tmp_path):
    grids = write_grids(tmp_path)
    src = tmp_path / "p.csv"
    src.write_text("a,b\n1,2\n")
    res = CliRunner().invoke(app, ["assign", str(src), "--grids", str(grids), "--grid-key",
                                   "code", "--out", str(tmp_path / "o.csv")])
    assert res.exit_code != 0
    assert isinstance(res.exception, InputError) and res.exception.field == "lon"
    assert not (tmp_path / "o.csv").exists()


def test_threaded_halves_give_the_same_answer():
    from gis.assign.locate import locate_lonlat

    rng = np.random.default_rng(3)
    grids = gpd.GeoDataFrame({"code": range(200)}, crs=4326, geometry=list(shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(rng.uniform(0, 0.05, (200, 2)) + [113, 28]),
                                 extend_to=box(113, 28, 113.05, 28.05)))))
    index = build_index(grids.clip(box(113, 28, 113.05, 28.05)), "code")
    lon, lat = rng.uniform(112.999, 113.051, 120_000), rng.uniform(27.999, 28.051, 120_000)
    one = locate_lonlat(index, lon, lat, workers=1)
    two = locate_lonlat(index, lon, lat, workers=2)
    assert np.array_equal(one.grid, two.grid) and np.array_equal(one.boundary, two.boundary)
    assert one.boundary.sum() > 1000 and (one.grid < 0).sum() > 100  # all cases present
    assert np.array_equal(one.candidate_text(), two.candidate_text())


def test_large_grids_use_the_indexed_path_with_the_same_rules():
    # A round police area of 4,000 vertices next to a small square grid.
    disc = Point(X0, Y0).buffer(2000, quad_segs=1000)
    grids = gpd.GeoDataFrame({"code": ["area", "sq"]}, crs=GK, geometry=[
        disc, box(X0 + 2000, Y0 - 100, X0 + 2200, Y0 + 100)])
    pts = points_at([(X0, Y0 + 2003), (X0, Y0 + 2030), (X0 + 1997, Y0), (X0, Y0)])
    assert result(assign_points(pts, grids, "code")) == [
        ("area", True, "area"), (None, False, ""), ("area", True, "area;sq"),
        ("area", False, "area")]


def _run_cli_probe(*argv: str) -> dict:
    """Run the ``gridgis`` entry point in a fresh interpreter; report what it imported."""
    import subprocess
    import sys

    code = ("import json, sys\n"
            f"sys.argv = ['gridgis', *{list(argv)!r}]\n"
            "from gis.cli import main\n"
            "try:\n    main()\nexcept SystemExit as e:\n    rc = e.code\n"
            "mods = [m for m in ('geopandas', 'pandas', 'pyogrio', 'sqlalchemy', 'gis.cli.patrol')"
            " if m in sys.modules]\n"
            "sys.stderr.write(json.dumps({'rc': rc, 'mods': mods}))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    return {**json.loads(done.stderr.splitlines()[-1]), "out": done.stdout}


def test_cli_starts_without_loading_other_commands():
    helped = _run_cli_probe("assign", "--help")
    assert helped["rc"] == 0 and "--grid-key" in helped["out"]
    assert helped["mods"] == []  # no geopandas, pandas, pyogrio, SQLAlchemy, other commands
    listing = _run_cli_probe("--help")
    assert listing["rc"] == 0 and listing["mods"] == []
    import gis.cli  # noqa: F401  (every command, as tests and python -m see them)

    every = [c.name for c in app.registered_commands] + [g.name for g in app.registered_groups]
    for name in every:
        assert f" {name} " in listing["out"], name


def test_lattice_answers_as_the_box_search_does():
    # Irregular cells, one with a hole holding another grid, one in two parts.
    from gis.assign.locate import _fast, _searched

    rng = np.random.default_rng(5)
    cells = shapely.get_parts(shapely.voronoi_polygons(
        shapely.multipoints(rng.uniform(0, 0.02, (60, 2)) + [113, 28]),
        extend_to=box(113, 28, 113.02, 28.02)))
    cells = list(shapely.intersection(cells, box(113, 28, 113.02, 28.02)))
    hole = Point(113.01, 28.01).buffer(0.002)
    cells = [shapely.difference(c, hole) for c in cells] + [hole]
    cells[0] = shapely.union(cells[0], box(113.03, 28.0, 113.035, 28.005))  # a second part
    index = build_index(gpd.GeoDataFrame({"code": range(len(cells))}, geometry=cells,
                                         crs=4326), "code")
    lon, lat = rng.uniform(112.999, 113.036, 300_000), rng.uniform(27.999, 28.021, 300_000)
    fast = _fast(index, lon, lat)
    assert np.array_equal(fast, _searched(index, lon, lat))
    codes = index.lattice.codes(index.lattice.lookup(lon, lat))
    assert (codes >= 0).mean() > 0.25  # many points (a third lie outside) need no test
    assert set(fast[(lon > 113.03) & (lat < 28.005)]) <= {0, -1}


def test_numpy_boundary_distances_equal_geos():
    from gis.assign.edges import boundary_distance, grid_edges

    rng = np.random.default_rng(9)
    donut = box(0, 0, 300, 300).difference(box(100, 100, 200, 200))
    parts = shapely.multipolygons([box(400, 0, 450, 50), box(500, 0, 520, 90)])
    tri = shapely.Polygon([(0, 400), (300, 400), (150, 420)])
    geoms = np.array([donut, parts, tri, Point(0, 0).buffer(100, quad_segs=200)], dtype=object)
    small = shapely.get_num_coordinates(geoms) <= 256  # the disc takes GEOS' path
    edges = grid_edges(geoms, small)
    assert edges.count.tolist()[3] == 0 and min(edges.count[:3]) >= 3
    grid = rng.integers(0, 3, 50_000)
    x, y = rng.uniform(-50, 600, 50_000), rng.uniform(-50, 500, 50_000)
    got = boundary_distance(edges, grid, x, y)
    want = shapely.distance(shapely.boundary(geoms[grid]), shapely.points(x, y))
    assert np.allclose(got, want, rtol=0, atol=1e-9)
