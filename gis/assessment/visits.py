"""Visits and key households: which building each visit was at, which household it
counts for, and which key households it reached.

* A visit's building is the one it names, else the nearest building within
  ``distance`` metres of its position. Buildings are the buildings layer when one is
  given; without one, the key households' own buildings and positions are the only
  known sites (a key household with no building id is a site of its own).
* A key household without a position takes its building's; one with neither cannot
  be placed in a grid and is dropped (counted).
* A visit counts for a household: the household it names, else its building, else its
  own position (to about a metre): two visits to the same place the same day are one
  household, never two.
* A visit reaches a key household that it names; a visit naming no household reaches
  the key households of its building.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.assessment.inputs import lonlat, text
from gis.crs import WGS84
from gis.patrol.cleaning import to_metric


def sites(buildings: gpd.GeoDataFrame | None, key: str | None, keyhh: pd.DataFrame,
          crs) -> tuple[np.ndarray, np.ndarray]:
    """(ids, metric geometries) of the buildings a visit may be matched to."""
    if buildings is not None:
        b = buildings if buildings.crs is None or buildings.crs.equals(WGS84) else buildings.to_crs(WGS84)
        ids = _ids(b, key)
        geoms = shapely.transform(b.geometry.to_numpy(), lambda xy: np.column_stack(
            to_metric(xy[:, 0], xy[:, 1], crs)))
        ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms)) & pd.notna(ids)
        return ids[ok], geoms[ok]
    placed = keyhh[~np.isnan(keyhh["lon"].to_numpy())]
    ids = placed["building"].fillna("household:" + placed["household"]).to_numpy(object)
    x, y = to_metric(placed["lon"].to_numpy(), placed["lat"].to_numpy(), crs)
    first = ~pd.Series(ids).duplicated().to_numpy()
    return ids[first], shapely.points(x[first], y[first])


def _ids(buildings: gpd.GeoDataFrame, key: str | None) -> np.ndarray:
    if key:
        return text(buildings[key]).to_numpy()
    return np.array([str(i) for i in range(len(buildings))], dtype=object)


def nearest(ids: np.ndarray, geoms: np.ndarray, x: np.ndarray, y: np.ndarray,
            distance: float) -> np.ndarray:
    """Id of the nearest site within ``distance`` of each metric point (None: none)."""
    out = np.full(len(x), None, dtype=object)
    ok = ~(np.isnan(x) | np.isnan(y))
    if not ok.any() or not len(ids):
        return out
    qi, si = shapely.STRtree(geoms).query_nearest(shapely.points(x[ok], y[ok]),
                                                  max_distance=distance, all_matches=False)
    out[np.flatnonzero(ok)[qi]] = ids[si]
    return out


def place_key_households(keyhh: pd.DataFrame, buildings: gpd.GeoDataFrame | None,
                         key: str | None, crs, distance: float) -> tuple[pd.DataFrame, int]:
    """Key households with a building (named or nearest) and a position; the number that
    could not be placed."""
    kh = keyhh.copy()
    if buildings is not None:
        ids, geoms = sites(buildings, key, kh, crs)
        x, y = to_metric(kh["lon"].to_numpy(), kh["lat"].to_numpy(), crs)
        kh["building"] = kh["building"].where(kh["building"].notna(), nearest(ids, geoms, x, y, distance))
        blon, blat = lonlat(buildings)  # a footprint's position: a point inside it
        pos = pd.DataFrame({"lon": blon, "lat": blat}, index=_ids(buildings, key))
        pos = pos[~pos.index.duplicated()]
        need = np.isnan(kh["lon"].to_numpy()) & kh["building"].notna().to_numpy()
        kh.loc[need, "lon"] = kh.loc[need, "building"].map(pos["lon"]).to_numpy(float)
        kh.loc[need, "lat"] = kh.loc[need, "building"].map(pos["lat"]).to_numpy(float)
    kh["building"] = kh["building"].fillna("household:" + kh["household"])
    placed = ~np.isnan(kh["lon"].to_numpy(float))
    return kh[placed].reset_index(drop=True), int((~placed).sum())


def match_visits(visits: pd.DataFrame, site_ids: np.ndarray, site_geoms: np.ndarray, crs,
                 distance: float) -> pd.DataFrame:
    """Visits with ``building`` filled from the nearest site, and ``who``: the household
    the visit counts for (see module docstring)."""
    v = visits.copy()
    x, y = to_metric(v["lon"].to_numpy(float), v["lat"].to_numpy(float), crs)
    need = v["building"].isna().to_numpy()
    if need.any():
        v.loc[need, "building"] = nearest(site_ids, site_geoms, x[need], y[need], distance)
    place = "p:" + v["lon"].round(5).astype(str) + "," + v["lat"].round(5).astype(str)
    v["who"] = ("h:" + v["household"]).fillna("b:" + v["building"]).fillna(place)
    return v


def key_visit_days(visits: pd.DataFrame, kh: pd.DataFrame) -> pd.DataFrame:
    """Distinct days on which each worker reached each key household: ``worker,
    household, days``. ``visits`` needs ``worker``, ``day``, ``household``, ``building``."""
    by_ref = visits[visits["household"].isin(set(kh["household"]))][["worker", "day", "household"]]
    anon = visits[visits["household"].isna() & visits["building"].notna()]
    by_building = anon[["worker", "day", "building"]].merge(kh[["building", "household"]],
                                                            on="building")
    hits = pd.concat([by_ref, by_building[["worker", "day", "household"]]], ignore_index=True)
    return (hits.drop_duplicates().groupby(["worker", "household"]).size()
            .rename("days").reset_index())
