"""Reading the grid polygons of ``gridgis assign``.

A GeoPackage holding one feature table is read directly with SQLite (the standard
library) and Shapely: its geometry blobs are a small header followed by plain WKB. That
avoids importing pyogrio, which imports geopandas and pandas, about a second of start-up
that the CSV path otherwise never needs. Every other case (other formats, several layers,
an undefined CRS, a CRS given with ``--grids-crs``) goes through :func:`gis.io.read_layer`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS, Transformer

from gis.assign.index import _project
from gis.crs import WGS84, check_lonlat
from gis.errors import InputError

# Envelope sizes in bytes by the header's envelope indicator (GeoPackage spec, 2.1.3).
_ENVELOPE = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def read_grids(path: str | Path, key: str, crs=None, layer: str | None = None
               ) -> tuple[np.ndarray, np.ndarray, CRS]:
    """Grid polygons, their keys and their CRS from a vector file.

    Parameters
    ----------
    path : GeoPackage, GeoJSON, Shapefile, FlatGeobuf, GeoParquet...
    key : the field holding the grid key.
    crs : overrides the file's CRS (as ``--grids-crs``: EPSG code, ``gcj02``, ``bd09``).
    layer : the layer of a multi-layer file (``path`` may also be ``file.gpkg:layer``).

    Returns
    -------
    geometries (object array), keys (object array), CRS of the geometries.
    """
    path = Path(path)
    if not path.exists() or layer is not None:
        from gis.io import split_layer_path

        path, layer = split_layer_path(path, layer)
    if not path.exists():
        raise InputError("file not found", file=str(path))
    if crs is None and layer is None and path.suffix.lower() == ".gpkg":
        found = _read_gpkg(path, key)
        if found is not None:
            return found
    from gis.io import read_layer

    frame = read_layer(path, crs=crs, layer=layer)
    if key not in frame.columns:
        raise InputError(f"no grid key column {key!r} (columns: "
                         f"{', '.join(map(str, frame.columns))})", file=str(path), field=key)
    return frame.geometry.to_numpy(), frame[key].to_numpy(dtype=object), WGS84


def _read_gpkg(path: Path, key: str):
    """The one feature table of a GeoPackage, or None when the general reader must decide."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error:
        return None
    try:
        tables = con.execute(
            "SELECT c.table_name, g.column_name, s.organization, s.organization_coordsys_id,"
            " s.definition FROM gpkg_contents c JOIN gpkg_geometry_columns g"
            " ON g.table_name = c.table_name JOIN gpkg_spatial_ref_sys s ON s.srs_id = g.srs_id"
            " WHERE c.data_type = 'features'").fetchall()
        if len(tables) != 1:
            return None
        table, column, org, org_id, definition = tables[0]
        crs = _crs_of(org, org_id, definition)
        if crs is None:
            return None  # undefined: the general reader guesses lon/lat or asks for --crs
        names = [r[1] for r in con.execute(f"PRAGMA table_info({_quote(table)})")]
        if key not in names or key == column:
            shown = [n for n in names if n not in (column, "fid")]
            raise InputError(f"no grid key column {key!r} (columns: {', '.join(shown)})",
                             file=str(path), field=key)
        rows = con.execute(f"SELECT {_quote(key)}, {_quote(column)} FROM {_quote(table)}"
                           " ORDER BY rowid").fetchall()
    except sqlite3.Error:
        return None
    finally:
        con.close()
    keys = np.empty(len(rows), dtype=object)
    keys[:] = [r[0] for r in rows]
    geoms = _decode([r[1] for r in rows], path)
    if not crs.equals(WGS84):
        geoms = _project(geoms, Transformer.from_crs(crs, WGS84, always_xy=True))
    _check_range(geoms, path)
    return geoms, keys, WGS84


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _crs_of(org, org_id, definition) -> CRS | None:
    if org_id is not None and org_id <= 0:
        return None  # -1 undefined Cartesian, 0 undefined geographic
    if org and str(org).upper() == "EPSG" and org_id:
        return CRS.from_epsg(int(org_id))
    if definition and definition.strip().lower() != "undefined":
        return CRS.from_user_input(definition)
    return None


def _decode(blobs: list, path: Path) -> np.ndarray:
    """Shapely geometries of GeoPackage geometry blobs (None for missing or empty ones)."""
    wkb = np.full(len(blobs), None, dtype=object)
    for i, blob in enumerate(blobs):
        if blob is None:
            continue
        if blob[:2] != b"GP":
            raise InputError("not a GeoPackage geometry", file=str(path), row=i + 1,
                             field="geometry")
        flags = blob[3]
        if flags & 0x10:  # the empty-geometry flag
            continue
        wkb[i] = bytes(blob[8 + _ENVELOPE.get((flags >> 1) & 7, 0):])
    try:
        return shapely.from_wkb(wkb)
    except shapely.errors.GEOSException as exc:
        raise InputError(f"cannot read a geometry: {exc}", file=str(path),
                         field="geometry") from exc


def _check_range(geoms: np.ndarray, path: Path) -> None:
    """Lon/lat in range after conversion (as :func:`gis.io.read_layer` checks)."""
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    b = shapely.bounds(geoms[present])
    bad = np.unique(np.concatenate([check_lonlat(b[:, 0], b[:, 1]),
                                    check_lonlat(b[:, 2], b[:, 3])]))
    if len(bad):
        row = int(np.flatnonzero(present)[bad[0]]) + 1
        raise InputError("coordinates out of range after conversion to lon/lat "
                         "(wrong CRS?)", file=str(path), row=row, field="geometry")
