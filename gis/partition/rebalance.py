"""Minimal-change rebalancing after households change (动态调整).

Only grids outside the bounds and, where needed, their neighbours are redrawn (as the UK
census updates Output Areas by splitting or merging only, and redist's minimal-move
rebalancing): an over-full grid is split; an under-full one is redrawn together with its
smallest neighbour (merged, or the pair re-cut). When a grid cannot be fixed alone, one
more neighbour at a time joins, up to ``max_neighbours``. Untouched grids keep geometry and
code; within a redrawn group each old code goes to the new grid holding most of its
households, the other new grids get fresh serials (never a used or retired one).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.crs import WGS84, metric_crs_for
from gis.errors import InputError
from gis.partition import seamless
from gis.partition.blocks import anchor_points, clean_units
from gis.partition.cells import locate, polygonal
from gis.partition.codes import assign_codes, common_prefix
from gis.partition.graph import shared_edges
from gis.partition.community import grid_frame, robust_cut
from gis.partition.inputs import as_wgs84


@dataclass
class RebalanceResult:
    """New grids (EPSG:4326), what changed per code, and summary figures."""

    grids: gpd.GeoDataFrame
    changes: pd.DataFrame  # code, change (kept/redrawn/new/retired), households
    report: dict


def _neighbours(geoms) -> dict[int, set[int]]:
    i, j, _lines = shared_edges(geoms)
    out: dict[int, set[int]] = {a: set() for a in range(len(geoms))}
    for a, b in zip(i.tolist(), j.tolist()):
        out[a].add(b)
        out[b].add(a)
    return out


def _fits(h, lo, hi) -> bool:
    return bool(np.all((h >= lo) & (h <= hi)))


def _redraw(group, grids_m, units_m, hh, where, roads_m, lo, hi, target):
    """Re-partition the union of ``group``; None when the result breaks the bounds."""
    parent = polygonal([shapely.union_all(grids_m.geometry.values[list(group)])])[0]
    mine = np.flatnonzero(np.isin(where, list(group)))
    cut = robust_cut(f"grids {', '.join(grids_m['code'].astype(str).iloc[list(group)])}",
                     units_m.geometry.values[mine], hh[mine],
                     np.array([None] * len(mine), dtype=object), parent, roads_m,
                     lo, hi, target, False, 2.0)
    frame = grid_frame(cut, grids_m.crs, "")
    at = np.full(len(mine), -1)
    ok = cut.atoms.unit_atom >= 0
    at[ok] = cut.labels[cut.atoms.unit_atom[ok]]
    return frame, mine, at


def _miss(h, lo, hi) -> float:
    """Households by which grids miss the bounds, summed."""
    h = np.asarray(h, dtype=float)
    return float(np.maximum(h - hi, 0).sum() + np.maximum(lo - h, 0).sum())


def _plan_groups(grids_m, h, lo, hi, kinds, max_neighbours):
    """Groups of grids to redraw: each bad grid plus the fewest neighbours needed."""
    nbrs = _neighbours(grids_m.geometry.values)
    bad = [r for r in np.argsort(-np.abs(h - (lo + hi) / 2)) if kinds[r] == "basic"
           and not lo <= h[r] <= hi]
    taken: set[int] = set()
    groups = []
    for r in bad:
        if r in taken:
            continue
        group = [int(r)]
        if h[r] < lo:  # under-full: always with the smallest free neighbour
            free = sorted((n for n in nbrs[r] if n not in taken and kinds[n] == "basic"),
                          key=lambda n: h[n])
            group += free[:1]
        extra = sorted((n for m in group for n in nbrs[m] if n not in taken and n not in group
                        and kinds[n] == "basic"), key=lambda n: h[n] if h[r] > hi else -h[n])
        groups.append((group, extra[:max_neighbours]))
        taken.update(group)
    return groups


def rebalance(grids: gpd.GeoDataFrame, units: gpd.GeoDataFrame, households: str = "households",
              *, roads=None, min_households: float = 300, max_households: float = 500,
              retired_codes=(), code_width: int = 4, target: float | None = None,
              max_neighbours: int = 3) -> RebalanceResult:
    """Repair grids whose households left the bounds, changing as little as possible.

    Grids of several communities (a ``community_code`` column) are rebalanced community
    by community: a redrawn grid never crosses into another community.

    Parameters
    ----------
    grids : current grids with ``code`` (and ``kind``; exclusive grids are never touched).
    units : buildings or address points with the current household counts.
    roads : road lines, so redrawn boundaries follow streets.
    retired_codes : codes never to hand out again (besides the current ones).

    Returns
    -------
    RebalanceResult: ``grids`` (all grids, untouched ones identical), ``changes`` per code
    and ``report`` (grids_changed, households_kept_share, within_bounds_share, ...).

    Examples
    --------
    One building gains 120 households (the names are one community of ``generate_district(2000, seed=1)``: see tests/test_doctests.py); the grids around it are redrawn:

    >>> big = buildings.households.idxmax()
    >>> buildings_now = buildings.assign(households=buildings.households.where(
    ...     buildings.index != big, buildings.households + 120))
    >>> res = rebalance(grids, buildings_now, roads=roads)
    >>> res.report["within_bounds_share"], res.report["households_kept_share"] >= 0.95
    (1.0, True)
    """
    lo, hi = float(min_households), float(max_households)
    if not (0 <= lo <= hi) or hi <= 0:
        raise InputError(f"household bounds must satisfy 0 <= min <= max and max > 0 "
                         f"(got {lo:g}, {hi:g})", field="min_households")
    if "code" not in grids:
        raise InputError("the grids have no 'code' field", field="code")
    target = float(target) if target else lo + 0.75 * (hi - lo)
    grids = as_wgs84(grids).reset_index(drop=True)
    units = clean_units(as_wgs84(units), households)
    crs = metric_crs_for(grids)
    roads_m = None if roads is None or not len(roads) else \
        np.asarray(as_wgs84(roads).to_crs(crs).geometry.values)
    args = (roads_m, lo, hi, target, max_neighbours, retired_codes, code_width, crs)
    comm = grids["community_code"].fillna("").astype(str).to_numpy() \
        if "community_code" in grids else np.array([""] * len(grids), dtype=object)
    if len(set(comm)) < 2:
        return _rebalance_one(grids, units, *args)
    where = locate(anchor_points(units.to_crs(crs).geometry.values),
                   grids.to_crs(crs).geometry.values)
    unit_comm = np.where(where >= 0, comm[np.maximum(where, 0)], None)
    parts = [_rebalance_one(grids[comm == c].reset_index(drop=True), units[unit_comm == c],
                            *args) for c in sorted(set(comm))]
    return _combine(parts, lo, hi)


def _rebalance_one(grids, units, roads_m, lo, hi, target, max_neighbours, retired_codes,
                   code_width, crs) -> RebalanceResult:
    grids_m = grids.to_crs(crs)
    units_m = units.to_crs(crs)
    hh = units["households"].to_numpy(dtype=float)
    where = locate(anchor_points(units_m.geometry.values), grids_m.geometry.values)
    h = np.bincount(where[where >= 0], hh[where >= 0], len(grids))
    kinds = grids["kind"].to_numpy() if "kind" in grids else np.array(["basic"] * len(grids))
    codes = grids["code"].astype(str).to_numpy()
    frames, replaced = [], set()
    for group, extra in _plan_groups(grids_m, h, lo, hi, kinds, max_neighbours):
        if replaced.intersection(group):  # redrawn already, as another group's neighbour
            continue
        extra = [n for n in extra if n not in replaced]  # a grid is redrawn once at most
        best = None
        for n_extra in range(len(extra) + 1):
            trial = group + extra[:n_extra]
            frame, mine, at = _redraw(trial, grids_m, units_m, hh, where, roads_m, lo, hi, target)
            miss = _miss(frame["households"].to_numpy(), lo, hi) - _miss(h[trial], lo, hi)
            if best is None or miss < best[0]:
                best = (miss, trial, frame, mine, at)
            if _fits(frame["households"].to_numpy(), lo, hi):
                break
        miss, trial, frame, mine, at = best
        if miss >= 0:  # no redraw misses the bounds by less (a village of 550): leave it be
            continue
        frame["code"] = _inherit(frame, codes, trial, where[mine], at, hh[mine])
        replaced.update(trial)
        frames.append(frame)
    keep = grids.assign(households=h)  # untouched grids keep their exact geometry
    return _finish(keep, crs, frames, replaced, codes, units_m, hh, where, lo, hi,
                   retired_codes, code_width)


def _combine(parts: list[RebalanceResult], lo, hi) -> RebalanceResult:
    """One result from the results of several communities."""
    grids = gpd.GeoDataFrame(pd.concat([p.grids for p in parts], ignore_index=True), crs=WGS84)
    changes = pd.concat([p.changes for p in parts], ignore_index=True)
    total = sum(p.report["households_total"] for p in parts)
    kept = sum(p.report["households_kept_share"] * p.report["households_total"] for p in parts)
    report = {key: sum(p.report[key] for p in parts)
              for key in ("grids", "grids_changed", "grids_redrawn", "grids_new")}
    report.update(households_total=total, households_kept_share=kept / max(total, 1e-9),
                  within_bounds_share=_within(grids, lo, hi))
    return RebalanceResult(grids=grids, changes=changes, report=report)


def _within(grids, lo, hi):
    """Share of basic grids within the bounds (exclusive grids are kept whole)."""
    basic = grids["kind"].eq("basic").to_numpy() if "kind" in grids else np.ones(len(grids), bool)
    h = grids["households"].to_numpy(dtype=float)[basic]
    return float(np.mean((h >= lo) & (h <= hi))) if len(h) else None


def _inherit(frame, codes, trial, old_at, new_at, hh):
    """Each old code of the group goes to the new grid holding most of its households."""
    table = pd.DataFrame({"old": old_at, "new": new_at, "h": hh})
    table = table[table["new"] >= 0].groupby(["old", "new"], as_index=False)["h"].sum()
    out = np.array([None] * len(frame), dtype=object)
    for _, row in table.sort_values("h", ascending=False).iterrows():
        code = codes[int(row["old"])]
        if out[int(row["new"])] is None and code not in set(out[out != None]):  # noqa: E711
            out[int(row["new"])] = code
    return out


def _community(grids, codes, width) -> str:
    """The community code of a community's grids: their column, else their codes' prefix."""
    if "community_code" in grids:
        found = grids["community_code"].dropna().astype(str)
        found = found[found != ""]
        if len(found):
            return str(found.mode().iat[0])
    return common_prefix(codes, width)


def _finish(grids, crs, frames, replaced, codes, units_m, hh, where, lo, hi, retired,
            width) -> RebalanceResult:
    keep = grids.drop(index=list(replaced))
    fresh = pd.concat(frames, ignore_index=True) if frames else keep.iloc[:0].to_crs(crs)
    missing = fresh["code"].isna().to_numpy() if len(fresh) else np.array([], dtype=bool)
    if missing.any():  # the next free serials: never a code in use or retired
        got = assign_codes(fresh.geometry.values[missing], ["basic"] * int(missing.sum()),
                           common_prefix(codes, width), width,
                           used=list(codes) + list(retired))
        fresh.loc[missing, "code"] = got
    fresh["community_code"] = _community(grids, codes, width)
    # the redrawn grids were cut in the metric CRS: fit their seams to the untouched
    # grids here (those keep their outline, gaining only a vertex a new seam needs)
    fresh = fresh.set_geometry(gpd.GeoSeries(list(seamless.clean(fresh.geometry.values, crs)),
                                             index=fresh.index, crs=crs)).to_crs(WGS84)
    kept_g, fresh_g = seamless.join(keep.geometry.values, fresh.geometry.values, WGS84)
    keep = keep.set_geometry(gpd.GeoSeries(list(kept_g), index=keep.index, crs=WGS84))
    fresh = fresh.set_geometry(gpd.GeoSeries(list(fresh_g), index=fresh.index, crs=WGS84))
    out = gpd.GeoDataFrame(pd.concat([keep, fresh], ignore_index=True), crs=WGS84)
    changed = {codes[r] for r in replaced}
    kept = set(out["code"]) - changed
    rows = [{"code": c, "change": "kept"} for c in sorted(kept - set(fresh["code"]))]
    rows += [{"code": c, "change": "redrawn" if c in changed else "new"} for c in fresh["code"]]
    rows += [{"code": c, "change": "retired"} for c in sorted(changed - set(fresh["code"]))]
    old = np.array([codes[w] if w >= 0 else None for w in where], dtype=object)
    at = locate(anchor_points(units_m.geometry.values), out.to_crs(crs).geometry.values)
    new_code = np.where(at >= 0, out["code"].to_numpy()[np.maximum(at, 0)], None)
    same = np.array([o is not None and o == n for o, n in zip(old, new_code)])
    total = max(hh.sum(), 1e-9)
    report = {"grids": len(out), "grids_changed": len(replaced) + int(missing.sum()),
              "grids_redrawn": len(replaced), "grids_new": int(missing.sum()),
              "households_total": float(hh.sum()),
              "households_kept_share": float(hh[same].sum() / total) if hh.sum() else 1.0,
              "within_bounds_share": _within(out, lo, hi)}
    return RebalanceResult(grids=out, changes=pd.DataFrame(rows), report=report)
