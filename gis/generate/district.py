"""Assemble the demo district: town, countryside, admin units, roads, blocks,
buildings, rural address points, key places, cameras, incidents and patrol tracks,
all built in metres around (113.08 E, 28.25 N) and published in EPSG:4326."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from gis.crs import metric_crs
from gis.errors import InputError
from gis.generate import layers
from gis.generate.admin import build_admin
from gis.generate.cameras import place_cameras
from gis.generate.countryside import build_countryside
from gis.generate.incidents import make_incidents
from gis.generate.town import build_town

CENTRE = (113.08, 28.25)
URBAN_SHARE = 0.65
MIN_HOUSEHOLDS, MAX_HOUSEHOLDS = 2_000, 5_000_000
INCIDENTS_PER_HOUSEHOLD = 0.1
GENERATOR_VERSION = "1.0"
LAYERS = ("admin_units", "roads", "blocks", "buildings", "address_points", "key_places",
          "cameras", "incidents")


@dataclass
class District:
    """The generated layers (GeoDataFrames in EPSG:4326; patrol points and workers
    as DataFrames) plus what produced them."""

    admin_units: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    blocks: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    address_points: gpd.GeoDataFrame
    key_places: gpd.GeoDataFrame
    cameras: gpd.GeoDataFrame
    incidents: gpd.GeoDataFrame
    patrol_points: pd.DataFrame
    workers: pd.DataFrame
    seed: int
    households: int
    metric_epsg: int
    options: dict = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        out = {name: len(getattr(self, name)) for name in LAYERS}
        out["patrol_points"] = len(self.patrol_points)
        out["workers"] = len(self.workers)
        return out


class _Frame:
    """Metric working frame: local metres around the centre <-> lon/lat."""

    def __init__(self) -> None:
        self.crs = metric_crs((*CENTRE, *CENTRE))
        fwd = Transformer.from_crs(4326, self.crs, always_xy=True)
        self.x0, self.y0 = fwd.transform(*CENTRE)
        self._inv = Transformer.from_crs(self.crs, 4326, always_xy=True)

    def lonlat(self, x, y):
        return self._inv.transform(np.asarray(x) + self.x0, np.asarray(y) + self.y0)

    def gdf(self, df: pd.DataFrame) -> gpd.GeoDataFrame:
        def fn(c):
            return np.column_stack(self.lonlat(c[:, 0], c[:, 1]))
        geoms = shapely.transform(np.asarray(df["geometry"].to_numpy(), dtype=object), fn)
        out = pd.DataFrame(df.drop(columns="geometry"))
        return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geoms, index=out.index), crs=4326)


def _check(households: int, seed: int, incidents, patrol_days: int) -> None:
    if not MIN_HOUSEHOLDS <= int(households) <= MAX_HOUSEHOLDS:
        raise InputError(f"households must be between {MIN_HOUSEHOLDS:,} and "
                         f"{MAX_HOUSEHOLDS:,}, got {households}", field="households")
    if int(seed) < 0:
        raise InputError("seed must be >= 0", field="seed")
    if incidents is not None and int(incidents) < 0:
        raise InputError("incidents must be >= 0", field="incidents")
    if not 0 <= int(patrol_days) <= 31:
        raise InputError("patrol-days must be between 0 and 31", field="patrol_days")


def generate_district(households: int, seed: int, *, incidents: int | None = None,
                      patrol_days: int = 2,
                      progress: Callable[[str], None] | None = None) -> District:
    """Generate a synthetic county-like district, deterministic per seed.

    Parameters
    ----------
    households : total households (2,000 – 5,000,000); buildings and the rural address
        points together hold exactly that many.
    seed : random seed; the same seed and options give identical data.
    incidents : number of incidents (default 0.1 per household).
    patrol_days : days of patrol GPS tracks ending 2026-10-31.
    progress : optional callback told the name of each stage as it starts.

    Examples
    --------
    >>> d = generate_district(5000, seed=1)
    >>> int(d.buildings.households.sum() + d.address_points.households.sum())
    5000
    """
    _check(households, seed, incidents, patrol_days)
    say = progress or (lambda stage: None)
    rng = np.random.default_rng(int(seed))
    urban_hh = int(round(households * URBAN_SHARE))
    say("town and countryside")
    town = build_town(urban_hh, rng)
    country = build_countryside(int(households) - urban_hh, town, rng)
    admin = build_admin(town, country, rng)
    roads = layers.roads_table(town.arterials, town.minor, country.roads, rng)
    say("blocks")
    blocks = layers.blocks_table(town, country, roads)
    say("buildings")
    bld, places = layers.buildings_table(town, country, admin, blocks, roads, urban_hh, rng)
    frame = _Frame()
    n_inc = (int(round(households * INCIDENTS_PER_HOUSEHOLD)) if incidents is None
             else int(incidents))
    say("cameras")
    cams = place_cameras(int(households), roads["geometry"].to_numpy(),
                         roads["class"].to_numpy(), roads["urban"].to_numpy(),
                         layers.PlaceArrays(places["geometry"].to_numpy(),
                                            places["kind"].to_numpy()), rng)
    say("patrol tracks")
    workers, points = layers.patrols(town, country, admin, blocks, bld, roads, patrol_days,
                                     frame, rng)
    say("incidents")
    inc = make_incidents(n_inc, bld, roads["geometry"].to_numpy(), roads["name"].to_numpy(),
                         workers["worker"].to_numpy(), rng)
    say("reprojecting")
    tables = layers.publish(frame, admin, roads, blocks, bld, places, cams, inc)
    return District(**tables, patrol_points=points, workers=workers, seed=int(seed),
                    households=int(households), metric_epsg=int(frame.crs.to_epsg()),
                    options={"incidents": n_inc, "patrol_days": int(patrol_days)})
