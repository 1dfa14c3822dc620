"""Broken files for every importable layer: truncated, random bytes, empty, wrong CRS,
self-intersecting, huge coordinates, NaN/inf, wrong types, duplicated keys (in the data
and in the JSON text), missing required columns.

Whatever arrives, the importer either refuses with a gridgis error (naming the file)
and leaves every table exactly as it was, or — only where a repair is legitimate
(self-intersecting rings, duplicated JSON keys) — loads rows whose geometry is valid.
Any other exception is a crash and fails the test."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from conftest import TABLES
from gis.errors import GridgisError
from gis.services.imports import import_file
from roles_fixtures import COMM1, COUNTY, TOWN1

CX, CY = 113.005, 28.005  # inside community 1
BOX = [[113.004, 28.004], [113.006, 28.004], [113.006, 28.006], [113.004, 28.006],
       [113.004, 28.004]]
BOWTIE = [[113.004, 28.004], [113.006, 28.006], [113.006, 28.004], [113.004, 28.006],
          [113.004, 28.004]]
LINE = [[113.001, 28.005], [113.009, 28.005]]
SQUARE = lambda x0, y0, x1, y1: [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]  # noqa


@dataclass
class Spec:
    """A layer's valid rows (properties + geometry) and how it is written."""

    kind: str                      # "geojson" or "csv"
    rows: list[dict]
    geometry: str | None = None    # Polygon / LineString / Point (geojson)
    coords: list | None = None
    key: str | None = None         # a unique key (duplicated in one case)
    typed: str | None = None       # a numeric or time field (wrong type in one case)
    required: str | None = None


SPECS = {
    "admin_units": Spec("geojson", [{"code": "430102001009", "name": "new community"}],
                        "Polygon", SQUARE(113.0, 28.009, 113.001, 28.01), key="code",
                        typed="households", required="name"),
    "buildings": Spec("geojson", [{"households": 12, "floors": 3, "community_code": COMM1}],
                      "Polygon", BOX, typed="floors", required=None),
    "address_points": Spec("csv", [{"lon": CX, "lat": CY, "households": 2,
                                    "community_code": COMM1}], typed="households"),
    "roads": Spec("geojson", [{"class": "primary", "name": "Main"}], "LineString", LINE,
                  required=None),
    "grids": Spec("geojson", [{"code": COMM1 + "0001", "community_code": COMM1,
                               "households": 300}], "Polygon",
                  SQUARE(113.0, 28.0, 113.01, 28.01), typed="households",
                  required="community_code"),
    "grid_staff": Spec("csv", [{"name": "Li", "role": "grid_leader",
                                "grid_code": COMM1 + "0001"}], required="role"),
    "key_places": Spec("geojson", [{"name": "School", "kind": "school"}], "Polygon", BOX,
                       required="kind"),
    "incidents": Spec("csv", [{"lon": CX, "lat": CY, "category": "dispute",
                               "reported_at": "2025-03-01T08:00:00+08:00",
                               "external_id": "E-1"}], key="external_id", typed="reported_at",
                      required="category"),
    "cameras": Spec("csv", [{"lon": CX, "lat": CY, "type": "dome", "code": "C-1",
                             "azimuth": 90}], key="code", typed="azimuth", required="type"),
    "patrol_points": Spec("csv", [{"lon": CX, "lat": CY, "worker": "w1",
                                   "time": "2025-03-01T08:00:00+08:00"}], typed="time",
                          required="worker"),
}
MAY_SUCCEED = {"self-intersecting", "duplicated JSON keys"}


def _geojson(spec: Spec, rows: list[dict], coords=None, crs: str | None = None,
             geometry: str | None = None) -> str:
    feats = [{"type": "Feature", "properties": r,
              "geometry": {"type": geometry or spec.geometry,
                           "coordinates": _wrap(geometry or spec.geometry,
                                                coords or spec.coords)}} for r in rows]
    doc = {"type": "FeatureCollection", "features": feats}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    return json.dumps(doc)


def _wrap(geometry: str, coords):
    return [coords] if geometry == "Polygon" else coords


def _csv(rows: list[dict]) -> str:
    cols = list(dict.fromkeys(k for r in rows for k in r))
    lines = [",".join(cols)] + [",".join(str(r.get(c, "")) for c in cols) for r in rows]
    return "\n".join(lines) + "\n"


def _valid(spec: Spec) -> str:
    return _geojson(spec, spec.rows) if spec.kind == "geojson" else _csv(spec.rows)


def _with(spec: Spec, **changes) -> list[dict]:
    return [{**spec.rows[0], **changes}]


