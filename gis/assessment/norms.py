"""The norms of the 123456 method and the star weighting, configurable per county.

Defaults are the method's own figures: a patrol of every grid each half day, two visits a
month to each key household, 3必到 cases attended within the category's accept limit at
50 m, five households a day, six valid reports a week.

Stars (1–5) come from one score, the weighted mean of the rates that apply to the worker:

============== ======= =====================================================
rate           weight  value
============== ======= =====================================================
patrol         0.30    patrol_windows_done / patrol_windows_required
key_visits     0.15    key_visits_done / key_visits_required
must_attend    0.20    must_attend_verified / must_attend_cases
visit_days     0.20    visit_days_ok / days on duty in the month
report_weeks   0.15    report_weeks_ok / report_weeks
============== ======= =====================================================

A rate with nothing required (no key households, no 3必到 case) is left out and the other
weights are scaled up, so nobody gains or loses for what did not happen. 4必报 has no
denominator (what must be reported depends on what happened), so its count is shown
beside the stars, not inside them. Score ≥ 0.90 → 5 stars, ≥ 0.75 → 4, ≥ 0.60 → 3,
≥ 0.40 → 2, else 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gis.patrol.cleaning import CYCLING_SPEED, DEFAULT_MAX_GAP_S
from gis.patrol.compliance import DEFAULT_MIN_MINUTES
from gis.patrol.stops import DAILY_VISIT_NORM

WEIGHTS = (("patrol", 0.30), ("key_visits", 0.15), ("must_attend", 0.20),
           ("visit_days", 0.20), ("report_weeks", 0.15))
STAR_CUTS = (0.40, 0.60, 0.75, 0.90)  # score at or above the k-th cut: k + 2 stars


@dataclass(frozen=True)
class Norms:
    """Everything a county may set; the defaults are the 123456 method's."""

    window: str = "12h"                          # 1: 半日一巡
    min_minutes: float | None = DEFAULT_MIN_MINUTES  # the patrol rule's thresholds
    min_metres: float | None = None
    speed_max: float = CYCLING_SPEED             # the patrol cleaning's teleport speed
    max_gap_s: float = DEFAULT_MAX_GAP_S
    key_visits: int = 2                          # 2: visits a month per key household
    attend_radius_m: float = 50.0                # 3: a fix this close proves attendance
    attend_limit_h: float | None = None          # None: the category's accept limit
    daily_households: int = DAILY_VISIT_NORM     # 5: households visited a day
    weekly_reports: int = 6                      # 6: valid reports a week
    building_match_m: float = 30.0               # a visit's nearest building, at most this far
    weights: tuple[tuple[str, float], ...] = WEIGHTS
    star_cuts: tuple[float, ...] = STAR_CUTS


def rate(done, required) -> np.ndarray:
    """done / required, NaN where nothing was required."""
    done, required = np.asarray(done, float), np.asarray(required, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(required > 0, done / np.where(required > 0, required, 1), np.nan)


def stars(rates: pd.DataFrame, norms: Norms = Norms()) -> tuple[np.ndarray, np.ndarray]:
    """(stars 1–5, score 0–1) from a frame with one column per rate in ``norms.weights``
    (NaN = not applicable, left out of the weighting)."""
    num = np.zeros(len(rates))
    den = np.zeros(len(rates))
    for name, weight in norms.weights:
        r = rates[name].to_numpy(float)
        ok = ~np.isnan(r)
        num[ok] += weight * r[ok]
        den[ok] += weight
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)
    return 1 + np.searchsorted(np.asarray(norms.star_cuts), score, side="right"), score
