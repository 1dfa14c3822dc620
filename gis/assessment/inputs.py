"""Bringing the assessment's tables into one shape, leniently: a cleaning step never
aborts the run for one bad row (see the design notes); it drops the row and counts it
under a reason, and the caller says so.

Every normaliser returns ``(frame, dropped)``; positions are WGS 84 ``lon``/``lat``
(NaN when absent), times int64 UTC nanoseconds, text stripped (``None`` when empty).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.crs import WGS84
from gis.errors import InputError
from gis.patrol.fixes import NAT

_TZ_SUFFIX = r"(?:Z|[+-]\d\d:?\d\d)\s*$"
TRUE_WORDS = {"1", "true", "t", "yes", "y"}
INVALID_STATUSES = {"returned", "merged", "invalid", "duplicate"}


def text(values: pd.Series) -> pd.Series:
    """Stripped strings, ``None`` for missing or empty (numbers keep no '.0')."""
    s = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_float_dtype(s) and (s.dropna() % 1 == 0).all():
        s = s.astype("Int64")
    out = s.astype("string").str.strip()
    keep = (out.notna() & (out != "")).to_numpy(dtype=bool, na_value=False)
    return pd.Series(np.where(keep, out.astype(object), None), index=out.index, dtype=object)


def times(values: pd.Series, tz: str) -> np.ndarray:
    """UTC nanoseconds; text without an offset is local time in ``tz``, numbers are epoch
    seconds (milliseconds above 1e11); unreadable or empty → NAT."""
    s = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(s):
        aware = s.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT") if s.dt.tz is None else s
        return _ns(aware.dt.tz_convert("UTC"))
    if pd.api.types.is_numeric_dtype(s):
        num = s.astype(float)
        unit = "ms" if np.nanmax(np.abs(num.to_numpy()), initial=0) > 1e11 else "s"
        return _ns(pd.to_datetime(num, unit=unit, utc=True, errors="coerce"))
    t = s.astype("string").str.strip()
    has_offset = t.str.contains(_TZ_SUFFIX, regex=True).fillna(False).to_numpy(bool)
    out = np.full(len(s), NAT, dtype=np.int64)
    if has_offset.any():
        out[has_offset] = _ns(pd.to_datetime(t[has_offset], utc=True, errors="coerce",
                                              format="mixed"))
    naive = ~has_offset & t.notna().to_numpy(bool)
    if naive.any():
        local = pd.to_datetime(t[naive], errors="coerce", format="mixed")
        out[naive] = _ns(local.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
                         .dt.tz_convert("UTC"))
    return out


def _ns(s: pd.Series) -> np.ndarray:
    return np.asarray(pd.DatetimeIndex(s).as_unit("ns").asi8, dtype=np.int64)


def lonlat(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Positions of a GeoDataFrame's points (converted to WGS 84), else of its ``lon``/
    ``lat`` columns (taken as WGS 84); NaN where there is none."""
    n = len(df)
    geo = df.geometry if isinstance(df, gpd.GeoDataFrame) and df.geometry.name in df else None
    if geo is not None and not shapely.is_missing(geo.to_numpy()).all():
        if geo.crs is not None and not geo.crs.equals(WGS84):
            geo = geo.to_crs(WGS84)
        g = geo.to_numpy()
        empty = shapely.is_missing(g) | shapely.is_empty(g)
        pts = shapely.point_on_surface(np.where(empty, None, g))  # a footprint → a point inside
        return (np.where(empty, np.nan, shapely.get_x(pts)).astype(float),
                np.where(empty, np.nan, shapely.get_y(pts)).astype(float))
    if "lon" in df and "lat" in df:
        return _floats(df["lon"]), _floats(df["lat"])
    return np.full(n, np.nan), np.full(n, np.nan)


