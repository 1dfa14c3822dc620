"""多网合一: carry records of another thematic grid system (flood control, petitions,
epidemic...) over to the grids, by a crosswalk of shared households and area."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from gis.crs import metric_crs_for
from gis.coverage import overlay
from gis.partition.blocks import anchor_points, clean_units
from gis.partition.cells import locate, polygonal
from gis.partition.inputs import as_wgs84

COLUMNS = ["old_code", "new_code", "households", "area_m2", "households_share", "area_share"]


MIN_AREA_M2 = 1.0  # pairs sharing less area than this (and no households) are slivers
MIN_SHARE = 0.001  # ... or less than this share of the old grid's area


def crosswalk(old_grids, new_grids, units=None, households: str = "households", *,
              old_code: str = "code", new_code: str = "code", min_area: float = MIN_AREA_M2,
              min_share: float = MIN_SHARE) -> pd.DataFrame:
    """Old grid → new grid pairs with the households and area they share.

    Parameters
    ----------
    old_grids : the other system's polygons (``old_code`` names them).
    new_grids : the grids (``new_code`` names them).
    units : buildings or address points with ``households``; without them the
        household columns are 0.
    min_area, min_share : a pair sharing no households and less than ``min_area`` m² or
        less than ``min_share`` of the old grid's area is a sliver (two systems drawn
        along the same street never match to the millimetre) and is left out.

    A polygon without a code is kept as an area of its own, named
    ``(no code, row N)`` after its row, never merged with other uncoded polygons.

    Returns
    -------
    DataFrame with old_code, new_code, households, area_m2, households_share and
    area_share (shares of the old grid's households and area), largest first per old grid.
    ``attrs["report"]`` counts the pairs, the slivers left out and the uncoded rows.

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
    og, old_fixed, old_skipped = _usable(old.to_crs(crs).geometry.values)
    ng, new_fixed, new_skipped = _usable(new.to_crs(crs).geometry.values)
    i, j = shapely.STRtree(ng).query(og, predicate="intersects")
    area = shapely.area(overlay.intersection(og[i], ng[j])) if len(i) else np.zeros(0)
    table = pd.DataFrame({"o": i, "n": j, "area_m2": area})
    table["households"] = 0.0
    total = 0.0
    if units is not None and len(units):
        table, total = _with_households(table, units, households, og, ng, crs)
    table = table[(table["area_m2"] > 1e-3) | (table["households"] > 0)]
    tot = table.groupby("o")[["households", "area_m2"]].transform("sum")
    table["households_share"] = table["households"] / tot["households"].where(tot["households"] > 0)
    table["area_share"] = table["area_m2"] / tot["area_m2"].where(tot["area_m2"] > 0)
    sliver = (table["households"] <= 0) & ((table["area_m2"] < min_area)
                                           | (table["area_share"].fillna(0) < min_share))
    old_names, old_null = _names(old[old_code])
    new_names, new_null = _names(new[new_code])
    report = {"pairs": int((~sliver).sum()), "slivers_dropped": int(sliver.sum()),
              "sliver_area_m2": round(float(table.loc[sliver, "area_m2"].sum()), 3),
              "old_rows_without_code": old_null, "new_rows_without_code": new_null,
              "old_rows_repaired": old_fixed, "new_rows_repaired": new_fixed,
              "old_rows_not_polygons": old_skipped, "new_rows_not_polygons": new_skipped,
              "households_units": total,
              "households_unmatched": round(total - float(table["households"].sum()), 3)}
    table = table[~sliver].copy()
    table["old_code"] = old_names[table["o"].astype(int)]
    table["new_code"] = new_names[table["n"].astype(int)]
    table = table.sort_values(["old_code", "households", "area_m2"], ascending=[True, False, False])
    out = table[COLUMNS].reset_index(drop=True)
    out.attrs["report"] = report
    return out


def _usable(geoms):
    """Valid polygons, and the counts of rows repaired and of rows that are no polygon
    (a point, a line, nothing: they share nothing, rather than failing the run)."""
    geoms = np.asarray(geoms, dtype=object).copy()
    missing = shapely.is_missing(geoms)
    geoms[missing] = shapely.Polygon()
    fixed = int((~shapely.is_valid(geoms)).sum())
    geoms = polygonal(geoms)
    return geoms, fixed, int(shapely.is_empty(geoms).sum())


def _with_households(table, units, households, og, ng, crs):
    u = clean_units(as_wgs84(units), households).to_crs(crs)
    pts = anchor_points(u.geometry.values)
    shared = pd.DataFrame({"o": locate(pts, og), "n": locate(pts, ng),
                           "households": u["households"].to_numpy(float)})
    total = float(shared["households"].sum())
    shared = shared[(shared["o"] >= 0) & (shared["n"] >= 0)].groupby(["o", "n"]).sum()
    return table.drop(columns="households").merge(shared.reset_index(), on=["o", "n"],
                                                  how="outer").fillna(0.0), total


def _names(codes: pd.Series):
    """Codes as text; a missing or blank code becomes ``(no code, row N)`` (1-based row),
    so uncoded polygons stay apart. Also the list of those rows."""
    text = codes.astype(object).where(codes.notna(), None)
    text = np.array([None if v is None or str(v).strip() in ("", "nan", "None") else str(v)
                     for v in text], dtype=object)
    null = np.flatnonzero([v is None for v in text])
    text[null] = [f"(no code, row {r + 1})" for r in null]
    return text, [int(r) + 1 for r in null]
