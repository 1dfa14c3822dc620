"""``partition()``: units with households in, street-bounded balanced grids out.

Per community: form atoms (:mod:`.blocks`), build their adjacency (:mod:`.graph`), set
exclusive compounds and over-full atoms apart as grids of their own, cut each connected
remainder into balanced contiguous regions (:mod:`.regions`), union the atoms of each
region into a grid, number the grids (:mod:`.codes`) and report (:mod:`.quality`).
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
from gis.partition import quality
from gis.partition.blocks import anchor_points, build_atoms, clean_units, default_parent, \
    locate, union_by
from gis.partition.codes import assign_codes, match_previous
from gis.partition.graph import adjacency, components
from gis.partition.regions import Graph, balanced_regions, choose_k

CODE_FIELDS = ("community_code", "admin_code", "code")


@dataclass
class PartitionResult:
    """Grids (EPSG:4326), the quality report and the rules the result could not meet."""

    grids: gpd.GeoDataFrame
    report: dict
    violations: gpd.GeoDataFrame
    unit_grid: pd.Series = field(default=None)  # grid code of each input unit (None: outside)


def as_wgs84(gdf):
    """A GeoDataFrame/GeoSeries in EPSG:4326 (no CRS is taken as lon/lat)."""
    if gdf.crs is None:
        return gdf.set_crs(WGS84)
    return gdf if gdf.crs.equals(WGS84) else gdf.to_crs(WGS84)


def as_geometry(parent):
    """One shapely geometry (EPSG:4326) from a geometry, GeoSeries or GeoDataFrame."""
    if isinstance(parent, (gpd.GeoDataFrame, gpd.GeoSeries)):
        return shapely.union_all(as_wgs84(parent).geometry.values)
    return parent


def _parents(parent, units, community_code) -> gpd.GeoDataFrame:
    """One row per community: geometry (EPSG:4326) and its code."""
    if parent is None:
        geom = default_parent(units.geometry.values)
        return gpd.GeoDataFrame({"community_code": [community_code or ""]},
                                geometry=[geom], crs=WGS84)
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


@dataclass
class _Cut:
    """One community's grids before coding: atom label per atom plus per-grid facts."""

    atoms: object
    labels: np.ndarray
    kinds: list
    notes: list  # (grid index, rule, detail)


def _fixed_grids(atoms, excl_atom, hi):
    """Exclusive compounds and over-full atoms become grids of their own."""
    labels = np.full(len(atoms.cells), -1)
    kinds, notes = [], []
    for name in sorted({x for x in excl_atom if x is not None}):
        labels[excl_atom == name] = len(kinds)
        kinds.append("exclusive")
    over = np.flatnonzero((atoms.households > hi) & (labels < 0))
    for a in over:
        labels[a] = len(kinds)
        notes.append((len(kinds), "above_max", f"one indivisible unit of {atoms.households[a]:g} "
                      f"households (more than {hi:g})"))
        kinds.append("basic")
    return labels, kinds, notes


def _cut_community(geoms, hh, excl, parent, roads, lo, hi, target, merge_small, budget):
    atoms = build_atoms(geoms, hh, parent, roads, max_households=hi)
    ok = atoms.unit_atom >= 0
    excl_atom = np.array([None] * len(atoms.cells), dtype=object)
    excl_atom[atoms.unit_atom[ok]] = excl[ok]
    labels, kinds, notes = _fixed_grids(atoms, excl_atom, hi)
    edges = adjacency(atoms.cells, roads)
    xy = shapely.get_coordinates(shapely.point_on_surface(atoms.cells))
    g = Graph(atoms.households, xy, shapely.area(atoms.cells), shapely.length(atoms.cells),
              edges.i, edges.j, edges.cost, edges.length)
    free = labels < 0
    _n, comp = components(g.n, g.i, g.j, free)
    groups = [np.flatnonzero(free & (comp == c)) for c in np.unique(comp[free])]
    loaded = [grp for grp in groups if g.w[grp].sum() > 0]
    for grp in sorted(loaded, key=lambda x: -g.w[x].sum()):
        total = float(g.w[grp].sum())
        share = budget * len(grp) / max(free.sum(), 1)
        sub, k = _regions(g, grp, total, lo, hi, target, share)
        labels[grp] = sub[grp] + len(kinds)
        rule = "island" if len(groups) > 1 or len(kinds) else "parent_below_min"
        if total < lo:
            notes.append((len(kinds), rule, f"{total:g} households, fewer than {lo:g}, "
                          f"{'cut off from other grids' if rule == 'island' else 'in the whole parent'}"))
        kinds.extend(["basic"] * k)
    labels = _attach_empty(g, labels, kinds)
    if merge_small:
        labels, kinds, notes = _merge_small(g, labels, kinds, notes, lo, hi)
    return _Cut(atoms, labels, kinds, notes)


EXTRA_K_TRIES = 4  # when atoms are too coarse for k grids, try up to this many more


def _regions(g, grp, total, lo, hi, target, budget):
    """Labels for one connected group of atoms, and their number. When the atoms cannot
    be grouped into ``k`` grids within bounds (coarse blocks), more grids are tried."""
    k = choose_k(total, lo, hi, target)
    if k == 1:
        return np.where(np.isin(np.arange(g.n), grp), 0, -1), 1
    k_max = max(k, int(np.floor(total / lo)))
    best = None
    for kk in range(k, min(k_max, k + EXTRA_K_TRIES) + 1):
        sub = balanced_regions(g, grp, kk, lo, hi, time_budget=budget)
        h = np.bincount(sub[grp], g.w[grp], kk)
        viol = float(np.maximum(h - hi, 0).sum() + np.maximum(lo - h, 0).sum())
        if best is None or viol < best[0]:
            best = (viol, sub, kk)
        if viol == 0:
            break
    return best[1], best[2]


