"""Cameras of the 雪亮工程/天网 programmes: at road intersections (checkpoints on
primary roads), along streets pointing along them, and at key places; denser in town.
Some records lack fov, range or height on purpose, and ~7% are offline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from gis.generate.geom import azimuth_on
from gis.vocabulary import CAMERA_DEFAULTS

HH_PER_CAMERA = 90
MISSING_SHARE = 0.04
OFFLINE_SHARE = 0.07
STREET_TYPES = (("xueliang_a", "xueliang_b", "tianwang", "huiyan", "dome", "ptz"),
                (0.2, 0.25, 0.2, 0.15, 0.12, 0.08))
RURAL_TYPES = (("xueliang_b", "huiyan", "xueliang_a", "dome"), (0.5, 0.25, 0.15, 0.1))
PLACE_TYPES = {"school": "school", "hospital": "hospital", "market": "face",
               "station": "face", "government": "xueliang_a", "park": "dome"}


def intersections(roads: np.ndarray):
    """Crossing points of road pairs, with one road through each (for azimuths)."""
    i, j = shapely.STRtree(roads).query(roads, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    pts, k = shapely.get_parts(shapely.intersection(roads[i], roads[j]), return_index=True)
    ok = shapely.get_type_id(pts) == 0
    return pts[ok], i[k[ok]], j[k[ok]]


def place_cameras(households: int, roads: np.ndarray, road_cls: np.ndarray,
                  urban_road: np.ndarray, places, rng) -> pd.DataFrame:
    """Camera table (metric points): camera_id, type, status, azimuth, fov, range, height."""
    total = max(10, int(round(households / HH_PER_CAMERA)))
    n_cross, n_place = int(total * 0.4), min(len(places.geometry) * 2, int(total * 0.1))
    pts, a, b = intersections(roads)
    w = np.where(urban_road[a], 4.0, 1.0) * np.where(road_cls[a] == "primary", 2.0, 1.0)
    pick = rng.choice(len(pts), size=min(n_cross, len(pts)), replace=False, p=w / w.sum())
    along = np.where(rng.random(len(pick)) < 0.5, a[pick], b[pick])
    cross = _frame(pts[pick], roads[along], rng)
    primary = (road_cls[a[pick]] == "primary") & (road_cls[b[pick]] == "primary")
    cross["type"] = np.where(primary & (rng.random(len(pick)) < 0.6), "checkpoint",
                             _types(urban_road[along], rng))
    street = _along_streets(total - len(cross) - n_place, roads, urban_road, rng)
    at_places = _at_places(n_place, places, rng)
    cams = pd.concat([cross, street, at_places], ignore_index=True)
    return _attributes(cams, rng)


def _frame(points, lines, rng) -> pd.DataFrame:
    az = (azimuth_on(lines, points) + rng.choice([0.0, 180.0], len(points))
          + rng.normal(0, 8, len(points))) % 360.0
    return pd.DataFrame({"geometry": points, "azimuth": az})


def _types(urban: np.ndarray, rng) -> np.ndarray:
    st = rng.choice(STREET_TYPES[0], size=len(urban), p=STREET_TYPES[1])
    ru = rng.choice(RURAL_TYPES[0], size=len(urban), p=RURAL_TYPES[1])
    return np.where(urban, st, ru)


def _along_streets(n: int, roads, urban, rng) -> pd.DataFrame:
    length = shapely.length(roads)
    w = length * np.where(urban, 1.0, 0.12)
    k = rng.choice(len(roads), size=max(n, 0), p=w / w.sum())
    pts = shapely.line_interpolate_point(roads[k], rng.random(len(k)) * length[k])
    df = _frame(pts, roads[k], rng)
    df["type"] = _types(urban[k], rng)
    return df


def _at_places(n: int, places, rng) -> pd.DataFrame:
    """Cameras on the edge of key places, looking inwards."""
    k = rng.choice(len(places.geometry), size=n, replace=n > len(places.geometry))
    ring = shapely.get_exterior_ring(shapely.convex_hull(places.geometry[k]))
    pts = shapely.line_interpolate_point(ring, rng.random(n), normalized=True)
    c = shapely.centroid(places.geometry[k])
    az = np.degrees(np.arctan2(shapely.get_x(c) - shapely.get_x(pts),
                               shapely.get_y(c) - shapely.get_y(pts))) % 360.0
    kinds = places.kind[k]
    return pd.DataFrame({"geometry": pts, "azimuth": az,
                         "type": [PLACE_TYPES.get(t, "dome") for t in kinds]})


def _attributes(cams: pd.DataFrame, rng) -> pd.DataFrame:
    n = len(cams)
    d = np.array([CAMERA_DEFAULTS[t] for t in cams["type"]])
    jitter = rng.uniform(0.85, 1.15, (n, 3))
    fov = np.where(d[:, 0] >= 360, 360.0, np.round(d[:, 0] * jitter[:, 0]))
    out = pd.DataFrame({
        "camera_id": [f"43019901001320{i:06d}" for i in range(1, n + 1)],
        "type": cams["type"].astype(str).to_numpy(),
        "status": np.where(rng.random(n) < OFFLINE_SHARE, "offline", "online"),
        "azimuth": np.round(cams["azimuth"].to_numpy(float), 1),
        "fov": fov,
        "range": np.round(d[:, 1] * jitter[:, 1]),
        "height": np.round(d[:, 2] * jitter[:, 2], 1),
    })
    for col in ("azimuth", "fov", "range", "height"):  # exercise the importer's defaults
        out.loc[rng.random(n) < MISSING_SHARE, col] = np.nan
    out["geometry"] = cams["geometry"].to_numpy()
    return out
