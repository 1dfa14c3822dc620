"""Household visits (入户走访) for a generated district: each worker, on each day of patrol,
visits a few households along their own track (a fix of the day, in time order), so the
visits agree with the patrols and the five-a-day norm is met on most days, not all.

Examples
--------
>>> from gis.generate import generate_district
>>> v = visits_along_patrols(generate_district(2000, 1).patrol_points, seed=1)
>>> sorted(v.columns)
['lat', 'lon', 'time', 'worker']
>>> bool(v.groupby(["worker", v["time"].dt.date]).size().between(3, 7).all())
True
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PER_DAY = (3, 7)   # visits a worker makes on a day of patrol: from 3 to 7 (norm: 5)


def visits_along_patrols(fixes: pd.DataFrame, seed: int = 0,
                         per_day: tuple[int, int] = PER_DAY) -> pd.DataFrame:
    """``worker``, ``time``, ``lon``, ``lat`` of visits made at fixes of each worker's day
    (``fixes``: ``worker``, ``time`` aware, ``lon``, ``lat``)."""
    rng = np.random.default_rng(seed)
    if fixes.empty:
        return pd.DataFrame({"worker": [], "time": [], "lon": [], "lat": []})
    day = fixes["time"].dt.date
    parts = []
    for _, group in fixes.groupby([fixes["worker"], day], sort=True):
        n = min(len(group), int(rng.integers(per_day[0], per_day[1] + 1)))
        picks = np.sort(rng.choice(len(group), size=n, replace=False))
        parts.append(group.iloc[picks][["worker", "time", "lon", "lat"]])
    return pd.concat(parts, ignore_index=True)
