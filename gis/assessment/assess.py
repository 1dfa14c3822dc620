"""The 123456 assessment of grid workers for one month, from what they did.

:func:`assess` takes the evidence as tables (GPS fixes, staff, grids, incidents, visits,
key households, optionally a roster and buildings) and returns one row per worker with
the measures of the method (see :data:`COLUMNS` and the issue's definitions):

1. ``patrol_windows_*``: every (grid, half-day window) of the worker's grids in the month,
   minus the windows of roster days off; done when the worker's *own* fixes meet the
   patrol rule of :mod:`gis.patrol` there (the same cleaning, join and threshold as
   ``gridgis patrol``).
2. ``key_visits_*``: key households inside the worker's grids; done when the worker
   reached one on ``norms.key_visits`` distinct days of the month.
3. ``must_attend_*``: valid 3必到 incidents (:data:`gis.incidents.MUST_ATTEND`) reported in
   the month inside the worker's grids; verified by a fix (:mod:`.attend`), kept in
   :attr:`Assessment.cases`.
4. ``must_report_count``: valid reports by the worker in the 4必报 kinds
   (:data:`gis.incidents.MUST_REPORT`).
5. ``visit_days`` / ``visit_days_ok``: days with any kept fix or visit; days with at least
   ``norms.daily_households`` distinct households visited.
6. ``report_weeks`` / ``report_weeks_ok``: the ISO weeks of the month; weeks with at least
   ``norms.weekly_reports`` valid reports by the worker on the month's days in them.

Valid means not returned as invalid and not merged as a duplicate. Stars: see
:mod:`gis.assessment.norms`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.assessment import inputs, visits as visit_rules
from gis.assessment.fixes import FixResult, only_workers, run_fixes
from gis.assessment.month import Month, off_days
from gis.assessment.norms import Norms, rate, stars
from gis.errors import InputError
from gis.incidents import MUST_ATTEND, MUST_REPORT, TIME_LIMITS_H
from gis.patrol.cleaning import to_metric
from gis.patrol.compliance import patrolled, window_starts
from gis.patrol.fixes import Fixes
from gis.patrol.gridindex import GridIndex
from gis.patrol.tracks import fixes_from_frame
from gis.patrol.windows import DEFAULT_TZ, Windows

COLUMNS = ("worker", "patrol_windows_required", "patrol_windows_done", "patrol_rate",
           "key_visits_required", "key_visits_done", "must_attend_cases",
           "must_attend_verified", "must_report_count", "visit_days", "visit_days_ok",
           "report_weeks", "report_weeks_ok", "stars", "notes")
CASE_COLUMNS = ("worker", "incident", "category", "grid", "reported_at", "attend_by",
                "verified", "proof_time", "proof_lon", "proof_lat", "proof_distance_m")
HOUR_NS = 3_600 * 10**9


@dataclass
class Assessment:
    """What :func:`assess` returns.

    ``workers``: one row per worker of the staff table, :data:`COLUMNS`.
    ``cases``: one row per worker and 3必到 case, with the proving fix (:data:`CASE_COLUMNS`).
    ``days``: ``worker, day, active, households, ok`` for every day of the month.
    ``weeks``: ``worker, week, days_in_month, reports, ok``.
    ``dropped``: rows left out per table and reason; ``counts``: what was read.
    """

    workers: pd.DataFrame
    cases: pd.DataFrame
    days: pd.DataFrame
    weeks: pd.DataFrame
    dropped: dict[str, dict[str, int]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


def assess(fixes: pd.DataFrame | Fixes, staff: pd.DataFrame, grids: gpd.GeoDataFrame,
           incidents: pd.DataFrame, visits: pd.DataFrame, key_households: pd.DataFrame,
           month: str, tz: str = DEFAULT_TZ, *, roster: pd.DataFrame | None = None,
           buildings: gpd.GeoDataFrame | None = None, grid_key: str | None = None,
           building_key: str | None = None, norms: Norms = Norms(), advance=None) -> Assessment:
    """Assess every worker of ``staff`` for ``month`` (``YYYY-MM``, local in ``tz``).

    Parameters
    ----------
    fixes : ``worker, time, lon, lat`` (WGS 84; times without offset local in ``tz``),
        or :class:`gis.patrol.fixes.Fixes`.
    staff : ``worker, grid``, one row per worker and grid.
    grids : polygons; ``grid_key`` names them (default ``grid``, else ``code``).
    incidents : ``category, reported_at`` and ``reporter``, points (or ``lon``/``lat``);
        optional ``id``, ``subcategory``, ``status``, ``returned``, ``merged``/``merged_into``.
    visits : ``worker, time`` and ``household`` and/or ``building`` and/or a position.
    key_households : ``household, kind`` and ``building`` and/or a position.
    roster : ``worker, date, on`` (on/off, yes/no, 1/0...), optional.
    buildings : footprints to match visits to (``building_key`` names them), optional.

    Examples
    --------
    >>> a = assess(fixes, staff, grids, incidents, visits, keyhh, "2026-10")  # doctest: +SKIP
    >>> a.workers[["worker", "patrol_rate", "stars"]]                         # doctest: +SKIP
    """
    m = Month.parse(month, tz)
    dropped: dict[str, dict[str, int]] = {}
    staff_t, dropped["staff"] = inputs.staff_table(staff)
    index = GridIndex(grids, _grid_key(grids, grid_key))
    staff_t, notes = _staff_grids(staff_t, index)
    off, dropped["roster"] = off_days(roster, m)
    inc, dropped["incidents"] = inputs.incident_table(incidents, tz)
    inc = _locate(inc, index)
    pairs = _case_pairs(inc, staff_t, m, norms)
    f = fixes if isinstance(fixes, Fixes) else Fixes.from_frame(fixes_from_frame(fixes, tz=tz))
    f, other = only_workers(f, staff_t["worker"].unique())
    windows = Windows.of(norms.window, tz)
    res = run_fixes(f, index, windows, m, pairs, speed_max=norms.speed_max,
                    max_gap_s=norms.max_gap_s, radius=norms.attend_radius_m, advance=advance)
    dropped["fixes"] = res.dropped
    workers = pd.DataFrame({"worker": sorted(set(inputs.text(staff["worker"]).dropna()))})
    patrol = _patrol(res, staff_t, off, windows, m, norms)
    cases = _cases(pairs, res.proofs, index, tz)
    reports, weeks = _reports(inc, workers["worker"], m, norms)
    days, keys, dropped["visits"], dropped["key_households"] = _visits(
        visits, key_households, res, staff_t, index, buildings, building_key, m, norms)
    table = _table(workers, patrol, cases, reports, weeks, days, keys, off, m, norms, notes, res)
    counts = {"workers": len(table), "grids": len(index), "fixes_read": res.fixes_read,
              "fixes_of_other_workers": other, "incidents": len(inc), "cases": len(cases)}
    return Assessment(table, cases, days, weeks, dropped, counts)


def _grid_key(grids: gpd.GeoDataFrame, key: str | None) -> str:
    if key:
        return key
    for name in ("grid", "code"):
        if name in grids.columns:
            return name
    raise InputError("name the grids' key column (no 'grid' or 'code' column)", field="grid-key")


def _staff_grids(staff: pd.DataFrame, index: GridIndex) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Staff rows with the grid's position; a grid missing from the grids is a note."""
    pos = {k: i for i, k in enumerate(index.keys)}
    staff = staff.assign(g=staff["grid"].map(pos))
    notes: dict[str, list[str]] = {}
    for w, g in staff.loc[staff["g"].isna(), ["worker", "grid"]].itertuples(index=False):
        notes.setdefault(w, []).append(f"grid {g} not among the grids")  # a handful at most
    return staff.dropna(subset=["g"]).astype({"g": np.int64}).reset_index(drop=True), notes


