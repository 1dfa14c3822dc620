"""Half-day patrol compliance (半日一巡): was each grid patrolled in each window?

A grid counts as patrolled in a window when the time spent inside reaches
``min_minutes`` or the distance walked inside reaches ``min_metres`` (either one; a
threshold left as ``None`` is not used). Every grid appears in every window of the
period, with zeros when nobody entered it.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.errors import InputError
from gis.patrol.join import MICRO, micro
from gis.patrol.windows import Windows

DEFAULT_MIN_MINUTES = 5.0


def window_starts(windows: Windows, first_ns: int | None, last_ns: int | None,
                  start_ns: int | None = None, end_ns: int | None = None) -> np.ndarray:
    """Windows of the period: ``start_ns``/``end_ns`` (end exclusive) when given, else the
    span of the data; both ends snapped outwards to whole windows."""
    lo = start_ns if start_ns is not None else first_ns
    hi = end_ns - 1 if end_ns is not None else last_ns
    if lo is None or hi is None:
        raise InputError("no fixes left to define the period; give --from and --to", field="from")
    if hi < lo:
        raise InputError("--to must be after --from", field="to")
    return windows.span(int(lo), int(hi))


def patrolled(minutes, metres, min_minutes: float | None, min_metres: float | None) -> np.ndarray:
    """The patrol rule, vectorised: some presence, and a threshold reached."""
    minutes, metres = np.asarray(minutes, float), np.asarray(metres, float)
    if min_minutes is None and min_metres is None:
        raise InputError("give a minimum time or distance inside a grid", field="min-minutes")
    hit = np.zeros(len(minutes), dtype=bool)
    if min_minutes is not None:
        hit |= minutes >= min_minutes
    if min_metres is not None:
        hit |= metres >= min_metres
    return hit & ((minutes > 0) | (metres > 0))


def compliance_table(presence: pd.DataFrame, keys: np.ndarray, windows: Windows,
                     starts: np.ndarray, *, min_minutes: float | None = DEFAULT_MIN_MINUTES,
                     min_metres: float | None = None) -> pd.DataFrame:
    """One row per grid per window, every grid listed.

    Parameters
    ----------
    presence : output of :func:`gis.patrol.join.presence` (``grid`` positions).
    keys : grid keys by position (``GridIndex.keys``).
    starts : window starts (UTC ns) of the period, from :func:`window_starts`.

    Returns
    -------
    DataFrame : ``grid``, ``window_start`` (ISO with offset), ``patrolled``, ``minutes``,
        ``metres``, ``entries``, ``workers`` (number of workers inside), sorted by grid
        position then window. For long periods over many grids, stream the same rows
        with :func:`compliance_chunks` instead of holding them all.
    """
    parts = list(compliance_chunks(presence, keys, windows, starts, min_minutes=min_minutes,
                                   min_metres=min_metres, rows=max(len(keys) * len(starts), 1)))
    if parts:
        return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    return _rows(pd.DataFrame({"seconds": [], "metres": [], "entries": [], "workers": []},
                              index=pd.MultiIndex.from_arrays([[], []], names=["grid", "window"])),
                 keys, starts, np.array([], object), min_minutes, min_metres)


def compliance_chunks(presence: pd.DataFrame, keys: np.ndarray, windows: Windows,
                      starts: np.ndarray, *, min_minutes: float | None = DEFAULT_MIN_MINUTES,
                      min_metres: float | None = None, rows: int = 500_000):
    """The rows of :func:`compliance_table` in pieces of about ``rows`` rows (whole grids,
    all windows each), in the same order: memory stays bounded by one piece plus the
    presence itself, whatever the number of grids and windows."""
    agg = _aggregate(presence, starts)
    labels = np.asarray(windows.labels(starts), dtype=object)
    per = max(1, rows // max(len(starts), 1))
    for g0 in range(0, len(keys) if len(starts) else 0, per):
        grids = np.arange(g0, min(g0 + per, len(keys)))
        full = pd.MultiIndex.from_product([grids, np.asarray(starts, np.int64)],
                                          names=["grid", "window"])
        yield _rows(agg.reindex(full, fill_value=0), keys, starts, labels, min_minutes, min_metres)


def _aggregate(presence: pd.DataFrame, starts: np.ndarray) -> pd.DataFrame:
    """Exact sums per (grid, window) of the period: only where someone was present."""
    sel = presence[presence["window"].isin(starts)]
    sel = sel.assign(seconds=micro(sel["seconds"]), metres=micro(sel["metres"]))  # exact sums
    return sel.groupby(["grid", "window"], sort=True).agg(
        seconds=("seconds", "sum"), metres=("metres", "sum"), entries=("entries", "sum"),
        workers=("worker", "nunique"))


def _rows(agg: pd.DataFrame, keys, starts, labels, min_minutes, min_metres) -> pd.DataFrame:
    minutes = agg["seconds"].to_numpy() / MICRO / 60.0
    metres = agg["metres"].to_numpy() / MICRO
    g = agg.index.get_level_values("grid").to_numpy(np.int64)
    w = np.searchsorted(np.asarray(starts, np.int64),
                        agg.index.get_level_values("window").to_numpy(np.int64))
    return pd.DataFrame({
        "grid": np.asarray(keys)[g], "window_start": labels[w] if len(w) else labels[:0],
        "patrolled": patrolled(minutes, metres, min_minutes, min_metres),
        "minutes": minutes, "metres": metres,
        "entries": agg["entries"].to_numpy(np.int64), "workers": agg["workers"].to_numpy(np.int64)})


def grid_summary(chunks) -> pd.DataFrame:
    """Per grid over the whole period, from the pieces of :func:`compliance_chunks` (or
    one compliance table): windows, windows patrolled, rate, minutes, metres, entries."""
    parts = [c.groupby("grid", sort=False).agg(
        windows=("patrolled", "size"), patrolled=("patrolled", "sum"),
        minutes=("minutes", "sum"), metres=("metres", "sum"), entries=("entries", "sum"))
        for c in chunks]
    if not parts:
        return pd.DataFrame(columns=["grid", "windows", "patrolled", "rate", "minutes",
                                     "metres", "entries"])
    out = pd.concat(parts)
    out["rate"] = out["patrolled"] / out["windows"]
    return out.reset_index()[["grid", "windows", "patrolled", "rate", "minutes", "metres",
                              "entries"]]


def rates(table: pd.DataFrame, grids: pd.DataFrame | None = None, *, by: str | None = None,
          key: str | None = None) -> pd.DataFrame:
    """Share of windows patrolled, per grid or per admin unit (``by="community"`` ...).

    ``grids`` with its ``key`` column maps each grid to its unit; without ``by`` the
    rate is per grid.
    """
    t = table
    if by is not None:
        if grids is None or by not in grids.columns or key not in grids.columns:
            raise InputError(f"grids need columns {key!r} and {by!r} to rate by {by}", field=by)
        unit = dict(zip(grids[key].astype(str), grids[by]))
        t = table.assign(**{by: table["grid"].map(unit)})
    col = by or "grid"
    out = t.groupby(col, sort=True).agg(windows=("patrolled", "size"),
                                        patrolled=("patrolled", "sum"))
    out["rate"] = out["patrolled"] / out["windows"]
    return out.reset_index()


def worker_rates(presence: pd.DataFrame, starts: np.ndarray, *,
                 min_minutes: float | None = DEFAULT_MIN_MINUTES,
                 min_metres: float | None = None) -> pd.DataFrame:
    """Per worker: grid-windows they patrolled themselves, windows with at least one,
    and the share of the period's windows in which they patrolled."""
    sel = presence[presence["window"].isin(starts)]
    sel = sel.assign(hit=patrolled(sel["seconds"] / 60.0, sel["metres"], min_minutes, min_metres),
                     minutes=sel["seconds"] / 60.0)
    per = sel.groupby("worker", sort=True).agg(grid_windows=("hit", "sum"),
                                               minutes=("minutes", "sum"), metres=("metres", "sum"))
    windows = sel[sel["hit"]].groupby("worker")["window"].nunique()
    per["windows"] = windows.reindex(per.index, fill_value=0).astype(np.int64)
    per["rate"] = per["windows"] / max(len(starts), 1)
    return per.reset_index()


