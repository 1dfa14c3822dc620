"""The assessment's files as they come: any vector format or CSV, odd column names
mapped (``SOURCE=TARGET``), CSV coordinates in any CRS (EPSG code, ``gcj02``, ``bd09``),
missing values left for the cleaning to count, rows in any order.

Text cells are read as text (a household reference ``007`` stays ``007``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa

from gis.crs import WGS84, SourceCRS, parse_crs
from gis.errors import InputError
from gis.io import CSV_SUFFIXES, LAT_NAMES, LON_NAMES, apply_mapping, read_layer
from gis.patrol.fixes import Fixes
from gis.patrol.spill import block_table
from gis.patrol.tracks import Columns, _coords, _missing_columns, csv_batches, read_tracks


def _is_csv(path: Path) -> bool:
    return path.suffix.lower() in CSV_SUFFIXES


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise InputError("file not found", file=str(path))
    try:
        return pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",", dtype=str,
                           keep_default_na=False, na_values=[""], encoding_errors="replace")
    except pd.errors.EmptyDataError as exc:
        raise InputError("the file is empty", file=str(path)) from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"cannot parse CSV: {exc}", file=str(path)) from exc


def read_table(path: str | Path, rename: Mapping[str, str] | None = None) -> pd.DataFrame:
    """An attribute table (staff, roster): CSV, or any vector file's attributes."""
    path = Path(path)
    if _is_csv(path):
        return apply_mapping(_read_csv(path), rename, str(path))
    gdf = read_layer(path, rename=rename)
    return pd.DataFrame(gdf.drop(columns=gdf.geometry.name))


def read_points(path: str | Path, rename: Mapping[str, str] | None = None,
                crs=None) -> pd.DataFrame:
    """Incidents, visits, key households: a vector file (its points, converted to WGS 84),
    or a CSV whose ``lon``/``lat`` columns (or common names for them) are converted
    from ``crs``; a CSV without coordinate columns is read as it is (e.g. visits
    naming their building)."""
    path = Path(path)
    if not _is_csv(path):
        return read_layer(path, rename=rename)  # a vector file declares its own CRS
    df = apply_mapping(_read_csv(path), rename, str(path))
    lon_c, lat_c = _coordinate_columns(df.columns)
    if lon_c is None or lat_c is None:
        return df
    source = parse_crs(crs) or SourceCRS(WGS84)
    lon = pd.to_numeric(df[lon_c], errors="coerce").to_numpy(float)
    lat = pd.to_numeric(df[lat_c], errors="coerce").to_numpy(float)
    # (0, 0) is an unknown position in exports, not a point off Africa
    zero = (lon == 0) & (lat == 0)
    lon, lat = np.where(zero, np.nan, lon), np.where(zero, np.nan, lat)
    lon, lat = _coords(lon, lat, Columns(lon=lon_c, lat=lat_c), source, str(path), 1)
    return df.drop(columns=[lon_c, lat_c]).assign(lon=lon, lat=lat)


def _coordinate_columns(columns) -> tuple[str | None, str | None]:
    lower = {str(c).strip().lower(): c for c in columns}
    lon = next((lower[n] for n in LON_NAMES if n in lower), None)
    lat = next((lower[n] for n in LAT_NAMES if n in lower), None)
    return lon, lat


def read_fixes(path: str | Path, cols: Columns = Columns(), *, crs=None, tz: str,
               advance=None) -> Fixes:
    """GPS fixes as column arrays: a CSV streamed in blocks straight into Arrow (no
    per-row Python objects, so a county month of fixes fits in memory), other formats
    through :func:`gis.patrol.tracks.read_tracks`."""
    path = Path(path)
    if not _is_csv(path):
        return Fixes.from_frame(read_tracks(path, cols, crs=crs, tz=tz))
    if not path.exists():
        raise InputError("file not found", file=str(path))
    _missing_columns(path, cols)
    source = parse_crs(crs) or SourceCRS(WGS84)
    blocks = []
    for first, batch in csv_batches(path, cols):
        blocks.append(block_table(batch, cols, source, tz, str(path), first))
        if advance:
            advance(batch.num_rows)
    if not blocks:
        return Fixes.from_columns(pa.array([], pa.string()), [], [], [], [], [])
    return Fixes.from_arrow(pa.concat_tables(blocks))