def _locate(inc: pd.DataFrame, index: GridIndex) -> pd.DataFrame:
    x, y = to_metric(inc["lon"].to_numpy(float), inc["lat"].to_numpy(float), index.crs)
    ok = ~(np.isnan(x) | np.isnan(y))
    g = np.full(len(inc), -1, np.int64)
    g[ok] = index.locate(x[ok], y[ok])
    return inc.assign(x=x, y=y, g=g)


def _case_pairs(inc: pd.DataFrame, staff: pd.DataFrame, m: Month, norms: Norms) -> pd.DataFrame:
    """(worker, case) for every valid 3必到 incident of the month in the worker's grids,
    with the span in which a fix proves attendance."""
    t = inc["reported_at"].to_numpy(np.int64)
    case = inc[inc["valid"] & inc["category"].isin(MUST_ATTEND) & (m.day_of(t) >= 0)
               & (inc["g"] >= 0)]
    hours = case["category"].map(lambda c: TIME_LIMITS_H[c][0]) if norms.attend_limit_h is None \
        else pd.Series(norms.attend_limit_h, index=case.index)
    case = case.assign(t0=case["reported_at"],
                       t1=case["reported_at"] + np.rint(hours.to_numpy(float) * HOUR_NS).astype(np.int64))
    pairs = case.merge(staff[["worker", "g"]].drop_duplicates(), on="g")
    return pairs.assign(pair=np.arange(len(pairs))).reset_index(drop=True)