def _attach_empty(g, labels, kinds):
    """Atoms left without a grid (no households, cut off) join the grid they border most;
    when there is none at all the whole parent becomes one grid."""
    labels = labels.copy()
    for _ in range(g.n):
        loose = np.flatnonzero(labels < 0)
        if not len(loose):
            break
        if len(kinds) == 0:
            labels[:] = 0
            kinds.append("basic")
            break
        moved = False
        for a in loose.tolist():
            border = {labels[b]: c for b, c in g.nbrs[a].items() if labels[b] >= 0}
            if border:
                labels[a] = max(border, key=border.get)
                moved = True
        if not moved:  # an empty island: nearest grid
            tree = shapely.STRtree(shapely.points(g.xy[labels >= 0]))
            near = tree.nearest(shapely.points(g.xy[loose]))
            labels[loose] = labels[labels >= 0][near]
    return labels


def _merge_small(g, labels, kinds, notes, lo, hi):
    """Basic grids below the minimum join the bordering basic grid with fewest households
    when the sum stays within the maximum."""
    h = np.bincount(labels, g.w, len(kinds))
    for r in np.argsort(h):
        if kinds[r] != "basic" or h[r] >= lo or h[r] == 0 and not (labels == r).any():
            continue
        border = {labels[b] for a in np.flatnonzero(labels == r) for b in g.nbrs[a]} - {r}
        cands = [s for s in border if kinds[s] == "basic" and h[s] + h[r] <= hi and h[s] > 0]
        if cands:
            s = min(cands, key=lambda x: h[x])
            labels[labels == r] = s
            h[s] += h[r]
            h[r] = 0
            notes = [(s if i == r else i, rule, d) for i, rule, d in notes
                     if not (i == r and rule in ("island", "parent_below_min"))]
    used = np.unique(labels)
    remap = np.full(len(kinds), -1)
    remap[used] = np.arange(len(used))
    notes = [(int(remap[i]), rule, d) for i, rule, d in notes if remap[i] >= 0]
    return remap[labels], [kinds[i] for i in used], notes


def _grid_frame(cut: _Cut, crs, community_code: str) -> gpd.GeoDataFrame:
    n = len(cut.kinds)
    geoms = union_by(cut.atoms.cells, cut.labels, n)
    hh = np.bincount(cut.labels, cut.atoms.households, n)
    return gpd.GeoDataFrame({"kind": cut.kinds, "households": hh,
                             "community_code": [community_code] * n},
                            geometry=list(geoms), crs=crs)


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
    >>> res = partition(blocks, "HOUSING20", roads=roads)          # doctest: +SKIP
    >>> res.report["within_bounds_share"], res.grids.crs.to_epsg()  # doctest: +SKIP
    (1.0, 4326)
    """
    t0 = time.perf_counter()
    lo, hi = float(min_households), float(max_households)
    _check_bounds(lo, hi)
    target = float(target) if target else lo + 0.75 * (hi - lo)
    units = clean_units(as_wgs84(units), households)
    if not len(units):
        raise InputError("no units with geometry", field="geometry")
    parents = _parents(parent, units, community_code)
    crs = metric_crs_for(units)
    units_m = units.to_crs(crs)
    roads_m = None if roads is None else np.asarray(as_wgs84(roads).to_crs(crs).geometry.values)
    previous_m = None if previous is None else as_wgs84(previous).to_crs(crs)
    parents_m = parents.to_crs(crs)
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
        cut = _cut_community(units_m.geometry.values[mine], units["households"].to_numpy()[mine],
                             excl[mine], geom, roads_m, lo, hi, target, merge_small, time_budget)
        grids = _grid_frame(cut, crs, code)
        grids.insert(0, "code", _codes(grids, code, code_width, previous_m, retired_codes))
        at = cut.atoms.unit_atom
        unit_grid[mine[at >= 0]] = grids["code"].to_numpy()[cut.labels[at[at >= 0]]]
        rows += [{"code": grids["code"].iat[i], "rule": rule, "detail": detail,
                  "geometry": grids.geometry.iat[i]} for i, rule, detail in cut.notes]
        frames.append(grids)
        if progress is not None:
            progress(p + 1, len(parents_m))
    return _result(frames, rows, units, unit_grid, roads_m, lo, hi, crs, t0)


def _result(frames, rows, units, unit_grid, roads_m, lo, hi, crs, t0) -> PartitionResult:
    grids_m = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=crs)
    g = np.asarray(grids_m.geometry.values, dtype=object)
    codes = grids_m["code"].to_numpy()
    noted = {(r["code"], r["rule"]) for r in rows}
    basic = (grids_m["kind"] == "basic").to_numpy()  # exclusive grids: kept whole, no bounds
    rows += [r for r in quality.household_rows(g[basic], codes[basic],
                                               grids_m["households"][basic], lo, hi)
             + quality._shape_rows(g, codes) if (r["code"], r["rule"]) not in noted
             and not ((r["code"], "island") in noted or (r["code"], "parent_below_min") in noted)]
    rep = quality.report(g, grids_m["households"], grids_m["kind"], lo=lo, hi=hi,
                         roads=roads_m, seconds=time.perf_counter() - t0,
                         groups=grids_m["community_code"].to_numpy())
    rep["units_outside_parent"] = int(sum(c is None for c in unit_grid))
    grids = grids_m.to_crs(WGS84)
    violations = quality.violations_frame(rows, crs).to_crs(WGS84)
    rep["violations"] = int(len(violations))
    rep["seconds"] = round(time.perf_counter() - t0, 3)
    return PartitionResult(grids=grids, report=rep, violations=violations,
                           unit_grid=pd.Series(unit_grid, index=units.index, name="code"))
