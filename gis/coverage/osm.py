"""Cameras from OpenStreetMap: read the surveillance tags and derive what they leave out.

OSM maps a camera as a node ``man_made=surveillance`` with ``surveillance:type=camera``
(or ``ALPR``, a plate reader; ``guard`` is a person, not a camera), ``surveillance=
public|outdoor|indoor``, ``camera:type=fixed|dome|panning``, ``camera:mount=wall|pole|
ceiling|street_lamp|...``, ``camera:direction`` (or ``direction``: degrees, or compass
points such as ``NE``) and ``height`` (metres). An ``.osm.pbf`` extract read through
GDAL carries the tags it has no column for in ``other_tags`` (``"k"=>"v",...``); files
exported from Overpass carry them as columns. Both are read.

Figures OSM does not record (field of view, range) come from :data:`TYPE_RULES` by
camera type and mount, and the result says which rule each camera got and how many
cameras each rule covers, so an analyst sees how much of the coverage rests on assumed
figures. Domes and panning cameras turn: 360°. A fixed camera without a direction
cannot be placed as a sector; it is counted as a disc of the same *area* as its sector
(:func:`gis.coverage.cameras.normalize_cameras`), never as a full circle of its range.
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd

OSM_TAGS = ("man_made", "surveillance", "surveillance:type", "camera:type", "camera:mount",
            "camera:direction", "direction", "height")
# (fov degrees, range metres) by camera:type, then by mount within the type ("*": any)
TYPE_RULES = {
    "fixed": {"ceiling": (70.0, 15.0), "wall": (70.0, 30.0), "pole": (60.0, 50.0),
              "street_lamp": (60.0, 40.0), "*": (70.0, 30.0)},
    "dome": {"ceiling": (360.0, 10.0), "wall": (360.0, 20.0), "pole": (360.0, 30.0),
             "*": (360.0, 20.0)},
    "panning": {"pole": (360.0, 60.0), "*": (360.0, 50.0)},
    "alpr": {"*": (30.0, 30.0)},  # plate readers look at one lane
}
OSM_TYPE_TO_CLASS = {"fixed": "xueliang_b", "dome": "dome", "panning": "ptz", "alpr": "checkpoint"}
COMPASS = {name: i * 22.5 for i, name in enumerate(
    "N NNE NE ENE E ESE SE SSE S SSW SW WSW W WNW NW NNW".split())}
_HSTORE = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')
_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(m|metres|meters)?\s*$", re.I)


def is_osm(df: pd.DataFrame) -> bool:
    """Whether a camera table comes from OpenStreetMap (tags, not gridgis fields)."""
    cols = set(map(str, df.columns))
    return "other_tags" in cols or bool(cols & {"camera:type", "surveillance:type",
                                                "camera:direction", "camera:mount"})


def osm_tags(df: pd.DataFrame) -> pd.DataFrame:
    """The :data:`OSM_TAGS` of each row, from columns or from GDAL's ``other_tags``."""
    out = pd.DataFrame(index=df.index)
    parsed = df["other_tags"].map(_parse_hstore) if "other_tags" in df.columns else None
    for tag in OSM_TAGS:
        col = df[tag].astype(object) if tag in df.columns else pd.Series(None, index=df.index,
                                                                          dtype=object)
        if parsed is not None:
            col = col.where(col.notna(), parsed.map(lambda d, t=tag: d.get(t)))
        out[tag] = col.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
                           else str(v).strip().lower() or None)
    return out


def _parse_hstore(text) -> dict:
    if not isinstance(text, str):
        return {}
    return {k.replace('\\"', '"'): v.replace('\\"', '"') for k, v in _HSTORE.findall(text)}


def parse_direction(value) -> float | None:
    """Degrees from ``"45"``, ``"NE"``, ``"45;135"`` (the first), else None."""
    if value is None:
        return None
    first = str(value).split(";")[0].strip().upper()
    if first in COMPASS:
        return COMPASS[first]
    try:
        return float(first) % 360.0
    except ValueError:
        return None


def parse_height(value) -> float | None:
    m = _NUMBER.match(str(value)) if value is not None else None
    return float(m.group(1)) if m and float(m.group(1)) >= 0 else None


