"""The camera model: normalise camera records as they come from real files.

Files name the fields ``type``, ``status``, ``azimuth`` (degrees clockwise from north),
``fov`` (horizontal field of view, degrees), ``range`` (metres) and ``height`` (metres);
other names are mapped with ``mapping={"FOV_DEG": "fov"}``. Missing values are filled
from :data:`gis.vocabulary.CAMERA_DEFAULTS` by camera type, and the result says which
defaults it used (``attrs["defaults_used"]``), so an analyst knows how much of the
coverage rests on assumed figures rather than surveyed ones.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.errors import InvalidRows, RowProblem
from gis.vocabulary import CAMERA_DEFAULTS, CAMERA_STATUSES, CAMERA_TYPES

FIELDS = ("type", "status", "azimuth", "fov", "range", "height")
# A record without a type is treated as the most common street camera class.
FALLBACK_TYPE = "xueliang_b"
OMNI_TYPES = ("dome", "ptz")  # domes and PTZ cameras turn: their view is 360°
_STATUS_WORDS = {"online": "online", "on": "online", "1": "online", "true": "online",
                 "在线": "online", "正常": "online", "offline": "offline", "off": "offline",
                 "0": "offline", "false": "offline", "离线": "offline", "故障": "offline"}
_NUMERIC = ("azimuth", "fov", "range", "height")
_DEFAULT_COLUMN = {"fov": 0, "range": 1, "height": 2}


def normalize_cameras(cameras: gpd.GeoDataFrame, mapping: Mapping[str, str] | None = None, *,
                      file: str | None = None) -> gpd.GeoDataFrame:
    """Return cameras with clean ``type``, ``status``, ``azimuth``, ``fov``, ``range``, ``height``.

    Parameters
    ----------
    cameras : point GeoDataFrame (any CRS).
    mapping : source column name -> gridgis field name, applied first.
    file : file name used in error messages.

    Returns
    -------
    GeoDataFrame with the six fields filled, a ``defaults`` column naming the fields
    each row got by default (``"fov,range"``), and ``attrs["defaults_used"]``, a dict
    ``{"fov": {"xueliang_b": 12}, "status": {"dome": 3}}`` counting them by type.
    Domes and PTZ cameras get a 360° field of view; a directional camera without an
    azimuth becomes a 360° disc of the same area as its sector (range × √(fov/360)) and
    is counted under ``"azimuth"``.

    Raises
    ------
    InvalidRows : naming each row and field that is unusable (unknown type or
        status, non-numeric or negative figures, non-point geometry).

    Examples
    --------
    Cameras without a field of view and with the range under another name (the names
    are one community of ``generate_district(2000, seed=1)``: see tests/test_doctests.py):

    >>> raw = cameras.drop(columns=["fov"]).rename(columns={"range": "RANGE_M"})
    >>> cams = normalize_cameras(raw, {"RANGE_M": "range"})
    >>> cams.attrs["defaults_used"]["fov"]["dome"], bool(cams["fov"].notna().all())
    (4, True)
    """
    df = cameras.rename(columns=dict(mapping or {})).copy()
    problems: list[RowProblem] = []
    used: dict = {}  # field -> boolean mask of rows that got a default
    _check_points(df, problems, file)
    df["type"] = _clean_types(df, problems, used, file)
    df["status"] = _clean_status(df, problems, used, file)
    for name in _NUMERIC:
        df[name] = _numeric(df, name, problems, file)
    if problems:
        raise InvalidRows(problems, file=file)
    _fill_defaults(df, used)
    names = np.array(list(used), dtype=object)
    marks = np.column_stack([np.asarray(m, dtype=bool) for m in used.values()]) \
        if used else np.zeros((len(df), 0), dtype=bool)
    df["defaults"] = [",".join(names[row]) for row in marks]
    df.attrs["defaults_used"] = defaults_used(df)
    return df


def defaults_used(cams: gpd.GeoDataFrame) -> dict:
    """Which defaults the given (normalised) cameras rest on: ``{field: {type: n}}``."""
    out: dict = {}
    if "defaults" not in cams.columns or not len(cams):
        return out
    flags = cams["defaults"].astype(str).str.split(",").explode()
    flags = flags[flags.str.len() > 0]
    types = cams.loc[flags.index, "type"].astype(str).to_numpy()
    for (name, typ), n in pd.Series(1, index=pd.MultiIndex.from_arrays(
            [flags.to_numpy(), types])).groupby(level=[0, 1]).sum().items():
        out.setdefault(str(name), {})[str(typ)] = int(n)
    return out


def _check_points(df, problems, file) -> None:
    geoms = df.geometry
    bad = ~(geoms.isna() | geoms.is_empty) & (geoms.geom_type != "Point")
    missing = geoms.isna() | geoms.is_empty
    for i in np.flatnonzero(bad.to_numpy() | missing.to_numpy())[:50]:
        why = "camera location missing" if missing.iloc[i] else "camera must be a point"
        problems.append(RowProblem(int(i) + 1, "geometry", why, file))


def _clean_types(df, problems, used, file) -> pd.Series:
    if "type" not in df.columns:
        used["type"] = np.ones(len(df), dtype=bool)
        return pd.Series(FALLBACK_TYPE, index=df.index, dtype=object)
    raw = df["type"].astype(object).where(df["type"].notna(), None)
    text = raw.map(lambda v: None if v is None or str(v).strip() == "" else str(v).strip().lower())
    bad = text.notna() & ~text.isin(CAMERA_TYPES)
    for i in np.flatnonzero(bad.to_numpy())[:50]:
        problems.append(RowProblem(int(i) + 1, "type", f"unknown camera type {raw.iloc[i]!r} "
                                   f"(one of {', '.join(CAMERA_TYPES)})", file))
    if text.isna().any():
        used["type"] = text.isna().to_numpy()
    return text.fillna(FALLBACK_TYPE).astype(object)


def _clean_status(df, problems, used, file) -> pd.Series:
    if "status" not in df.columns:
        used["status"] = np.ones(len(df), dtype=bool)
        return pd.Series("online", index=df.index, dtype=object)
    raw = df["status"].astype(object).where(df["status"].notna(), None)
    text = raw.map(lambda v: None if v is None or str(v).strip() == ""
                   else _STATUS_WORDS.get(str(v).strip().lower(), "?"))
    for i in np.flatnonzero((text == "?").to_numpy())[:50]:
        problems.append(RowProblem(int(i) + 1, "status", f"unknown status {raw.iloc[i]!r} "
                                   f"(one of {', '.join(CAMERA_STATUSES)})", file))
    if text.isna().any():
        used["status"] = text.isna().to_numpy()
    return text.fillna("online").astype(object)


def _numeric(df, name, problems, file) -> pd.Series:
    if name not in df.columns:
        return pd.Series(np.nan, index=df.index, dtype=float)
    raw = df[name]
    values = pd.to_numeric(raw, errors="coerce").astype(float)
    blank = raw.isna() | raw.astype(str).str.strip().eq("")
    bad = (values.isna() & ~blank) | (values < 0) | ~np.isfinite(values.fillna(0))
    for i in np.flatnonzero(bad.to_numpy())[:50]:
        problems.append(RowProblem(int(i) + 1, name, f"{name} must be a number >= 0, "
                                   f"got {raw.iloc[i]!r}", file))
    return values


def _fill_defaults(df, used) -> None:
    types = df["type"].to_numpy(dtype=object)
    for name, col in _DEFAULT_COLUMN.items():
        missing = df[name].isna().to_numpy()
        if missing.any():
            fill = np.array([CAMERA_DEFAULTS[t][col] for t in types[missing]])
            df.loc[missing, name] = fill
            used[name] = missing
    omni = np.isin(types, OMNI_TYPES)
    df.loc[omni, "fov"] = 360.0
    no_azimuth = df["azimuth"].isna().to_numpy() & (df["fov"].to_numpy() < 360.0)
    if no_azimuth.any():
        # Without a direction we cannot place the sector. A full circle of its range
        # would overstate what it sees by 360/fov (six times for a 60° camera); a disc of
        # the sector's own area keeps the area honest. Counted under "azimuth".
        fov = df.loc[no_azimuth, "fov"].clip(lower=0.0).to_numpy(dtype=float)
        rng = df.loc[no_azimuth, "range"].to_numpy(dtype=float)
        df.loc[no_azimuth, "range"] = rng * np.sqrt(fov / 360.0)
        df.loc[no_azimuth, "fov"] = 360.0
        used["azimuth"] = no_azimuth
    df["azimuth"] = df["azimuth"].fillna(0.0) % 360.0
    df["fov"] = df["fov"].clip(upper=360.0)