def _floats(s: pd.Series) -> np.ndarray:
    return pd.to_numeric(pd.Series(s), errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def truthy(values: pd.Series) -> np.ndarray:
    """A flag column: booleans, 1/0, yes/no...; any other non-empty text (an id, as in
    ``merged_into``) is true."""
    s = text(values)
    low = s.map(lambda v: v.lower() if isinstance(v, str) else v)
    return (low.notna() & ~low.isin({"0", "false", "f", "no", "n", "none", "nan"})).to_numpy(bool)


def require(df: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"{what} need column(s) {', '.join(missing)} (columns: "
                         f"{', '.join(map(str, df.columns))})", field=missing[0])


def staff_table(staff: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """``worker, grid`` pairs, each once."""
    require(staff, ("worker", "grid"), "staff")
    out = pd.DataFrame({"worker": text(staff["worker"]), "grid": text(staff["grid"])})
    bad = out["worker"].isna() | out["grid"].isna()
    return out[~bad].drop_duplicates().reset_index(drop=True), {"missing": int(bad.sum())}


def incident_table(incidents: pd.DataFrame, tz: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """``id, category, subcategory, reported_at, reporter, lon, lat, valid``.

    ``valid`` is false for a report returned as invalid or merged as a duplicate: a
    ``status`` of returned/merged, or a true ``returned`` / ``merged`` / ``merged_into``
    column."""
    require(incidents, ("category", "reported_at"), "incidents")
    n = len(incidents)
    lon, lat = lonlat(incidents)
    col = lambda name: text(incidents[name]) if name in incidents else pd.Series([None] * n, dtype=object)  # noqa: E731
    out = pd.DataFrame({
        "id": col("id").fillna(pd.Series([f"row {i + 1}" for i in range(n)], dtype=object)),
        "category": col("category"), "subcategory": col("subcategory"),
        "reported_at": times(incidents["reported_at"], tz), "reporter": col("reporter"),
        "lon": lon, "lat": lat})
    invalid = np.zeros(n, bool)
    if "status" in incidents:
        invalid |= col("status").str.lower().isin(INVALID_STATUSES).to_numpy(bool)
    for flag in ("returned", "merged", "merged_into"):
        if flag in incidents:
            invalid |= truthy(incidents[flag])
    out["valid"] = ~invalid
    bad_time = out["reported_at"].to_numpy() == NAT
    dropped = {"missing_category": int(out["category"].isna().sum()),
               "bad_time": int((bad_time & out["category"].notna()).sum()),
               # kept: still a report by its reporter, but never a case in a grid
               "no_position_kept_as_report": int((np.isnan(lon) | np.isnan(lat)).sum())}
    return out[out["category"].notna() & ~bad_time].reset_index(drop=True), dropped


def visit_table(visits: pd.DataFrame, tz: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """``worker, t, household, building, lon, lat`` (household/building may be None)."""
    require(visits, ("worker", "time"), "visits")
    n = len(visits)
    lon, lat = lonlat(visits)
    out = pd.DataFrame({
        "worker": text(visits["worker"]), "t": times(visits["time"], tz),
        "household": text(visits["household"]) if "household" in visits else [None] * n,
        "building": text(visits["building"]) if "building" in visits else [None] * n,
        "lon": lon, "lat": lat})
    missing = out["worker"].isna()
    bad_time = ~missing & (out["t"] == NAT)
    nowhere = ~missing & ~bad_time & out["household"].isna() & out["building"].isna() & \
        (np.isnan(lon) | np.isnan(lat))
    keep = ~(missing | bad_time | nowhere)
    return out[keep].reset_index(drop=True), {
        "missing": int(missing.sum()), "bad_time": int(bad_time.sum()),
        "no_household_building_or_position": int(nowhere.sum())}


def key_household_table(key_households: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """``household, kind, building, lon, lat``; each household once (its first row)."""
    require(key_households, ("household",), "key households")
    n = len(key_households)
    lon, lat = lonlat(key_households)
    out = pd.DataFrame({
        "household": text(key_households["household"]),
        "kind": text(key_households["kind"]) if "kind" in key_households else [None] * n,
        "building": text(key_households["building"]) if "building" in key_households else [None] * n,
        "lon": lon, "lat": lat})
    missing = out["household"].isna()
    dup = ~missing & out["household"].duplicated()
    return out[~missing & ~dup].reset_index(drop=True), {"missing": int(missing.sum()),
                                                         "duplicate": int(dup.sum())}