def _patrol(res: FixResult, staff: pd.DataFrame, off: pd.DataFrame, windows: Windows,
            m: Month, norms: Norms) -> pd.DataFrame:
    """Per worker: windows required (grids × windows on duty) and done (own patrol)."""
    starts = window_starts(windows, None, None, m.start_ns, m.end_ns)
    wday = pd.DataFrame({"window": starts, "day": m.day_of(starts)})
    p = res.presence.merge(wday, on="window")  # the month's windows only
    p = p[patrolled(p["seconds"] / 60.0, p["metres"], norms.min_minutes, norms.min_metres)]
    p = p.rename(columns={"grid": "g"}).merge(staff[["worker", "g"]].drop_duplicates(),
                                              on=["worker", "g"])
    p = p.merge(off.assign(off=True), on=["worker", "day"], how="left")
    done = p[p["off"].isna()].groupby("worker").size()
    grids = staff.drop_duplicates(["worker", "g"]).groupby("worker").size()
    off_windows = off.merge(wday, on="day").groupby("worker").size()
    per = pd.DataFrame({"grids": grids})
    per["required"] = per["grids"] * (len(starts) - off_windows.reindex(per.index, fill_value=0))
    per["done"] = done.reindex(per.index, fill_value=0)
    return per


def _cases(pairs: pd.DataFrame, proofs: pd.DataFrame, index: GridIndex, tz: str) -> pd.DataFrame:
    c = pairs.merge(proofs, on="pair", how="left")
    when = lambda ns: pd.to_datetime(ns, utc=True).dt.tz_convert(tz)  # noqa: E731
    out = pd.DataFrame({
        "worker": c["worker"], "incident": c["id"], "category": c["category"],
        "grid": index.keys[c["g"].to_numpy(np.int64)] if len(c) else [],
        "reported_at": when(c["reported_at"].astype(np.int64)),
        "attend_by": when(c["t1"].astype(np.int64)), "verified": c["proof_t"].notna(),
        "proof_time": when(c["proof_t"]), "proof_lon": c["proof_lon"],
        "proof_lat": c["proof_lat"], "proof_distance_m": c["proof_distance_m"].round(1)})
    return out.sort_values(["worker", "reported_at", "incident"]).reset_index(drop=True)


def _must_report(inc: pd.DataFrame) -> np.ndarray:
    kinds = inc["category"].map(lambda c: c in MUST_REPORT).to_numpy(bool)
    subs = inc["category"].map(lambda c: MUST_REPORT.get(c)).to_numpy(object)
    sub = inc["subcategory"].to_numpy(object)
    allowed = np.array([s is None or t is None or t in s for s, t in zip(subs, sub)], bool) \
        if len(inc) else np.zeros(0, bool)  # one check per report, not per fix
    return kinds & allowed


def _reports(inc: pd.DataFrame, workers: pd.Series, m: Month, norms: Norms):
    """4必报 counts per worker, and the weekly table of valid reports."""
    day = m.day_of(inc["reported_at"].to_numpy(np.int64))
    mine = inc[inc["valid"] & (day >= 0) & inc["reporter"].isin(set(workers))]
    mine = mine.assign(week=m.week_of_day[day[mine.index]], must=_must_report(mine))
    must = mine[mine["must"]].groupby("reporter").size()
    counts = mine.groupby(["reporter", "week"]).size()
    full = pd.MultiIndex.from_product([workers, np.arange(len(m.week_labels))],
                                      names=["worker", "week"])
    weeks = counts.reindex(full, fill_value=0).rename("reports").reset_index()
    weeks["days_in_month"] = m.days_in_week()[weeks["week"].to_numpy()]
    weeks["ok"] = weeks["reports"] >= norms.weekly_reports
    weeks["week"] = np.asarray(m.week_labels)[weeks["week"].to_numpy()]
    return must, weeks[["worker", "week", "days_in_month", "reports", "ok"]]


