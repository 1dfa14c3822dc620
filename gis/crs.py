"""Coordinate reference systems: parsing user input, Chinese web offsets, metric CRSs.

Stored geometry is EPSG:4326. Inputs may be any EPSG code (4490 CGCS2000, the
Gauss–Krüger zones 4513–4554, UTM...) or one of the two obfuscated "web offsets"
used by Chinese phone map SDKs:

* ``gcj02`` (国测局 "Mars" coordinates, AutoNavi/Tencent maps),
* ``bd09`` (Baidu maps, a further offset on top of GCJ-02).

GCJ-02 is a published, deterministic perturbation of WGS 84; the forward
direction is exact, and we invert it by fixed-point iteration to below
1e-9 degrees (about 0.1 mm), so the conversion error is that of the
public algorithm itself (a few decimetres against official data).

Lengths and areas are computed in a metric CRS chosen per area: the CGCS2000
3-degree Gauss–Krüger zone (central-meridian variant, EPSG:4534–4554) inside
China, UTM elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import CRS
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info

from gis.errors import InputError

WGS84 = CRS.from_epsg(4326)
OFFSETS = ("gcj02", "bd09")

_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0


@dataclass(frozen=True)
class SourceCRS:
    """What the user declared: a real CRS, or a web offset on top of WGS 84."""

    crs: CRS
    offset: str | None = None  # "gcj02" / "bd09" / None

    @property
    def label(self) -> str:
        if self.offset:
            return self.offset
        epsg = self.crs.to_epsg()
        return f"EPSG:{epsg}" if epsg else self.crs.to_string()


def parse_crs(text: str | int | CRS | None, *, default: CRS | None = None) -> SourceCRS | None:
    """Parse ``--crs`` style input: ``4490``, ``EPSG:4547``, ``gcj02``, ``bd09``, WKT, PROJ."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return SourceCRS(default) if default is not None else None
    if isinstance(text, CRS):
        return SourceCRS(text)
    key = str(text).strip().lower().replace("-", "").replace("_", "")
    if key in ("gcj02", "gcj", "mars"):
        return SourceCRS(WGS84, "gcj02")
    if key in ("bd09", "bd09ll", "baidu"):
        return SourceCRS(WGS84, "bd09")
    try:
        return SourceCRS(CRS.from_user_input(int(key) if key.isdigit() else str(text).strip()))
    except Exception as exc:  # pyproj raises CRSError with a long message
        raise InputError(f"unknown CRS {text!r} (use an EPSG code, gcj02 or bd09)",
                         field="crs") from exc


def out_of_china(lon, lat):
    """The rough box outside which GCJ-02 leaves coordinates unchanged (as the SDKs do)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _delta(lon, lat):
    x, y = lon - 105.0, lat - 35.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
            + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
            + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
            + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
            + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0)
    radlat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon, lat):
    """Forward GCJ-02 offset (vectorised); points outside China are returned unchanged."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlon, dlat = _delta(lon, lat)
    keep = out_of_china(lon, lat)
    return np.where(keep, lon, lon + dlon), np.where(keep, lat, lat + dlat)


def gcj02_to_wgs84(lon, lat, *, tol: float = 1e-10, max_iter: int = 30):
    """Inverse GCJ-02 by fixed-point iteration (the offset is smooth and small)."""
    glon = np.asarray(lon, dtype=float)
    glat = np.asarray(lat, dtype=float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(max_iter):
        flon, flat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = flon - glon, flat - glat
        wlon, wlat = wlon - elon, wlat - elat
        if np.nanmax(np.abs(np.concatenate([np.ravel(elon), np.ravel(elat)])), initial=0) < tol:
            break
    return wlon, wlat


def gcj02_to_bd09(lon, lat):
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon, lat, *, tol: float = 1e-10, max_iter: int = 30):
    """Inverse BD-09: the published closed form, refined by iteration on the forward form."""
    blon = np.asarray(lon, dtype=float)
    blat = np.asarray(lat, dtype=float)
    x, y = blon - 0.0065, blat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    glon, glat = z * np.cos(theta), z * np.sin(theta)
    for _ in range(max_iter):
        flon, flat = gcj02_to_bd09(glon, glat)
        elon, elat = flon - blon, flat - blat
        glon, glat = glon - elon, glat - elat
        if np.nanmax(np.abs(np.concatenate([np.ravel(elon), np.ravel(elat)])), initial=0) < tol:
            break
    return glon, glat


