"""多网合一: carry records of another thematic grid system (flood control, petitions,
epidemic...) over to the grids, by a crosswalk of shared households and area."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from gis.crs import metric_crs_for
from gis.partition.blocks import anchor_points
from gis.partition.cells import locate
from gis.partition.inputs import as_wgs84

COLUMNS = ["old_code", "new_code", "households", "area_m2", "households_share", "area_share"]


def crosswalk(old_grids, new_grids, units=None, households: str = "households", *,
              old_code: str = "code", new_code: str = "code") -> pd.DataFrame:
    """Old grid → new grid pairs with the households and area they share.

    Parameters
    ----------
    old_grids : the other system's polygons (``old_code`` names them).
    new_grids : the grids (``new_code`` names them).
    units : buildings or address points with ``households``; without them the
        household columns are 0.

    Returns
    -------
    DataFrame with old_code, new_code, households, area_m2, households_share and
    area_share (shares of the old grid's households and area), largest first per old grid.

    Examples
    --------
    A flood-control grid system drawn with larger grids, against the grids (the names are one community of ``generate_district(2000, seed=1)``: see tests/test_doctests.py):

    >>> from gis.partition import partition
    >>> flood_grids = partition(blocks, "households", parent=community, roads=roads,
    ...                         min_households=500, max_households=900).grids
    >>> cw = crosswalk(flood_grids.rename(columns={"code": "FXWG_ID"}), grids, buildings,
    ...                old_code="FXWG_ID")
    >>> cw.groupby("old_code")["households_share"].sum().round(6).tolist()
    [1.0, 1.0]
    """
    old, new = as_wgs84(old_grids), as_wgs84(new_grids)
    crs = metric_crs_for(new)
    og = np.asarray(old.to_crs(crs).geometry.values, dtype=object)
    ng = np.asarray(new.to_crs(crs).geometry.values, dtype=object)
    i, j = shapely.STRtree(ng).query(og, predicate="intersects")
    area = shapely.area(shapely.intersection(og[i], ng[j]))
    table = pd.DataFrame({"o": i, "n": j, "area_m2": area})
    table["households"] = 0.0
    if units is not None and len(units):
        u = as_wgs84(units).to_crs(crs)
        pts = anchor_points(u.geometry.values)
        hh = pd.to_numeric(u[households], errors="coerce").fillna(0).to_numpy(float)
        shared = pd.DataFrame({"o": locate(pts, og), "n": locate(pts, ng), "households": hh})
        shared = shared[(shared["o"] >= 0) & (shared["n"] >= 0)].groupby(["o", "n"]).sum()
        table = table.drop(columns="households").merge(shared.reset_index(), on=["o", "n"],
                                                       how="outer").fillna(0.0)
    table = table[(table["area_m2"] > 1e-3) | (table["households"] > 0)]
    tot = table.groupby("o")[["households", "area_m2"]].transform("sum")
    table["households_share"] = table["households"] / tot["households"].where(tot["households"] > 0)
    table["area_share"] = table["area_m2"] / tot["area_m2"].where(tot["area_m2"] > 0)
    table["old_code"] = old[old_code].astype(str).to_numpy()[table["o"].astype(int)]
    table["new_code"] = new[new_code].astype(str).to_numpy()[table["n"].astype(int)]
    table = table.sort_values(["old_code", "households", "area_m2"], ascending=[True, False, False])
    return table[COLUMNS].reset_index(drop=True)
