"""Real-world oddities fed to every file command (``patrol``, ``coverage``, ``assign``,
``map``): invalid, overlapping and duplicate geometries, mixed geometry types, empty
files, out-of-range and swapped coordinates, unsorted and repeated rows.

Whatever comes in, a command never ends in a traceback: it either gives a result whose
summary counts what it repaired or dropped, or refuses with an error that names the file
and the row or field."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import gis.cli  # noqa: F401  (registers the commands)
from gis.cli.app import app
from gis.errors import GridgisError, InvalidRows

runner = CliRunner()
LON0, LAT0 = 113.0, 28.0


def ring(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def feature(geom_type, coords, **props):
    geom = None if coords is None else {"type": geom_type, "coordinates": coords}
    return {"type": "Feature", "properties": props, "geometry": geom}


def boxes():
    return [feature("Polygon", [ring(LON0 + 0.01 * i, LAT0, LON0 + 0.01 * (i + 1), LAT0 + 0.01)],
                    code=f"G{i}") for i in range(3)]


GRIDS = {  # polygon layers as they come
    "valid": boxes(),
    "bowtie": boxes()[:2] + [feature("Polygon", [[[LON0 + 0.02, LAT0], [LON0 + 0.03, LAT0 + 0.01],
                                                  [LON0 + 0.03, LAT0], [LON0 + 0.02, LAT0 + 0.01],
                                                  [LON0 + 0.02, LAT0]]], code="G2")],
    "overlap": boxes() + [feature("Polygon", [ring(LON0 + 0.005, LAT0, LON0 + 0.015, LAT0 + 0.01)],
                                  code="G9")],
    "duplicate": boxes() + boxes()[:1],
    "mixed_types": boxes() + [feature("Point", [LON0 + 0.005, LAT0 + 0.005], code="P"),
                              feature("LineString", [[LON0, LAT0], [LON0 + 0.02, LAT0 + 0.01]],
                                      code="L")],
    "null_geometry": boxes() + [feature("Polygon", None, code="N")],
    "empty": [],
    "out_of_range": boxes()[:2] + [feature("Polygon", [ring(LON0, 400.0, LON0 + 0.01, 400.01)],
                                           code="G2")],
    "swapped": boxes()[:2] + [feature("Polygon", [ring(LAT0, LON0, LAT0 + 0.01, LON0 + 0.01)],
                                      code="G2")],
}


def fixes(n=240, seed=0):
    """Two workers walking inside the grids, a fix every 15 s."""
    rng = np.random.default_rng(seed)
    t = pd.date_range("2026-10-30 08:00", periods=n // 2, freq="15s")
    rows = []
    for w, lat in (("w1", LAT0 + 0.003), ("w2", LAT0 + 0.007)):
        lon = LON0 + 0.001 + np.cumsum(rng.uniform(0, 0.0002, len(t)))
        rows.append(pd.DataFrame({"worker": w, "time": t.strftime("%Y-%m-%d %H:%M:%S"),
                                  "lon": lon, "lat": lat, "type": "dome", "code": "G0"}))
    return pd.concat(rows, ignore_index=True)


def _odd_points():
    base = fixes()
    out = {"valid": base,
           "unsorted": base.sample(frac=1.0, random_state=1),
           "duplicated_rows": pd.concat([base, base.iloc[::7]]).sample(frac=1.0, random_state=2)}
    far = base.copy()
    far.loc[::9, "lat"] = 400.0
    out["out_of_range"] = far
    lon, lat = base["lon"].to_numpy().copy(), base["lat"].to_numpy().copy()
    lon[::11], lat[::11] = base["lat"].to_numpy()[::11], base["lon"].to_numpy()[::11]
    out["swapped"] = base.assign(lon=lon, lat=lat)
    text = base.astype({"lon": object, "time": object})
    text.loc[3, "lon"], text.loc[4, "time"], text.loc[5, "lon"] = "n/a", "yesterday", ""
    out["non_numeric"] = text
    return out


POINTS = _odd_points()
EMPTY_POINTS = {"zero_bytes": "", "header_only": "worker,time,lon,lat,type,code\n"}


def write_grids(tmp_path, name):
    path = tmp_path / f"grids_{name}.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": GRIDS[name]}))
    return path


def write_points(tmp_path, name):
    path = tmp_path / f"points_{name}.csv"
    if name in EMPTY_POINTS:
        path.write_text(EMPTY_POINTS[name])
    else:
        POINTS[name].to_csv(path, index=False)
    return path


def buildings(tmp_path):
    """Footprints with the usual faults: a duplicate, a building part inside its
    building, a bow-tie and a stray line."""
    feats = [feature("Polygon", [ring(LON0 + 0.004, LAT0 + 0.004, LON0 + 0.0045, LAT0 + 0.0045)]),
             feature("Polygon", [ring(LON0 + 0.004, LAT0 + 0.004, LON0 + 0.0045, LAT0 + 0.0045)]),
             feature("Polygon", [ring(LON0 + 0.0041, LAT0 + 0.0041, LON0 + 0.0043, LAT0 + 0.0043)]),
             feature("Polygon", [[[LON0 + 0.015, LAT0 + 0.005], [LON0 + 0.016, LAT0 + 0.006],
                                  [LON0 + 0.016, LAT0 + 0.005], [LON0 + 0.015, LAT0 + 0.006],
                                  [LON0 + 0.015, LAT0 + 0.005]]]),
             feature("LineString", [[LON0, LAT0], [LON0 + 0.001, LAT0 + 0.001]])]
    path = tmp_path / "buildings.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return path


def command(kind, tmp_path, grids, points):
    out = tmp_path / "out"
    if kind == "patrol":
        return ["patrol", "--tracks", points, "--grids", grids, "--grid-key", "code",
                "--out", f"{out}.csv"]
    if kind == "assign":
        return ["assign", points, "--grids", grids, "--grid-key", "code", "--check", "code",
                "--out", f"{out}.csv"]
    if kind == "coverage":
        return ["coverage", "--cameras", points, "--buildings", buildings(tmp_path), "--grids",
                grids, "--grid-key", "code", "--mode", "grid", "--out", f"{out}.gpkg"]
    return ["map", "--grids", grids, "--incidents", points, "--out", f"{out}.html"]


def check_outcome(res, files):
    """No traceback; a counted result, or an error naming the file and a row or field."""
    exc = res.exception
    if res.exit_code == 0:
        assert exc is None
        summary = json.loads(res.stdout.strip().splitlines()[-1])
        assert isinstance(summary, dict) and summary
        return summary
    assert isinstance(exc, GridgisError), f"traceback: {exc!r}"
    problems = exc.problems if isinstance(exc, InvalidRows) else [exc.problem]
    for p in problems:
        assert p.file and any(str(p.file).endswith(f.name) for f in files), str(exc)
        # a file with nothing in it has no row or field to name: it says it is empty
        assert p.row is not None or p.field is not None or "empty" in p.reason, str(exc)
    return None


COMMANDS = ("patrol", "assign", "coverage", "map")


@pytest.mark.parametrize("kind", COMMANDS)
@pytest.mark.parametrize("grids_case", sorted(GRIDS))
def test_odd_grids(tmp_path, kind, grids_case):
    grids, points = write_grids(tmp_path, grids_case), write_points(tmp_path, "valid")
    res = runner.invoke(app, [*map(str, command(kind, tmp_path, grids, points)), "--json"])
    summary = check_outcome(res, [grids, points, tmp_path / "buildings.geojson"])
    if grids_case in ("out_of_range", "swapped"):  # grids are imported, not cleaned
        assert summary is None and res.exception.problem.field == "geometry"
        assert res.exception.problem.row == 3


@pytest.mark.parametrize("kind", COMMANDS)
@pytest.mark.parametrize("points_case", sorted([*POINTS, *EMPTY_POINTS]))
def test_odd_points(tmp_path, kind, points_case):
    grids, points = write_grids(tmp_path, "valid"), write_points(tmp_path, points_case)
    res = runner.invoke(app, [*map(str, command(kind, tmp_path, grids, points)), "--json"])
    summary = check_outcome(res, [grids, points, tmp_path / "buildings.geojson"])
    if kind == "patrol" and summary is not None:
        lost = sum(summary["fixes_dropped"].values())
        assert summary["fixes_kept"] + lost == summary["fixes_read"]  # every fix accounted for
        if points_case == "out_of_range":
            assert summary["fixes_dropped"]["out_of_range"] == len(POINTS["out_of_range"][::9])
        if points_case in ("valid", "unsorted"):
            assert lost == 0 and summary["patrolled_share"] > 0
    if kind == "assign" and summary is not None and points_case in ("out_of_range", "swapped"):
        assert summary["out_of_range"] > 0


def test_unsorted_rows_change_nothing(tmp_path):
    grids = write_grids(tmp_path, "valid")
    outs = {}
    for case in ("valid", "unsorted"):
        points = write_points(tmp_path, case)
        res = runner.invoke(app, ["patrol", "--tracks", str(points), "--grids", str(grids),
                                  "--grid-key", "code", "--out", str(tmp_path / f"{case}.csv")])
        assert res.exit_code == 0, res.output
        outs[case] = pd.read_csv(tmp_path / f"{case}.csv")
    pd.testing.assert_frame_equal(outs["valid"], outs["unsorted"])