def bd09_to_wgs84(lon, lat):
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def wgs84_to_bd09(lon, lat):
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


_TO_WGS = {"gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}
_FROM_WGS = {"gcj02": wgs84_to_gcj02, "bd09": wgs84_to_bd09}


def _apply_to_coords(geoms, fn):
    """Run a vectorised (lon, lat) -> (lon, lat) function over every vertex."""

    def _apply(coords):
        lon, lat = fn(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(np.asarray(geoms, dtype=object), _apply)


def offset_to_wgs84(geoms, offset: str):
    """Remove a web offset from any shapely geometries (array in, array out)."""
    return _apply_to_coords(geoms, _TO_WGS[offset])


def wgs84_to_offset(geoms, offset: str):
    """Apply a web offset (for exporting to phone map SDKs)."""
    return _apply_to_coords(geoms, _FROM_WGS[offset])


def to_wgs84(gdf, source: SourceCRS | None = None):
    """Return ``gdf`` in EPSG:4326, applying a declared web offset if any.

    ``source`` overrides the file's own CRS (used when a file has none, or the user
    knows better, e.g. a CSV of GCJ-02 phone coordinates).
    """
    if source is not None:
        gdf = gdf.set_crs(source.crs, allow_override=True)
    if gdf.crs is None:
        raise InputError("the file declares no CRS; give one with --crs (e.g. 4326, 4490, gcj02)",
                         field="crs")
    out = gdf.to_crs(WGS84) if not CRS(gdf.crs).equals(WGS84) else gdf.copy()
    if source is not None and source.offset:
        out = out.set_geometry(offset_to_wgs84(out.geometry.values, source.offset), crs=WGS84)
    out.attrs["source_crs"] = source.label if source is not None else _label(gdf.crs)
    return out


def _label(crs) -> str:
    epsg = CRS(crs).to_epsg()
    return f"EPSG:{epsg}" if epsg else CRS(crs).to_string()


def gauss_kruger_epsg(lon: float) -> int:
    """CGCS2000 3-degree Gauss–Krüger zone, central-meridian variant (EPSG:4534–4554)."""
    cm = int(round(lon / 3.0) * 3)
    cm = min(max(cm, 75), 135)
    return 4534 + (cm - 75) // 3


def in_china(lon: float, lat: float) -> bool:
    return 73.0 <= lon <= 135.5 and 17.0 <= lat <= 54.0


def metric_crs(bounds) -> CRS:
    """A metric CRS for an area given as (minx, miny, maxx, maxy) in lon/lat."""
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    lon, lat = (minx + maxx) / 2.0, (miny + maxy) / 2.0
    if not np.isfinite([lon, lat]).all():
        raise InputError("cannot choose a metric CRS for empty geometry")
    if in_china(lon, lat):
        return CRS.from_epsg(gauss_kruger_epsg(lon))
    infos = query_utm_crs_info(datum_name="WGS 84",
                               area_of_interest=AreaOfInterest(lon, lat, lon, lat))
    return CRS.from_epsg(int(infos[0].code))


def metric_crs_for(gdf) -> CRS:
    """The metric CRS for a GeoDataFrame/GeoSeries in any CRS."""
    src = gdf.to_crs(WGS84) if gdf.crs is not None and not CRS(gdf.crs).equals(WGS84) else gdf
    return metric_crs(src.total_bounds)


def check_lonlat(lon, lat):
    """Indices of coordinates outside the valid lon/lat range (an input error, not a drop)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    return np.flatnonzero(~((np.abs(lon) <= 180.0) & (np.abs(lat) <= 90.0)))


def output_crs(out_crs: str | None, source_label: str | None) -> SourceCRS:
    """The CRS a file output is written in: ``--out-crs`` when given, else the input's
    own (``attrs["source_crs"]`` of what :func:`to_wgs84` read), else EPSG:4326."""
    try:
        chosen = parse_crs(out_crs)
    except InputError as exc:
        raise InputError(exc.problem.reason, field="out-crs") from exc
    return chosen or parse_crs(source_label) or SourceCRS(WGS84)


def from_wgs84(gdf, target: SourceCRS):
    """``gdf`` (EPSG:4326) in ``target``: a real CRS, or WGS 84 with a web offset applied
    (written as EPSG:4326, as the phone map SDKs expect)."""
    out = gdf if target.crs.equals(WGS84) else gdf.to_crs(target.crs)
    if target.offset:
        out = out.set_geometry(wgs84_to_offset(out.geometry.values, target.offset), crs=WGS84)
    return out
