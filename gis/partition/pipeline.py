"""``partition()``: units with households in, street-bounded balanced grids out.

Per community (:mod:`.community`): form atoms (:mod:`.blocks`, :mod:`.split`), set
exclusive compounds and over-full atoms apart as grids of their own, cut each connected
remainder into balanced contiguous regions (:mod:`.regions`, :mod:`.refine`), join
pockets cut off by compounds (:mod:`.pockets`), union the atoms of each region into a
grid; then number the grids (:mod:`.codes`) and report (:mod:`.quality`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.crs import WGS84, metric_crs_for
from gis.errors import InputError
from gis.partition import quality, seamless
from gis.partition.blocks import anchor_points, clean_units, default_parent
from gis.partition.cells import locate
from gis.partition.codes import assign_codes, match_previous
from gis.partition.community import grid_frame, robust_cut
from gis.partition.inputs import as_wgs84

CODE_FIELDS = ("community_code", "admin_code", "code")


@dataclass
class PartitionResult:
    """Grids (EPSG:4326), the quality report and the rules the result could not meet."""

    grids: gpd.GeoDataFrame
    report: dict
    violations: gpd.GeoDataFrame
    unit_grid: pd.Series = field(default=None)  # grid code of each input unit (None: outside)


def _parents(parent, units_m, community_code) -> gpd.GeoDataFrame:
    """One row per community: geometry and its code, in the units' metric CRS (the
    default parent is drawn there: its widening is metres, whatever the input's units)."""
    if parent is None:
        geom = default_parent(units_m.geometry.values)
        return gpd.GeoDataFrame({"community_code": [community_code or ""]},
                                geometry=[geom], crs=units_m.crs)
    return _given_parents(parent, community_code).to_crs(units_m.crs)


def _given_parents(parent, community_code) -> gpd.GeoDataFrame:
    if not isinstance(parent, (gpd.GeoDataFrame, gpd.GeoSeries)):
        return gpd.GeoDataFrame({"community_code": [community_code or ""]},
                                geometry=[parent], crs=WGS84)
    gdf = as_wgs84(parent if isinstance(parent, gpd.GeoDataFrame) else parent.to_frame("geometry"))
    col = next((c for c in CODE_FIELDS if c in gdf.columns), None)
    codes = [community_code or ""] * len(gdf)
    if col is not None and (len(gdf) > 1 or not community_code):
        codes = gdf[col].fillna(community_code or "").astype(str).tolist()
    geoms = shapely.make_valid(gdf.geometry.values)
    return gpd.GeoDataFrame({"community_code": codes}, geometry=list(geoms), crs=WGS84)


def _exclusive_labels(units: gpd.GeoDataFrame, exclusive) -> np.ndarray:
    """Compound name per unit (None for ordinary units)."""
    labels = np.array([None] * len(units), dtype=object)
    if exclusive is None:
        return labels
    if isinstance(exclusive, str):
        if exclusive not in units.columns:
            raise InputError(f"no exclusive-compound field {exclusive!r}", field=exclusive)
        vals = units[exclusive]
        ok = vals.notna() & (vals.astype(str).str.strip() != "")
        labels[ok.to_numpy()] = vals[ok].astype(str).to_numpy()
        return labels
    zones = as_wgs84(exclusive)
    names = zones["name"].astype(str).to_numpy() if "name" in zones else \
        np.array([f"exclusive {i + 1}" for i in range(len(zones))], dtype=object)
    at = locate(anchor_points(units.geometry.values), zones.geometry.values)
    labels[at >= 0] = names[at[at >= 0]]
    return labels


def _codes(grids_m, community_code, width, previous_m, retired):
    keep = None
    if previous_m is not None and len(previous_m):
        keep = match_previous(grids_m.geometry.values, previous_m.geometry.values,
                              previous_m["code"].astype(str).to_numpy())
    used = list(retired) + ([] if previous_m is None else previous_m["code"].astype(str).tolist())
    return assign_codes(grids_m.geometry.values, grids_m["kind"].to_numpy(), community_code,
                        width, keep=keep, used=used)


def _check_bounds(lo, hi):
    if not (0 <= lo <= hi) or hi <= 0:
        raise InputError(f"household bounds must satisfy 0 <= min <= max and max > 0 "
                         f"(got {lo:g}, {hi:g})", field="min_households")


