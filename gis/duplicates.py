"""Likely duplicates among open incidents, and what a merge moves to the survivor.

Pure: GeoDataFrames and plain values in and out. Two reports are likely the same problem
when they share a category, lie within ``distance_m`` metres of each other (measured in the
metric CRS of the area, :func:`gis.crs.metric_crs_for`) and were reported within
``within_hours`` of each other; only open incidents that have not been merged are
candidates. A dispatcher then merges one into the other: the merged incident closes with the
resolution ``merged`` and a pointer to the survivor, its reporters and attachments move to
the survivor, and every statistic counts the pair once (:func:`count_once`).

A new report of a problem that was closed lately is a repeat (重办): :func:`closed_duplicates`
finds incidents of the same category within ``distance_m`` closed within the reopen window
(:data:`DEFAULT_REOPEN_DAYS`), whatever their report time; merging the new report into one of
them reopens it (:func:`plan_merge` with ``reopen_window``). Outside the window a closed
incident never absorbs a report: the new one is a case of its own.

Examples
--------
>>> import geopandas as gpd, pandas as pd
>>> from shapely.geometry import Point
>>> t = pd.Timestamp("2026-09-01 08:00", tz="UTC")
>>> frame = gpd.GeoDataFrame({"id": [1, 2, 3], "category": ["environment"] * 3,
...     "status": ["reported", "accepted", "closed"], "reported_at": [t, t, t]},
...     geometry=[Point(113.08, 28.25), Point(113.0803, 28.25), Point(113.08, 28.25)],
...     crs=4326)
>>> likely_duplicates(frame.iloc[[0]], frame)[["id", "duplicate_id"]].values.tolist()
[[1, 2]]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.crs import WGS84, metric_crs_for
from gis.errors import Conflict, InputError

DEFAULT_DISTANCE_M = 50.0
DEFAULT_WITHIN_HOURS = 72.0
DEFAULT_REOPEN_DAYS = 30.0   # a repeat report this long after closing reopens the case
REPEAT_REPORT = "repeat_report"   # the reason of a reopen by a new report of the same problem
MERGED = "merged"            # the resolution of an incident merged into another
CLOSED = ("closed",)         # statuses that are never a duplicate candidate
NEEDED = ("id", "category", "status", "reported_at", "geometry")
COLUMNS = ["id", "duplicate_id", "distance_m", "hours_apart"]
CLOSED_COLUMNS = ["id", "duplicate_id", "distance_m", "hours_apart", "closed_at"]


def _check(frame: gpd.GeoDataFrame, name: str) -> None:
    missing = [c for c in NEEDED if c not in frame.columns]
    if missing:
        raise InputError(f"{name} lack column(s) {', '.join(missing)}", field=missing[0])
    if frame.crs is None:
        raise InputError(f"{name} have no CRS", field="geometry")


def _open(candidates: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    keep = ~candidates["status"].isin(CLOSED) & candidates.geometry.notna()
    if "merged_into" in candidates.columns:
        keep &= candidates["merged_into"].isna()
    return candidates[keep]


def likely_duplicates(incidents: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame, *,
                      distance_m: float = DEFAULT_DISTANCE_M,
                      within_hours: float = DEFAULT_WITHIN_HOURS) -> pd.DataFrame:
    """Pairs ``(id, duplicate_id, distance_m, hours_apart)``, nearest first per incident.

    Parameters
    ----------
    incidents : GeoDataFrame
        The incidents to check (one, on report; or many), with ``id``, ``category``,
        ``status``, ``reported_at`` (time-zone aware) and point geometry in any CRS.
    candidates : GeoDataFrame
        Incidents they may duplicate, same columns (``merged_into`` optional). Closed or
        merged ones and the incident itself are never returned.
    distance_m, within_hours : float
        The radius in metres and the gap between the two report times, either way.
    """
    return near_reports(incidents, candidates, distance_m=distance_m,
                        within_hours=within_hours)[0]


def closed_duplicates(incidents: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame, *,
                      closed_since: datetime,
                      distance_m: float = DEFAULT_DISTANCE_M) -> pd.DataFrame:
    """Pairs ``(id, duplicate_id, distance_m, hours_apart, closed_at)``: closed, unmerged
    incidents of the same category within ``distance_m`` metres, closed at or after
    ``closed_since`` (the reopen window), whenever reported, nearest first per incident.
    ``candidates`` need ``closed_at``.
    """
    return near_reports(incidents, candidates, distance_m=distance_m,
                        closed_since=closed_since)[1]


def near_reports(incidents: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame, *,
                 distance_m: float = DEFAULT_DISTANCE_M,
                 within_hours: float = DEFAULT_WITHIN_HOURS,
                 closed_since: datetime | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both lists with one spatial join: ``(likely duplicates, closed duplicates)`` as
    :func:`likely_duplicates` and :func:`closed_duplicates` give them (no closed ones
    without ``closed_since``)."""
    _check(incidents, "incidents")
    _check(candidates, "candidates")
    if not distance_m > 0 or not within_hours > 0:
        raise InputError("distance and hours must be positive",
                         field="distance_m" if not distance_m > 0 else "within_hours")
    if closed_since is not None and "closed_at" not in candidates.columns:
        raise InputError("candidates lack column closed_at", field="closed_at")
    open_ = _open(candidates)
    closed = _closed_since(candidates, closed_since)
    pairs = _near_pairs(incidents, pd.concat([open_, closed]), distance_m)
    is_open = pairs["duplicate_id"].isin(open_["id"]).to_numpy()
    found = pairs[is_open & (pairs["hours_apart"] <= within_hours).to_numpy()]
    again = pairs[~is_open]
    when = (closed.set_index("id")["closed_at"] if "closed_at" in closed.columns
            else pd.Series(dtype=object))
    again = again.assign(closed_at=when.reindex(again["duplicate_id"]).to_numpy())
    order = ["id", "distance_m", "duplicate_id"]
    return (found[COLUMNS].sort_values(order).reset_index(drop=True),
            again[CLOSED_COLUMNS].sort_values(order).reset_index(drop=True))


