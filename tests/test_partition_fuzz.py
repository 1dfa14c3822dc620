"""Real-world oddities fed to partition, rebalance and crosswalk through the CLI: invalid,
overlapping and duplicate geometries, mixed geometry types, empty files, out-of-range and
swapped coordinates, unsorted rows, bad household counts. Whatever comes in: no
traceback; either a result whose report counts what was repaired or dropped, or an error
naming the file, row or field."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

import gis.cli  # noqa: F401  (registers the commands)
from gis.cli.app import app
from gis.errors import GridgisError
from partition_fixtures import assert_seamless, street_town

BOWTIE = shapely.Polygon([(0, 0), (20, 20), (20, 0), (0, 20)])  # metres, self-crossing
SPIKE = shapely.Polygon([(0, 0), (20, 0), (20, 20), (10, 20), (10, 40), (10, 20), (0, 20)])


def _town():
    buildings, roads, parent = street_town(n=3)
    return buildings.reset_index(drop=True), roads, parent


def _metric(gdf):
    return gdf.to_crs(4544)


def _place(geom, near, crs=4544):
    """``geom`` (drawn around 0, 0 in metres) moved onto the centre of ``near``."""
    c = near.centroid
    return shapely.affinity.translate(geom, c.x - 10, c.y - 10)


def _invalid(b):
    m = _metric(b)
    m.loc[0, "geometry"] = _place(BOWTIE, m.geometry.iat[0])
    m.loc[1, "geometry"] = _place(SPIKE, m.geometry.iat[1])
    return m.to_crs(4326), "geometries_repaired"


def _overlapping(b):
    m = _metric(b)
    extra = m.iloc[[2, 3]].copy()  # listed twice
    shifted = m.iloc[[4]].assign(geometry=m.iloc[[4]].geometry.translate(12, 0))
    return pd.concat([m, extra, shifted], ignore_index=True).to_crs(4326), \
        "duplicate_footprints"


def _mixed(b):
    m = _metric(b)
    m.loc[0, "geometry"] = m.geometry.iat[0].centroid  # an address point
    m.loc[1, "geometry"] = m.geometry.iat[1].exterior  # a footprint drawn as a line
    return m.to_crs(4326), None


def _missing(b):
    out = b.copy()
    out["households"] = out["households"].astype(object)
    out.loc[0, "households"] = "n/a"
    out.loc[1, "households"] = None
    out.loc[2, "geometry"] = None
    return out, ("rows_without_geometry", "households_missing")


def _unsorted(b):
    return b.sample(frac=1.0, random_state=3), None


def _out_of_range(b):
    out = b.copy()
    out.loc[5, "geometry"] = shapely.Point(105.0, 400.0)
    return out, "error"


def _swapped(b):
    out = b.copy()
    g = out.geometry.iat[6]
    out.loc[6, "geometry"] = shapely.transform(g, lambda c: c[:, ::-1])  # lat, lon
    return out, "error"


def _negative(b):
    out = b.copy()
    out.loc[7, "households"] = -12
    return out, "error"


def _empty(b):
    return b.iloc[:0], "error"


CASES = {"invalid": _invalid, "overlapping": _overlapping, "mixed": _mixed,
         "missing": _missing, "unsorted": _unsorted, "out_of_range": _out_of_range,
         "swapped": _swapped, "negative": _negative, "empty": _empty}


def _invoke(*args):
    res = CliRunner().invoke(app, [*map(str, args), "--json"])
    if res.exit_code == 0:
        return json.loads(res.stdout.strip().splitlines()[-1]), None
    # no traceback: a domain error that says where
    assert isinstance(res.exception, GridgisError), res.output
    return None, str(res.exception)


def _names_where(message: str, path) -> bool:
    return str(path) in message and ("row" in message or "field" in message)


@pytest.mark.parametrize("case", sorted(CASES))
def test_partition_and_rebalance_survive_odd_units(tmp_path, case):
    buildings, roads, parent = _town()
    units, expect = CASES[case](buildings)
    path = tmp_path / f"{case}.geojson"
    units.to_file(path, driver="GeoJSON")
    roads.to_file(tmp_path / "roads.gpkg")
    report, error = _invoke("partition", "--units", path, "--roads", tmp_path / "roads.gpkg",
                            "--out", tmp_path / "g.gpkg")
    if expect == "error":
        assert error is not None and _names_where(error, path), error
        assert not (tmp_path / "g.gpkg").exists()  # nothing half-written
        return
    assert error is None, error
    grids = assert_seamless(tmp_path / "g.gpkg", 4326)
    for key in (expect,) if isinstance(expect, str) else expect or ():
        assert report[key] >= 1, report
    total = pd.to_numeric(units["households"], errors="coerce").fillna(0)
    kept = total[units.geometry.notna().to_numpy()].sum() - report["households_set_aside"]
    assert grids["households"].sum() == kept  # copies' households counted once, reported
    report, error = _invoke("rebalance", "--grids", tmp_path / "g.gpkg", "--units", path,
                            "--roads", tmp_path / "roads.gpkg", "--out", tmp_path / "r.gpkg")
    assert error is None, error
    assert_seamless(tmp_path / "r.gpkg", 4326)


def test_unsorted_rows_give_the_same_grids(tmp_path):
    buildings, roads, _parent = _town()
    roads.to_file(tmp_path / "roads.gpkg")
    codes = []
    for name, units in (("sorted", buildings), ("shuffled", _unsorted(buildings)[0])):
        units.to_file(tmp_path / f"{name}.gpkg")
        _invoke("partition", "--units", tmp_path / f"{name}.gpkg", "--roads",
                tmp_path / "roads.gpkg", "--out", tmp_path / f"{name}_g.gpkg")
        grids = gpd.read_file(tmp_path / f"{name}_g.gpkg").sort_values("code")
        codes.append(list(zip(grids["code"], grids["households"])))
    assert codes[0] == codes[1]


@pytest.mark.parametrize("case", ["invalid", "overlapping", "mixed", "null_codes", "empty"])
def test_crosswalk_survives_odd_grid_layers(tmp_path, case):
    buildings, roads, parent = _town()
    buildings.to_file(tmp_path / "b.gpkg")
    _invoke("partition", "--units", tmp_path / "b.gpkg", "--parent",
            _write(parent, tmp_path / "p.gpkg"), "--out", tmp_path / "g.gpkg")
    m = _metric(parent)
    x0, y0, x1, y1 = m.total_bounds
    xm = (x0 + x1) / 2
    old = gpd.GeoDataFrame({"code": ["W", "E"]}, geometry=[shapely.box(x0, y0, xm, y1),
                                                          shapely.box(xm, y0, x1, y1)],
                           crs=4544)
    if case == "invalid":
        old.loc[0, "geometry"] = shapely.Polygon([(x0, y0), (xm, y1), (xm, y0), (x0, y1)])
    elif case == "overlapping":
        old = pd.concat([old, old.iloc[[0]].assign(geometry=old.geometry.iloc[[0]]
                                                   .translate(50, 0))], ignore_index=True)
    elif case == "mixed":
        old = pd.concat([old, gpd.GeoDataFrame({"code": ["P", "L"]}, geometry=[
            shapely.Point(xm, y0 + 10), shapely.LineString([(x0, y0), (x1, y1)])], crs=4544)],
            ignore_index=True)
    elif case == "null_codes":
        old = pd.concat([old, old.assign(code=[None, ""])], ignore_index=True)
    elif case == "empty":
        old = old.iloc[:0]
    path = _write(gpd.GeoDataFrame(old, crs=4544).to_crs(4326), tmp_path / "old.geojson")
    report, error = _invoke("crosswalk", "--old", path, "--new", tmp_path / "g.gpkg",
                            "--units", tmp_path / "b.gpkg", "--out", tmp_path / "cw.csv")
    if error is not None:
        assert _names_where(error, path), error
        return
    table = pd.read_csv(tmp_path / "cw.csv")
    assert report["households"] == table["households"].sum()
    assert report["rows"] == len(table)
    # every household is in the table or counted as outside the old layer
    assert report["households"] + report["households_unmatched"] == \
        buildings["households"].sum()
    counted = {"invalid": "old_rows_repaired", "mixed": "old_rows_not_polygons"}
    if case in counted:
        assert report[counted[case]] >= 1, report
    if case == "null_codes":
        assert report["old_rows_without_code"] == [3, 4]


def _write(gdf, path):
    gdf.to_file(path)
    return path