def missed_grids(table: pd.DataFrame, last_n: int = 2) -> pd.DataFrame:
    """Grids not patrolled in the last ``last_n`` windows of the table.

    Returns ``grid``, ``missed`` (how many of the last N windows were missed, ≥ 1),
    ``missed_all`` and ``last_patrolled`` (window start or None), most missed first.
    """
    starts = sorted(table["window_start"].unique(), key=lambda s: pd.Timestamp(s))
    recent = set(starts[-last_n:])
    tail = table[table["window_start"].isin(recent)]
    missed = (~tail["patrolled"]).groupby(tail["grid"], sort=False).sum()
    done = table[table["patrolled"]]
    last = done.assign(ts=pd.to_datetime(done["window_start"], utc=True)).groupby("grid")["ts"].idxmax()
    last_label = done.loc[last.to_numpy(), ["grid", "window_start"]].set_index("grid")["window_start"]
    out = pd.DataFrame({"grid": missed.index, "missed": missed.to_numpy(np.int64)})
    out = out[out["missed"] > 0]
    out["missed_all"] = out["missed"] == len(recent)
    out["last_patrolled"] = out["grid"].map(last_label).astype(object)
    out = out.where(out.notna(), None)
    return out.sort_values(["missed", "grid"], ascending=[False, True]).reset_index(drop=True)


def compliance_layer(table: pd.DataFrame, grids: gpd.GeoDataFrame, key: str | None) -> gpd.GeoDataFrame:
    """The compliance choropleth: the table with each grid's polygon (EPSG:4326)."""
    keys = grids[key].astype(str) if key else pd.Series(np.arange(len(grids))).astype(str)
    geom = dict(zip(keys, grids.geometry.to_crs(4326) if grids.crs else grids.geometry))
    return gpd.GeoDataFrame(table, geometry=table["grid"].map(geom).to_numpy(), crs=4326)
