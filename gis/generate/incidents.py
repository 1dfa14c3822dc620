"""Incidents over the 90 days ending 2026-10-31 (fixed, never "now"): located where
people live (buildings weighted by households), many geocoded onto the nearest street
centre line as real call-centre data are; diurnal report times; a closed loop status
with some still open and some overdue."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import shapely

from gis.generate.geom import segments

from gis.vocabulary import INCIDENT_CATEGORIES, INCIDENT_STATUSES

TZ = timezone(timedelta(hours=8))
END = datetime(2026, 11, 1, tzinfo=TZ)        # exclusive: the window ends with 31 October
DAYS = 90
START = END - timedelta(days=DAYS)
STUCK_WITHIN = np.timedelta64(21, "D")
ON_STREET_SHARE = 0.4
CATEGORY_WEIGHTS = {"dispute": 0.2, "security_hazard": 0.1, "safety_hazard": 0.15,
                    "public_facility": 0.2, "environment": 0.2, "population": 0.12,
                    "other": 0.03}
SLA_DAYS = {"dispute": 7, "security_hazard": 3, "safety_hazard": 2, "public_facility": 5,
            "environment": 3, "population": 10, "other": 7}
HOURLY = np.array([1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 4, 6, 6.5, 5.5, 4, 4, 5, 5.5, 5.5, 5,
                   4, 4.5, 4.5, 3.5, 2.5, 1.5])
TEXT = {"dispute": "居民反映{p}附近发生纠纷，请求调解", "security_hazard": "{p}附近发现治安隐患，请核查",
        "safety_hazard": "{p}附近存在安全隐患，需及时处置", "public_facility": "{p}附近公共设施损坏，请维修",
        "environment": "{p}附近环境卫生问题，请清理", "population": "{p}人口信息变动，请登记",
        "other": "{p}附近其他事项，请处理"}
REPORTERS = (("worker", "hotline", "resident", "video"), (0.55, 0.2, 0.15, 0.1))


def _iso(t: np.ndarray) -> np.ndarray:
    """datetime64[s] in local time -> ISO 8601 strings with +08:00 (vectorised)."""
    return np.char.add(np.datetime_as_string(t, unit="s").astype(str), "+08:00")


def report_times(n: int, rng) -> np.ndarray:
    """Local report times: uniform days, busy mornings and afternoons."""
    day = rng.integers(0, DAYS, n)
    hour = rng.choice(24, size=n, p=HOURLY / HOURLY.sum())
    sec = day * 86400 + hour * 3600 + rng.integers(0, 3600, n)
    start = np.datetime64(START.replace(tzinfo=None), "s")
    return start + np.sort(sec).astype("timedelta64[s]")


def make_incidents(n: int, buildings, roads: np.ndarray, road_names: np.ndarray,
                   workers: np.ndarray, rng) -> pd.DataFrame:
    """Incident table with metric point geometry (see module docstring)."""
    hh = buildings["households"].to_numpy(float) + 0.5  # markets and schools get some too
    k = rng.choice(len(hh), size=n, p=hh / hh.sum())
    home = shapely.centroid(buildings["geometry"].to_numpy()[k])
    near = shapely.points(shapely.get_coordinates(home) + rng.normal(0, 8, (n, 2)))
    seg, parent = segments(roads)  # nearest among short segments: fast on long roads
    k_seg = shapely.STRtree(seg).nearest(home)
    r = parent[k_seg]
    on_line = shapely.line_interpolate_point(seg[k_seg], shapely.line_locate_point(seg[k_seg], home))
    street = rng.random(n) < ON_STREET_SHARE
    cats = np.array(list(CATEGORY_WEIGHTS))
    cat = rng.choice(cats, size=n, p=np.array(list(CATEGORY_WEIGHTS.values())))
    sub = _subcats(cat, rng)
    reported = report_times(n, rng)
    status, closed = _statuses(reported, cat, rng)
    place = np.where(street, road_names[r], buildings["compound"].to_numpy(object)[k])
    place = np.where(pd.isna(place), road_names[r], place).astype(str)
    return pd.DataFrame({
        "incident_id": [f"SJ{i:08d}" for i in range(1, n + 1)],
        "category": cat, "subcategory": sub,
        "description": [TEXT[c].format(p=p) for c, p in zip(cat, place)],
        "reporter": _reporters(n, workers, rng),
        "reported_at": _iso(reported),
        "status": status,
        "closed_at": np.where(pd.isna(closed), None, _iso(np.where(pd.isna(closed), reported,
                                                                   closed))),
        "due_at": _iso(reported + np.array([SLA_DAYS[c] for c in cat]) * np.timedelta64(1, "D")),
        "geometry": np.where(street, on_line, near),
    })


def _subcats(cat: np.ndarray, rng) -> np.ndarray:
    out = np.empty(len(cat), dtype=object)
    for c, subs in INCIDENT_CATEGORIES.items():  # seven categories
        m = cat == c
        out[m] = rng.choice(subs, size=int(m.sum()))
    return out


def _statuses(reported: np.ndarray, cat: np.ndarray, rng):
    """Most closed within days; recent ones still moving; a few stuck past their SLA."""
    end = np.datetime64(END.replace(tzinfo=None), "s")
    hours = rng.lognormal(np.log(30), 1.0, len(reported))
    closed = reported + (hours * 3600).astype("timedelta64[s]")
    # a few stuck past their SLA, among the last weeks' cases (older ones a centre would
    # have supervised and closed by now); the draw is made for every case all the same,
    # so the rest of the district does not change with this rule
    stuck = (rng.random(len(reported)) < 0.04) & (reported >= end - STUCK_WITHIN)
    open_ = (closed >= end) | stuck
    moving = np.array([s for s in INCIDENT_STATUSES if s != "closed"])
    p = np.array([0.12, 0.15, 0.15, 0.25, 0.1, 0.08, 0.0, 0.08, 0.07])[
        [INCIDENT_STATUSES.index(s) for s in moving]]
    status = np.where(open_, rng.choice(moving, size=len(reported), p=p / p.sum()), "closed")
    return status, np.where(open_, np.datetime64("NaT"), closed)


def _reporters(n: int, workers: np.ndarray, rng) -> np.ndarray:
    kind = rng.choice(REPORTERS[0], size=n, p=REPORTERS[1])
    who = workers[rng.integers(0, len(workers), n)] if len(workers) else np.full(n, "W0001")
    labels = {"hotline": "12345热线", "resident": "群众上报", "video": "视频巡查"}
    return np.where(kind == "worker", who, [labels.get(k, "") for k in kind]).astype(object)