def _closed_since(candidates: gpd.GeoDataFrame, since: datetime | None) -> gpd.GeoDataFrame:
    """Closed, unmerged candidates closed at or after ``since`` (none when None)."""
    if since is None:
        return candidates.iloc[:0]
    keep = (candidates["status"].isin(CLOSED) & candidates.geometry.notna()
            & (pd.to_datetime(candidates["closed_at"], utc=True) >= pd.Timestamp(since)))
    if "merged_into" in candidates.columns:
        keep &= candidates["merged_into"].isna()
    return candidates[keep]


def _near_pairs(incidents: gpd.GeoDataFrame, right: gpd.GeoDataFrame,
                distance_m: float) -> pd.DataFrame:
    """Same-category pairs within ``distance_m`` metres (measured in the metric CRS of the
    area): ``id``, ``duplicate_id``, ``distance_m`` and ``hours_apart`` between the reports."""
    left = incidents[incidents.geometry.notna()].to_crs(WGS84)
    right = right.to_crs(WGS84)
    if left.empty or right.empty:
        return pd.DataFrame(columns=COLUMNS)
    metric = metric_crs_for(pd.concat([left.geometry, right.geometry]))
    left_m, right_m = left.to_crs(metric), right.to_crs(metric)
    pairs = gpd.sjoin(left_m[["id", "category", "reported_at", "geometry"]],
                      right_m[["id", "category", "reported_at", "geometry"]],
                      predicate="dwithin", distance=distance_m, lsuffix="l", rsuffix="r")
    pairs = pairs[(pairs["category_l"] == pairs["category_r"]) & (pairs["id_l"] != pairs["id_r"])]
    hours = (pairs["reported_at_r"] - pairs["reported_at_l"]).dt.total_seconds().abs() / 3600
    far_side = right_m.geometry.loc[pairs["index_r"]].to_numpy()
    dist = pairs.geometry.distance(gpd.GeoSeries(far_side, index=pairs.index, crs=metric))
    return pd.DataFrame({"id": pairs["id_l"].to_numpy(), "duplicate_id": pairs["id_r"].to_numpy(),
                         "distance_m": np.round(dist.to_numpy(), 1),
                         "hours_apart": np.round(hours.to_numpy(), 2)})


@dataclass(frozen=True)
class MergePlan:
    """What merging ``merged_id`` into ``survivor_id`` changes."""

    merged_id: int
    survivor_id: int
    reporters: tuple          # the survivor's reporters, then the merged one's new ones
    attachment_ids: tuple     # the merged incident's attachments, now the survivor's
    resolution: str = MERGED  # the merged incident closes with this resolution
    reopen: bool = False      # the survivor was closed lately: it reopens (重办)


def plan_merge(merged: Mapping, survivor: Mapping, *, reopen_window: timedelta | None = None,
               now: datetime | None = None) -> MergePlan:
    """Check that ``merged`` may be merged into ``survivor`` and say what moves.

    Each is a mapping with ``id``, ``status``, and optionally ``merged_into``, ``closed_at``,
    ``reporters`` and ``attachment_ids``. ``merged`` must be open; neither may have been
    merged; an incident is never merged into itself. The survivor is open, or (given
    ``reopen_window`` and ``now``) closed within the window before ``now``: then it reopens.
    Raises :class:`~gis.errors.Conflict` otherwise.
    """
    if merged["id"] == survivor["id"]:
        raise InputError("an incident cannot be merged into itself", field="into")
    for role, row in (("merged", merged), ("survivor", survivor)):
        if row.get("merged_into") is not None:
            raise Conflict(f"incident {row['id']} was already merged into "
                           f"{row['merged_into']}")
    if merged["status"] in CLOSED:
        raise Conflict(f"incident {merged['id']} (merged) is closed: only open incidents merge")
    reopen = survivor["status"] in CLOSED
    if reopen:
        _check_window(survivor, reopen_window, now)
    return MergePlan(merged_id=merged["id"], survivor_id=survivor["id"],
                     reporters=_union(survivor.get("reporters") or (),
                                      merged.get("reporters") or ()),
                     attachment_ids=tuple(merged.get("attachment_ids") or ()), reopen=reopen)


def _check_window(survivor: Mapping, window: timedelta | None, now: datetime | None) -> None:
    """A closed survivor reopens only when it was closed within ``window`` before ``now``."""
    closed_at = survivor.get("closed_at")
    if window is None or now is None:
        raise Conflict(f"incident {survivor['id']} (survivor) is closed: only open incidents "
                       "merge")
    if closed_at is None or closed_at < now - window:
        when = f"on {closed_at:%Y-%m-%d}" if closed_at is not None else "at an unknown time"
        raise Conflict(f"incident {survivor['id']} was closed {when}, more than "
                       f"{window / timedelta(days=1):g} days ago (the reopen window): "
                       "report this as a case of its own")


def _union(first: Iterable, second: Iterable) -> tuple:
    seen, out = set(), []
    for item in (*first, *second):
        key = repr(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return tuple(out)


def count_once(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows that count in statistics: a merged incident is counted by its survivor."""
    if "merged_into" not in frame.columns:
        return frame
    return frame[frame["merged_into"].isna()]