def partition(units: gpd.GeoDataFrame, households: str = "households", *, parent=None,
              roads=None, min_households: float = 300, max_households: float = 500,
              exclusive=None, community_code: str | None = None, code_width: int = 4,
              previous: gpd.GeoDataFrame | None = None, retired_codes=(),
              merge_small: bool = False, target: float | None = None,
              time_budget: float = 10.0, progress=None) -> PartitionResult:
    """Partition a community (or each community of a township) into grids.

    Parameters
    ----------
    units : buildings (polygons), address points, or blocks/census blocks, EPSG:4326.
    households : the household field of ``units`` (missing values count as 0).
    parent : community polygon(s); several rows (with a ``community_code`` or ``code``
        column) are partitioned separately. Default: the union of the units (blocks) or
        their hull (buildings, points).
    roads : road lines; grids then follow streets.
    min_households, max_households : household bounds of a basic grid.
    exclusive : a field of ``units`` naming compounds (non-empty = exclusive), or polygons
        of compounds (optional ``name``); each compound becomes one exclusive grid.
    community_code, code_width : the 12-digit prefix and serial width of grid codes.
    previous, retired_codes : earlier grids (with ``code``) whose codes are kept where the
        grid did not change, and codes never to be handed out again.
    merge_small : merge grids below the minimum into a neighbour when the sum fits.
    target : households aimed at per grid (default: three quarters up the range).
    time_budget : seconds of local refinement allowed per community.
    progress : optional ``callback(done, total)`` called after each community.

    Returns
    -------
    PartitionResult with ``grids`` (code, kind, households, community_code, geometry),
    ``report`` and ``violations`` (code, rule, detail, geometry).

    Examples
    --------
    Blocks with their households (a census block layer works the same, e.g. with
    ``"HOUSING20"``), the community's outline and the roads (the names are one community of ``generate_district(2000, seed=1)``: see tests/test_doctests.py):

    >>> res = partition(blocks, "households", parent=community, roads=roads)
    >>> res.report["within_bounds_share"], res.grids.crs.to_epsg()
    (1.0, 4326)
    >>> sorted(res.grids["households"].tolist())
    [411.0, 426.0, 463.0]
    """
    t0 = time.perf_counter()
    lo, hi = float(min_households), float(max_households)
    _check_bounds(lo, hi)
    target = float(target) if target else lo + 0.75 * (hi - lo)
    units = clean_units(as_wgs84(units), households)
    if not len(units):
        raise InputError("no units with geometry", field="geometry")
    crs = metric_crs_for(units)
    units_m = units.to_crs(crs)
    parents_m = _parents(parent, units_m, community_code)
    roads_m = None if roads is None else np.asarray(as_wgs84(roads).to_crs(crs).geometry.values)
    previous_m = None if previous is None else as_wgs84(previous).to_crs(crs)
    where = locate(anchor_points(units_m.geometry.values), parents_m.geometry.values)
    excl = _exclusive_labels(units, exclusive)
    frames, rows = [], []
    unit_grid = np.array([None] * len(units), dtype=object)
    for p, (code, geom) in enumerate(zip(parents_m["community_code"], parents_m.geometry)):
        mine = np.flatnonzero(where == p)
        if not len(mine):  # no households at all: still covered, by one grid
            grids = gpd.GeoDataFrame({"kind": ["basic"], "households": [0.0],
                                      "community_code": [code]}, geometry=[geom], crs=crs)
            grids.insert(0, "code", _codes(grids, code, code_width, previous_m, retired_codes))
            rows.append({"code": grids["code"].iat[0], "rule": "parent_below_min",
                         "detail": "no households in the parent", "geometry": geom})
            frames.append(grids)
            continue
        cut = robust_cut(f"community {code or p + 1}", units_m.geometry.values[mine],
                         units["households"].to_numpy()[mine], excl[mine], geom, roads_m,
                         lo, hi, target, merge_small, time_budget)
        grids = grid_frame(cut, crs, code)
        grids.insert(0, "code", _codes(grids, code, code_width, previous_m, retired_codes))
        at = cut.atoms.unit_atom
        unit_grid[mine[at >= 0]] = grids["code"].to_numpy()[cut.labels[at[at >= 0]]]
        rows += [{"code": grids["code"].iat[i], "rule": rule, "detail": detail,
                  "geometry": grids.geometry.iat[i]} for i, rule, detail in cut.notes]
        frames.append(grids)
        if progress is not None:
            progress(p + 1, len(parents_m))
    return _result(frames, rows, units_m, unit_grid, roads_m, lo, hi, t0)


def _result(frames, rows, units_m, unit_grid, roads_m, lo, hi, t0) -> PartitionResult:
    crs = units_m.crs
    grids_m = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=crs)
    g = seamless.clean(grids_m.geometry.values, crs)  # 无缝覆盖: shared edges identical
    grids_m = grids_m.set_geometry(gpd.GeoSeries(list(g), index=grids_m.index, crs=crs))
    codes = grids_m["code"].to_numpy()
    noted = {(r["code"], r["rule"]) for r in rows}
    basic = (grids_m["kind"] == "basic").to_numpy()  # exclusive grids: kept whole, no bounds
    rows += [r for r in quality.household_rows(g[basic], codes[basic],
                                               grids_m["households"][basic], lo, hi)
             + quality._shape_rows(g, codes) if (r["code"], r["rule"]) not in noted
             and not ((r["code"], "island") in noted or (r["code"], "parent_below_min") in noted)]
    rows += quality.extent_rows(g, codes, units_m.total_bounds)
    rep = quality.report(g, grids_m["households"], grids_m["kind"], lo=lo, hi=hi,
                         roads=roads_m, seconds=time.perf_counter() - t0,
                         groups=grids_m["community_code"].to_numpy())
    rep["units_outside_parent"] = int(sum(c is None for c in unit_grid))
    rep.update(units_m.attrs.get("repairs", {}))
    rep["units_extent_m"] = round(quality.span(units_m.total_bounds), 1)
    rep["grid_extent_max_m"] = round(max((quality.span(shapely.bounds(x)) for x in g),
                                         default=0.0), 1)
    grids = seamless.in_crs(grids_m, WGS84)
    violations = quality.violations_frame(rows, crs).to_crs(WGS84)
    rep["violations"] = int(len(violations))
    rep["seconds"] = round(time.perf_counter() - t0, 3)
    return PartitionResult(grids=grids, report=rep, violations=violations,
                           unit_grid=pd.Series(unit_grid, index=units_m.index, name="code"))