def _visits(visits, key_households, res: FixResult, staff: pd.DataFrame, index: GridIndex,
            buildings, building_key, m: Month, norms: Norms):
    """The daily table (active days, households visited) and key households per worker."""
    v, dropped_v = inputs.visit_table(visits, m.tz)
    kh, dropped_k = inputs.key_household_table(key_households)
    kh, unplaced = visit_rules.place_key_households(kh, buildings, building_key, index.crs,
                                                    norms.building_match_m)
    dropped_k["no_position"] = unplaced
    ids, geoms = visit_rules.sites(buildings, building_key, kh, index.crs)
    v = visit_rules.match_visits(v, ids, geoms, index.crs, norms.building_match_m)
    v = v.assign(day=m.day_of(v["t"].to_numpy(np.int64)))
    v = v[(v["day"] >= 0) & v["worker"].isin(set(staff["worker"]))]
    per_day = v.groupby(["worker", "day"])["who"].nunique().rename("households")
    active = pd.concat([res.active, v[["worker", "day"]]]).drop_duplicates()
    days = active.assign(active=True).merge(per_day.reset_index(), on=["worker", "day"], how="left")
    days["households"] = days["households"].fillna(0).astype(np.int64)
    days["ok"] = days["households"] >= norms.daily_households
    days["day"] = np.asarray(m.day_labels, dtype=object)[days["day"].to_numpy(np.int64)]
    x, y = to_metric(kh["lon"].to_numpy(float), kh["lat"].to_numpy(float), index.crs)
    kh = kh.assign(g=index.locate(x, y))
    mine = kh.merge(staff[["worker", "g"]].drop_duplicates(), on="g")[["worker", "household"]]
    reached = visit_rules.key_visit_days(v, kh)
    mine = mine.merge(reached, on=["worker", "household"], how="left").fillna({"days": 0})
    mine["done"] = mine["days"] >= norms.key_visits
    days = days.sort_values(["worker", "day"]).reset_index(drop=True)
    return days, mine, dropped_v, dropped_k


def _table(workers, patrol, cases, reports, weeks, days, keys, off, m: Month, norms: Norms,
           notes: dict[str, list[str]], res: FixResult) -> pd.DataFrame:
    t = workers.set_index("worker")
    t["patrol_windows_required"] = patrol["required"].reindex(t.index, fill_value=0)
    t["patrol_windows_done"] = patrol["done"].reindex(t.index, fill_value=0)
    t["patrol_rate"] = rate(t["patrol_windows_done"], t["patrol_windows_required"])
    t["key_visits_required"] = keys.groupby("worker").size().reindex(t.index, fill_value=0)
    t["key_visits_done"] = keys.groupby("worker")["done"].sum().reindex(t.index, fill_value=0)
    t["must_attend_cases"] = cases.groupby("worker").size().reindex(t.index, fill_value=0)
    t["must_attend_verified"] = cases.groupby("worker")["verified"].sum().reindex(t.index, fill_value=0)
    t["must_report_count"] = reports.reindex(t.index, fill_value=0)
    t["visit_days"] = days.groupby("worker").size().reindex(t.index, fill_value=0)
    t["visit_days_ok"] = days.groupby("worker")["ok"].sum().reindex(t.index, fill_value=0)
    t["report_weeks"] = len(m.week_labels)
    t["report_weeks_ok"] = weeks.groupby("worker")["ok"].sum().reindex(t.index, fill_value=0)
    n_off = off.groupby("worker").size().reindex(t.index, fill_value=0)
    rates = pd.DataFrame({
        "patrol": t["patrol_rate"],
        "key_visits": rate(t["key_visits_done"], t["key_visits_required"]),
        "must_attend": rate(t["must_attend_verified"], t["must_attend_cases"]),
        "visit_days": rate(t["visit_days_ok"], len(m.day_labels) - n_off),
        "report_weeks": rate(t["report_weeks_ok"], t["report_weeks"])}, index=t.index)
    t["stars"], _ = stars(rates, norms)
    t["notes"] = _notes(t, off, m, notes, res)
    out = t.reset_index()[list(COLUMNS)]
    ints = [c for c in COLUMNS if c not in ("worker", "patrol_rate", "notes")]
    return out.astype({c: np.int64 for c in ints})


def _notes(t: pd.DataFrame, off: pd.DataFrame, m: Month, extra: dict[str, list[str]],
           res: FixResult) -> list[str]:
    """What is missing or excluded, in words, per worker (one entry per worker: a loop
    over workers, not over fixes)."""
    with_fixes = set(res.active["worker"])
    off_by = off.groupby("worker")["day"].apply(list).to_dict()
    out = []
    for w, r in t.iterrows():
        n = list(extra.get(w, []))
        if r["patrol_windows_required"] == 0 and not off_by.get(w):
            n.append("no grids")
        if w not in with_fixes:
            n.append("no fixes in the month")
        if r["key_visits_required"] == 0:
            n.append("no key households in their grids")
        if r["must_attend_cases"] == 0:
            n.append("no 3必到 cases in their grids")
        if r["visit_days"] == 0:
            n.append("no visits or fixes on any day")
        if off_by.get(w):
            days = ", ".join(m.day_labels[d] for d in off_by[w])
            n.append(f"off duty {days}: those windows not required")
        out.append("; ".join(n))
    return out
