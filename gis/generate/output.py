"""Writing a generated district to a directory: one GeoPackage per layer, the patrol
fixes as CSV, and ``manifest.json``. Every file is written atomically, and GeoPackage
timestamps are pinned so that the same seed gives byte-identical files."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio

from gis import csvsafe
from gis.generate.district import GENERATOR_VERSION, LAYERS, District
from gis.generate.incidents import END
from gis.io import write_layer

# GeoPackages record a last-change time; pin it to the data's end date.
PINNED_DATE = "2026-10-31T00:00:00.000Z"
CSV_CHUNK = 500_000


@contextmanager
def _pinned_gdal_date():
    old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": PINNED_DATE})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})


def write_district(district: District, out_dir: str | Path, *,
                   boundaries_dir: str | Path | None = None) -> dict[str, Path]:
    """Write every layer of ``district`` to ``out_dir`` (see the file contract in the
    README of ``gridgis generate``); return the paths written by layer name.

    Examples
    --------
    >>> write_district(generate_district(5000, 1), "demo")  # writes files  # doctest: +SKIP
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    with _pinned_gdal_date():
        for name in LAYERS:
            paths[name] = write_layer(getattr(district, name), out / f"{name}.gpkg")
        if boundaries_dir is not None:
            paths["boundaries"] = write_layer(district.admin_units,
                                              Path(boundaries_dir) / "admin_units.geojson")
    paths["patrol_points"] = write_patrol_csv(district.patrol_points, out / "patrol_points.csv")
    paths["workers"] = _atomic_text(out / "workers.csv", csvsafe.csv_text(district.workers))
    paths["manifest"] = _atomic_text(out / "manifest.json",
                                     json.dumps(manifest(district), ensure_ascii=False,
                                                indent=2) + "\n")
    return paths


def iso_local(times: pd.Series) -> np.ndarray:
    """tz-aware times -> ``2026-10-31T08:30:00+08:00`` strings (vectorised)."""
    local = times.dt.tz_convert(END.tzinfo).dt.tz_localize(None).to_numpy("datetime64[s]")
    return np.char.add(np.datetime_as_string(local, unit="s").astype(str), "+08:00")


def write_patrol_csv(points: pd.DataFrame, path: Path) -> Path:
    """worker,time,lon,lat in chunks (bounded memory), moved into place when complete."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write("worker,time,lon,lat\n")
            for lo in range(0, len(points), CSV_CHUNK):
                chunk = points.iloc[lo:lo + CSV_CHUNK]
                pd.DataFrame({"worker": chunk["worker"].to_numpy(),
                              "time": iso_local(chunk["time"]),
                              "lon": chunk["lon"].to_numpy(), "lat": chunk["lat"].to_numpy()}
                             ).to_csv(fh, header=False, index=False, lineterminator="\n")
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; these are ordinary data files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _atomic_text(path: Path, text: str) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


def manifest(district: District) -> dict:
    """What was generated: seed, options, counts, bounds and the metric CRS."""
    minx, miny, maxx, maxy = (round(float(v), 6) for v in district.admin_units.total_bounds)
    bld = district.buildings
    return {
        "generator": "gridgis.generate", "generator_version": GENERATOR_VERSION,
        "seed": district.seed, "households": district.households,
        "options": district.options, "end_date": "2026-10-31",
        "crs": "EPSG:4326", "metric_epsg": district.metric_epsg,
        "bounds": [minx, miny, maxx, maxy],
        "counts": district.counts(),
        "households_in_buildings": int(bld["households"].sum()),
        "households_in_address_points": int(district.address_points["households"].sum()),
        "notes": "households = buildings (town, public) + address points (one per rural "
                 "house); blocks.households counts both",
    }
