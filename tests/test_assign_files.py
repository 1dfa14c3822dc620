"""The file path of ``gridgis assign``: reading grids without geopandas, streaming a CSV in
bounded memory, and writing every output format chunk by chunk."""

from __future__ import annotations

import csv
import json
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import shapely
from shapely.geometry import MultiPolygon, box
from typer.testing import CliRunner

import gis.cli  # noqa: F401  (registers the commands)
import gis.io
from gis.assign import files
from gis.assign.csvread import WINDOW, batches, header, numbers
from gis.assign.grids import read_grids
from gis.cli.app import app
from gis.errors import InputError

GK = 4547
X0, Y0 = 400_000.0, 3_100_000.0


def squares(keys=(2, 10), crs=GK) -> gpd.GeoDataFrame:
    """Two 500 m squares sharing the edge x = X0 + 500 (EPSG:4547), and a keyless gap."""
    return gpd.GeoDataFrame({"code": list(keys), "name": ["a", "b"]}, crs=GK, geometry=[
        box(X0, Y0, X0 + 500, Y0 + 500), box(X0 + 500, Y0, X0 + 1000, Y0 + 500)]).to_crs(crs)


def test_geopackage_grids_read_as_the_general_reader_does(tmp_path):
    frame = squares(keys=("017", "E1"))
    frame.loc[len(frame)] = ["20", "c", MultiPolygon([box(X0, Y0 - 900, X0 + 100, Y0 - 800),
                                                      box(X0 + 200, Y0 - 900, X0 + 300, Y0 - 800)])]
    frame.loc[len(frame)] = ["21", "d", None]
    path = tmp_path / "g.gpkg"
    frame.to_file(path)
    geoms, keys, crs = read_grids(path, "code")
    ref = gis.io.read_layer(path)
    assert crs.to_epsg() == 4326 and keys.tolist() == ref["code"].tolist()
    assert shapely.equals_exact(geoms[:3], ref.geometry.to_numpy()[:3], tolerance=1e-9).all()
    assert geoms[3] is None and ref.geometry.isna().tolist()[3]
    with pytest.raises(InputError, match="no grid key column 'Code'.*code, name"):
        read_grids(path, "Code")


def test_grids_in_other_formats_and_layouts_take_the_general_reader(tmp_path):
    frame = squares(crs=4326)
    frame.to_file(tmp_path / "g.fgb")
    two = tmp_path / "two.gpkg"
    frame.to_file(two, layer="first")
    frame.iloc[:1].to_file(two, layer="second")
    # several layers and none named: refused with the list, never GDAL's first layer
    with pytest.raises(InputError, match="2 layers: first .*second") as err:
        read_grids(two, "code")
    assert err.value.field == "layer"
    for path in (tmp_path / "g.fgb", f"{two}:first"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # and no "more than one layer" warning leaks
            geoms, keys, crs = read_grids(path, "code")  # FlatGeobuf reorders features
        assert sorted(keys.tolist()) == [2, 10] and crs.to_epsg() == 4326
        first = geoms[keys.tolist().index(2)]
        assert first.bounds == pytest.approx(frame.geometry[0].bounds)


def test_csv_reader_stays_a_few_blocks_ahead(tmp_path):
    # pyarrow alone reads the whole file before handing out the first rows.
    path = tmp_path / "big.csv"
    rng = np.random.default_rng(1)
    pd.DataFrame({"lon": rng.uniform(113, 114, 60_000), "lat": rng.uniform(28, 29, 60_000),
                  "note": "a note of some length"}).to_csv(path, index=False)
    block = 64 << 10
    seen = []
    tables = batches(path, header(path, ","), ",", 1, lambda done, total: seen.append(done),
                     block=block)
    rows = sum(t.num_rows for t in tables)
    assert rows == 60_000 and path.stat().st_size > 40 * block
    assert all(done <= (k + 2 + WINDOW) * block for k, done in enumerate(seen))


def test_coordinates_with_spaces_or_junk_are_numbers_or_missing():
    got = numbers(pa.chunked_array([pa.array(["113.5", " 28.25 ", "", "north", "1e2", "-.5"])]))
    assert got[[0, 1, 4, 5]].tolist() == [113.5, 28.25, 100.0, -0.5]
    assert np.isnan(got[[2, 3]]).all()


def test_names_match_gis_io():
    assert set(files.CSV_SUFFIXES) == gis.io.CSV_SUFFIXES
    assert files.LON_NAMES == gis.io.LON_NAMES and files.LAT_NAMES == gis.io.LAT_NAMES


def _points_csv(tmp_path) -> tuple:
    lon, lat = gpd.GeoSeries(gpd.points_from_xy([X0 + 250, X0 + 500, X0 + 750, X0 - 900],
                                                [Y0 + 250] * 4), crs=GK).to_crs(4326).get_coordinates().T.to_numpy()
    src = tmp_path / "pts.csv"
    with open(src, "w", newline="", encoding="utf8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "x", "y", "note"])
        w.writerows([["007", lon[0], lat[0], "街巷"], ["8", lon[1], lat[1], "edge, quoted"],
                     ["9", lon[2], lat[2], ""], ["10", "", "", "no coordinates"],
                     ["11", lon[3], lat[3], "outside"]])
    grids = tmp_path / "grids.gpkg"
    squares().to_file(grids)
    return src, grids


@pytest.mark.parametrize("suffix", [".gpkg", ".fgb", ".parquet", ".geojson"])
def test_every_output_format_is_written_chunk_by_chunk(tmp_path, suffix):
    src, grids = _points_csv(tmp_path)
    out = tmp_path / f"out{suffix}"
    res = CliRunner().invoke(app, ["assign", str(src), "--grids", str(grids), "--grid-key",
                                   "code", "--out", str(out), "--chunk-size", "2", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout.splitlines()[-1])["rows"] == 5
    back = gpd.read_parquet(out) if suffix == ".parquet" else gpd.read_file(out)
    assert back.crs.to_epsg() == 4326 and len(back) == 5
    assert back["id"].tolist() == ["007", "8", "9", "10", "11"]  # text kept as written
    assert back["note"].tolist()[:2] == ["街巷", "edge, quoted"]
    assert back["grid"].tolist()[:3] == ["2", "2", "10"] and back["grid"].isna().tolist()[3:]
    assert back["candidates"].tolist() == ["2", "2;10", "10", "", ""]
    assert back["boundary"].astype(bool).tolist() == [False, True, False, False, False]
    assert back.geometry.isna().tolist() == [False, False, False, True, False]
    assert back.geometry.x[0] == pytest.approx(float(pd.read_csv(src)["x"][0]))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_failed_run_leaves_no_output(tmp_path):
    src, grids = _points_csv(tmp_path)
    with open(src, "a", encoding="utf8") as fh:
        fh.write('12,1,2,a,b\n')  # five fields under four names, after two chunks
    out = tmp_path / "out.gpkg"
    res = CliRunner().invoke(app, ["assign", str(src), "--grids", str(grids), "--grid-key",
                                   "code", "--out", str(out), "--chunk-size", "2"])
    assert res.exit_code != 0 and isinstance(res.exception, InputError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grids.gpkg", "pts.csv"]


def test_keys_while_another_thread_is_importing_pandas(monkeypatch):
    # A fresh `gridgis assign ... --out x.gpkg` imports pandas on the main thread while
    # the grid index, on another, reads keys: pandas is then in sys.modules without NA.
    import sys
    import types

    from gis.assign.keys import canonical_keys

    monkeypatch.setitem(sys.modules, "pandas", types.ModuleType("pandas"))
    assert canonical_keys([1, "02", None]) == ["1", "2", None]
