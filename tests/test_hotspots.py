"""Hexagon hot spots: counts per hexagon for a period, Gi* scores, metric sizes."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer
from shapely.geometry import Point

from gis.errors import InputError
from gis.hotspots import hexagon_hotspots, hexagons, hex_of

GK = 4547  # the metric CRS gridgis picks around lon 113
TO_LL = Transformer.from_crs(GK, 4326, always_xy=True)


def hex_centre(x, y, edge):
    q, r = hex_of(np.array([x]), np.array([y]), edge)
    return edge * np.sqrt(3) * (q[0] + r[0] / 2), edge * 1.5 * r[0]


def incidents(rng, n_cluster=60, n_scatter=120, edge=200) -> gpd.GeoDataFrame:
    """A tight cluster (60 incidents within 30 m of a hexagon's centre) in 5 km x 5 km of
    scattered ones."""
    cx, cy = hex_centre(402_000.0, 3_102_000.0, edge)
    x = np.r_[cx + rng.uniform(-30, 30, n_cluster), rng.uniform(400_000, 405_000, n_scatter)]
    y = np.r_[cy + rng.uniform(-30, 30, n_cluster), rng.uniform(3_100_000, 3_105_000, n_scatter)]
    lon, lat = TO_LL.transform(x, y)
    when = pd.date_range("2024-01-01", periods=len(x), freq="h")
    return gpd.GeoDataFrame({"reported": when.astype(str)}, crs=4326,
                            geometry=[Point(a, b) for a, b in zip(lon, lat)])


def test_the_cluster_is_the_hot_spot_and_counts_add_up():
    pts = incidents(np.random.default_rng(1))
    out = hexagon_hotspots(pts, edge=200)
    assert out["count"].sum() == len(pts)
    top = out.iloc[0]
    assert top["count"] >= 60 and top["hot"]
    assert top.geometry.contains(pts.geometry.iloc[0])  # the hexagon holds its incidents
    # Gi* also lights the cluster's neighbours, but nothing beyond them.
    hot = out[out["hot"]].to_crs(GK)
    assert len(hot) >= 1
    assert hot.distance(hot.geometry.iloc[0].centroid).max() < 2 * 200 * np.sqrt(3)
    assert out.crs.to_epsg() == 4326


def test_hexagon_size_is_in_metres():
    pts = incidents(np.random.default_rng(2))
    out = hexagon_hotspots(pts, edge=250)
    area = out.to_crs(GK).area
    assert area.min() == pytest.approx(1.5 * np.sqrt(3) * 250 ** 2, rel=1e-3)
    assert out["per_km2"].iloc[0] == pytest.approx(out["count"].iloc[0] / (area.iloc[0] / 1e6),
                                                   rel=1e-3)


def test_period_filter_and_skipped_points():
    pts = incidents(np.random.default_rng(3))
    pts.loc[len(pts)] = ["2024-01-02 00:30", None]
    out = hexagon_hotspots(pts, edge=200, time_column="reported",
                           start="2024-01-01 10:00", end="2024-01-02 10:00")
    assert out["count"].sum() == 24  # hours 10:00 .. 09:00 next day; the geometry-less row skipped
    assert out.attrs["skipped"] == 1


def test_points_go_to_the_hexagon_that_contains_them():
    rng = np.random.default_rng(4)
    x, y = rng.uniform(-5000, 5000, 2000), rng.uniform(-5000, 5000, 2000)
    q, r = hex_of(x, y, 100.0)
    polys = hexagons(q, r, 100.0)
    assert all(p.buffer(1e-6).contains(Point(a, b)) for p, a, b in zip(polys, x, y))


def test_bad_input_is_named():
    pts = incidents(np.random.default_rng(5))
    with pytest.raises(InputError, match="no time column"):
        hexagon_hotspots(pts, time_column="when", start="2024-01-01")
    with pytest.raises(InputError, match="positive"):
        hexagon_hotspots(pts, edge=0)
    with pytest.raises(InputError, match="needs the time column"):
        hexagon_hotspots(pts, start="2024-01-01")