def cases(layer: str) -> dict[str, str | bytes]:
    """Broken variants of the layer's valid file: name -> content."""
    spec = SPECS[layer]
    valid = _valid(spec)
    rng = random.Random(layer)
    out: dict[str, str | bytes] = {
        "truncated": valid[: len(valid) * 3 // 5],
        "random bytes": bytes(rng.randrange(256) for _ in range(3000)),
        "empty": "",
        "whitespace only": "   \n\n",
    }
    if spec.required:
        out["missing required column"] = _geojson(spec, [
            {k: v for k, v in spec.rows[0].items() if k != spec.required}]) \
            if spec.kind == "geojson" else _csv([{k: v for k, v in spec.rows[0].items()
                                                  if k != spec.required}])
    if spec.typed:
        out["wrong type"] = _geojson(spec, _with(spec, **{spec.typed: "many"})) \
            if spec.kind == "geojson" else _csv(_with(spec, **{spec.typed: "many"}))
    if spec.key:
        out["duplicated key"] = _geojson(spec, spec.rows * 2) if spec.kind == "geojson" \
            else _csv(spec.rows * 2)
    if spec.kind == "csv" and "lon" in spec.rows[0]:
        out.update({
            "huge coordinates": _csv(_with(spec, lon=1e300, lat=-1e300)),
            "NaN coordinates": _csv(_with(spec, lon="nan", lat="nan")),
            "inf coordinates": _csv(_with(spec, lon="inf", lat="-inf")),
            "text coordinates": _csv(_with(spec, lon="east", lat="north")),
            "projected metres declared as degrees": _csv(_with(spec, lon=38_500_000.0,
                                                               lat=3_100_000.0)),
            "empty with header": _csv([]) or ",".join(spec.rows[0]) + "\n",
        })
    if spec.kind == "geojson":
        big = [[x * 1e300, y * 1e300] for x, y in spec.coords]
        metres = [[38_500_000.0 + x * 1e3, 3_100_000.0 + y * 1e3] for x, y in spec.coords]
        nan = [[float("nan"), float("nan")] for _ in spec.coords]
        out.update({
            "huge coordinates": _geojson(spec, spec.rows, big),
            "NaN coordinates": _geojson(spec, spec.rows, nan),
            "projected metres declared as degrees": _geojson(
                spec, spec.rows, metres, crs="urn:ogc:def:crs:OGC:1.3:CRS84"),
            "unknown CRS": _geojson(spec, spec.rows, crs="EPSG:999999"),
            "no features": json.dumps({"type": "FeatureCollection", "features": []}),
            "not GeoJSON": json.dumps({"hello": [1, 2, 3]}),
            "duplicated JSON keys": _valid(spec).replace(
                '"properties": {', '"properties": {"name": "first", ', 1),
        })
        if spec.geometry == "Polygon":
            out["self-intersecting"] = _geojson(spec, spec.rows, BOWTIE)
            if layer != "key_places":
                out["wrong geometry type"] = _geojson(spec, spec.rows, [CX, CY],
                                                      geometry="Point")
        elif layer != "key_places":  # key places may be points, lines or areas
            out["wrong geometry type"] = _geojson(spec, spec.rows, SQUARE(113.0, 28.0, 113.001,
                                                                          28.001),
                                                  geometry="Polygon")
    return out


def _counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.strip(): conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                for t in TABLES.split(",")}


def _invalid_geometries(engine, table: str) -> int:
    with engine.connect() as conn:
        if not conn.execute(text("SELECT count(*) FROM information_schema.columns WHERE "
                                 "table_name = :t AND column_name = 'geom'"), {"t": table}
                            ).scalar():
            return 0
        return conn.execute(text(f"SELECT count(*) FROM {table} WHERE NOT ST_IsValid(geom)")
                            ).scalar()


@pytest.fixture
def base(db, tmp_path):
    """The admin units and a grid (references for every layer), loaded through the
    importer itself."""
    from shapely.geometry import box

    import geopandas as gpd

    units = gpd.GeoDataFrame({"code": [COUNTY, TOWN1, COMM1], "name": ["c", "t", "m"]},
                             geometry=[box(113.0, 28.0, 113.03, 28.01),
                                       box(113.0, 28.0, 113.02, 28.01),
                                       box(113.0, 28.0, 113.01, 28.01)], crs=4326)
    units.to_file(tmp_path / "units.geojson")
    import_file(db, "admin_units", tmp_path / "units.geojson")
    (tmp_path / "grid.geojson").write_text(_valid(SPECS["grids"]))
    import_file(db, "grids", tmp_path / "grid.geojson")
    return db


@pytest.mark.parametrize("layer", list(SPECS))
def test_broken_files_are_refused_whole_or_repaired(base, tmp_path, layer):
    spec = SPECS[layer]
    suffix = ".geojson" if spec.kind == "geojson" else ".csv"
    ok = tmp_path / f"valid{suffix}"
    ok.write_text(_valid(spec))
    if layer != "grids":  # the grid is in the base already (its code is unique)
        assert import_file(base, layer, ok).rows_loaded == 1  # the baseline itself loads
    crashes, half_written, wrongly_accepted = [], [], []
    for name, content in cases(layer).items():
        path = tmp_path / f"{name.replace(' ', '_')}{suffix}"
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        before = _counts(base)
        try:
            report = import_file(base, layer, path)
        except GridgisError as exc:
            assert str(path) in str(exc) or path.name in str(exc), (name, str(exc))
            if _counts(base) != before:
                half_written.append(name)
            continue
        except Exception as exc:  # noqa: BLE001 - anything else is a crash
            crashes.append(f"{name}: {type(exc).__name__}: {exc}")
            continue
        if name not in MAY_SUCCEED and report.rows_loaded > 0:
            wrongly_accepted.append(f"{name}: loaded {report.rows_loaded}")
        if _invalid_geometries(base, layer):
            wrongly_accepted.append(f"{name}: invalid geometry stored")
    assert not crashes, crashes
    assert not half_written, half_written
    assert not wrongly_accepted, wrongly_accepted