def osm_cameras(df: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, dict]:
    """Camera rows of an OSM table with gridgis fields, and a report.

    Returns the cameras (columns ``type``, ``status``, ``azimuth``, ``fov``, ``range``,
    ``height`` filled from the tags and :data:`TYPE_RULES`, plus ``osm_camera_type``,
    ``osm_mount`` and ``rule``) and ``{"osm_cameras": n, "skipped": {...}, "rules":
    {rule: n}, "direction": {...}}``.

    Examples
    --------
    >>> cams, report = osm_cameras(gpd.read_file("cameras.osm.pbf", layer="points"))  # needs an OSM extract  # doctest: +SKIP
    >>> report["rules"]                                        # follows the line above  # doctest: +SKIP
    {'fixed, mount wall: 70° 30 m': 12, 'dome, any mount: 360° 20 m': 4}
    """
    tags = osm_tags(df)
    keep, skipped = _camera_rows(tags)
    tags, cams = tags[keep], df[keep].copy()
    kind = tags["camera:type"].where(tags["camera:type"].isin(list(TYPE_RULES)), None)
    kind = kind.where(tags["surveillance:type"] != "alpr", "alpr").fillna("fixed")
    mount = tags["camera:mount"]
    figures = [_rule(k, m) for k, m in zip(kind, mount)]
    raw_dir = tags["camera:direction"].where(tags["camera:direction"].notna(), tags["direction"])
    azimuth = raw_dir.map(parse_direction)
    cams["type"] = kind.map(OSM_TYPE_TO_CLASS).to_numpy()
    cams["status"] = "online"
    cams["azimuth"] = pd.to_numeric(azimuth, errors="coerce").to_numpy(dtype=float)
    cams["fov"] = [f for f, _, _ in figures]
    cams["range"] = [r for _, r, _ in figures]
    cams["height"] = pd.to_numeric(tags["height"].map(parse_height), errors="coerce").to_numpy()
    cams["osm_camera_type"] = tags["camera:type"].to_numpy()
    cams["osm_mount"] = mount.to_numpy()
    cams["rule"] = [name for _, _, name in figures]
    cams = cams.drop(columns=[c for c in OSM_TAGS + ("other_tags",) if c in cams.columns
                              and c not in ("height",)])
    report = {"osm_cameras": int(keep.sum()), "skipped": skipped,
              "rules": {str(k): int(v) for k, v in pd.Series(cams["rule"]).value_counts().items()},
              "camera_type_tagged": int(tags["camera:type"].notna().sum()),
              "direction": _direction_report(raw_dir, azimuth, kind)}
    return gpd.GeoDataFrame(cams, geometry=cams.geometry.name, crs=df.crs), report


def _camera_rows(tags: pd.DataFrame) -> tuple[np.ndarray, dict]:
    """Surveillance cameras that can see public space; the rest counted by reason."""
    surveillance = tags["man_made"].eq("surveillance") | tags["surveillance:type"].notna()
    if not tags["man_made"].notna().any() and not tags["surveillance:type"].notna().any():
        surveillance[:] = True  # a file of cameras only (e.g. an Overpass export of them)
    person = tags["surveillance:type"].isin(["guard", "person"])
    indoor = tags["surveillance"].eq("indoor")
    keep = (surveillance & ~person & ~indoor).to_numpy()
    return keep, {"not_surveillance": int((~surveillance).sum()),
                  "not_a_camera": int((surveillance & person).sum()),
                  "indoor": int((surveillance & ~person & indoor).sum())}


def _rule(kind: str, mount: str | None) -> tuple[float, float, str]:
    rules = TYPE_RULES[kind]
    key = mount if mount in rules else "*"
    fov, rng = rules[key]
    where = f"mount {key}" if key != "*" else "any mount"
    return fov, rng, f"{kind}, {where}: {fov:g}° {rng:g} m"


def _direction_report(raw: pd.Series, azimuth: pd.Series, kind: pd.Series) -> dict:
    given = raw.notna()
    compass = given & raw.astype(str).str.split(";").str[0].str.strip().str.upper().isin(COMPASS)
    directional = ~kind.isin(["dome", "panning"])
    return {"degrees": int((given & ~compass & azimuth.notna()).sum()),
            "compass": int(compass.sum()),
            "unreadable": int((given & azimuth.isna()).sum()),
            "missing_on_directional": int((~given & directional).sum())}
