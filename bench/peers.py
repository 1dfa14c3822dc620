"""Peers written once and used by several benchmarks."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd


def patrol_minutes_sjoin(df: pd.DataFrame, grids: gpd.GeoDataFrame) -> pd.Series:
    """The analyst's half-day patrol minutes: every fix stands for the time until the
    worker's next one (gaps over 10 minutes count nothing), fixes joined to grids with
    geopandas.sjoin, summed per grid and 12-hour window; every grid in every window.

    ``df`` has worker, time (tz-aware), lon, lat; ``grids`` has code and geometry."""
    df = df.sort_values(["worker", "time"])
    dt = df.groupby("worker")["time"].diff(-1).dt.total_seconds().abs()
    df["dt"] = dt.where(dt <= 600, 0).fillna(0)
    pts = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs=4326)
    joined = gpd.sjoin(pts, grids[["code", "geometry"]], predicate="within")
    joined["window"] = joined["time"].dt.floor("12h")
    minutes = joined.groupby(["code", "window"])["dt"].sum() / 60
    full = pd.MultiIndex.from_product([grids["code"], sorted(joined["window"].unique())])
    return minutes.reindex(full, fill_value=0)
