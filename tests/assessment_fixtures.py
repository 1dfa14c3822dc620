"""A hand-built month (October 2026, Asia/Shanghai) whose 123456 figures are known.

Grids: three 0.01° squares side by side near (113, 28): G-A, G-B, G-C.
Staff: w1 → G-A, w2 → G-B, w3 → G-Z (not among the grids), w4 → G-C.

w1  patrols G-A ten minutes every morning Oct 1–20 and every afternoon Oct 1–5; three
    minutes on the afternoon of Oct 6 (too short); ten minutes on the morning of Oct 31,
    a roster day off (Oct 30 and 31 off: 4 windows not required, the patrol on one not
    counted either): 25 of 62 − 4 = 58 windows.
    Disputes in G-A: D1 (Oct 7 09:00) attended 20 min later within 22 m: verified;
    D2 (Oct 8 09:00) attended 3 h later: not; D3 (Oct 9 09:00) never; D5 merged as a
    duplicate: no case. 3 cases, 1 verified.
    Key households in G-A: k1 (building B1) visited Oct 5 by reference and Oct 12 by the
    building alone: done; k2 visited Oct 5 only (and Sept 30, outside the month): not.
    Visits: Oct 1 five households (ok); Oct 2 three households and a visit far from any
    building (4, not ok); Oct 3 five visits to four households (not ok); Oct 4 six visits
    by position only, at five buildings (ok). Days with a fix or visit: Oct 1–20 and 31.
    Reports (outside every grid, so none is a case): week 41 six valid (two safety
    hazards, one move_in, one move_out, two environment): ok; week 42 five (one public
    facility): not; week 43 six with a returned security hazard: five valid, not; week 44
    seven with a merged safety hazard: six valid, ok. 4必报: 2 + 1 + 1 = 4.
w2  no fixes at all, nothing visited; G-B holds k3 and dispute D4 (Oct 7 10:00), which w1
    (not w2) passed 10 min later: 0 of 1 verified (only the worker's own fixes count).
w3  a grid missing from the grids file: nothing required, said in the notes.
w4  patrols G-C in both windows of every day, visits five households every day and reports
    six times a week: every rate 1 → 5 stars.
A stranger (not on the staff) walks G-B: counted as another worker's fixes, nothing more.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

MONTH, TZ = "2026-10", "Asia/Shanghai"
GRIDS = {"G-A": 113.00, "G-B": 113.01, "G-C": 113.02}
BUILDINGS = {"B1": (113.002, 28.008), "B2": (113.003, 28.008), "B3": (113.004, 28.008),
             "B4": (113.005, 28.008), "B5": (113.006, 28.008), "B6": (113.007, 28.008)}
D = 0.0001  # degrees: about 10 m east-west, 11 m north-south here

EXPECTED = {  # worker -> the figures of the columns
    "w1": dict(patrol_windows_required=58, patrol_windows_done=25, key_visits_required=2,
               key_visits_done=1, must_attend_cases=3, must_attend_verified=1,
               must_report_count=4, visit_days=21, visit_days_ok=2, report_weeks=5,
               report_weeks_ok=2),
    "w2": dict(patrol_windows_required=62, patrol_windows_done=0, key_visits_required=1,
               key_visits_done=0, must_attend_cases=1, must_attend_verified=0,
               must_report_count=0, visit_days=0, visit_days_ok=0, report_weeks=5,
               report_weeks_ok=0),
    "w3": dict(patrol_windows_required=0, patrol_windows_done=0, key_visits_required=0,
               key_visits_done=0, must_attend_cases=0, must_attend_verified=0,
               must_report_count=0, visit_days=0, visit_days_ok=0, report_weeks=5,
               report_weeks_ok=0),
    "w4": dict(patrol_windows_required=62, patrol_windows_done=62, key_visits_required=0,
               key_visits_done=0, must_attend_cases=0, must_attend_verified=0,
               must_report_count=0, visit_days=31, visit_days_ok=31, report_weeks=5,
               report_weeks_ok=5),
}


def grids() -> gpd.GeoDataFrame:
    boxes = [shapely.box(x, 28.0, x + 0.01, 28.01) for x in GRIDS.values()]
    return gpd.GeoDataFrame({"code": list(GRIDS)}, geometry=boxes, crs=4326)


def buildings() -> gpd.GeoDataFrame:
    feet = [shapely.box(x - 0.00004, y - 0.00004, x + 0.00004, y + 0.00004)
            for x, y in BUILDINGS.values()]
    return gpd.GeoDataFrame({"id": list(BUILDINGS)}, geometry=feet, crs=4326)


def staff() -> pd.DataFrame:
    return pd.DataFrame({"worker": ["w1", "w2", "w3", "w4"], "grid": ["G-A", "G-B", "G-Z", "G-C"]})


def roster() -> pd.DataFrame:
    return pd.DataFrame({"worker": ["w1", "w1", "w1"],
                         "date": ["2026-10-29", "2026-10-30", "2026-10-31"],
                         "on": ["on", "off", "off"]})


def walk(worker: str, start: str, minutes: float, lon0: float, lat0: float) -> pd.DataFrame:
    """A fix every 30 s for ``minutes``, walking east ~10 m per fix (local times)."""
    n = int(minutes * 2) + 1
    t = pd.date_range(start, periods=n, freq="30s")
    return pd.DataFrame({"worker": worker, "time": t.strftime("%Y-%m-%d %H:%M:%S"),
                         "lon": lon0 + D * np.arange(n), "lat": lat0})


def fix(worker: str, when: str, lon: float, lat: float) -> pd.DataFrame:
    return pd.DataFrame({"worker": [worker], "time": [when], "lon": [lon], "lat": [lat]})


def tracks(seed: int = 3) -> pd.DataFrame:
    parts = [walk("w1", f"2026-10-{d:02d} 08:00", 10, 113.004, 28.005) for d in range(1, 21)]
    parts += [walk("w1", f"2026-10-{d:02d} 14:00", 10, 113.004, 28.005) for d in range(1, 6)]
    parts += [walk("w1", "2026-10-06 14:00", 3, 113.004, 28.005),
              walk("w1", "2026-10-31 08:00", 10, 113.004, 28.005),
              fix("w1", "2026-10-07 09:20", 113.003, 28.003 + 2 * D),   # D1 +20 min, 22 m
              fix("w1", "2026-10-08 12:00", 113.006, 28.003),           # D2 +3 h
              fix("w1", "2026-10-07 10:10", 113.015, 28.005)]           # D4, w2's case
    for d in range(1, 32):
        parts += [walk("w4", f"2026-10-{d:02d} 08:00", 10, 113.024, 28.005),
                  walk("w4", f"2026-10-{d:02d} 15:00", 10, 113.024, 28.005)]
    parts += [walk("stranger", f"2026-10-{d:02d} 09:00", 10, 113.014, 28.005) for d in range(1, 11)]
    df = pd.concat(parts, ignore_index=True)
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # any order


def _incident(id_, category, when, reporter, lon, lat, subcategory=None, status="closed",
              merged_into=None) -> dict:
    return {"id": id_, "category": category, "subcategory": subcategory, "reported_at": when,
            "reporter": reporter, "lon": lon, "lat": lat, "status": status,
            "merged_into": merged_into}


def incidents() -> pd.DataFrame:
    rows = [_incident("D1", "dispute", "2026-10-07 09:00", "resident", 113.003, 28.003, "neighbour"),
            _incident("D2", "dispute", "2026-10-08 09:00", "resident", 113.006, 28.003, "family"),
            _incident("D3", "dispute", "2026-10-09 09:00", "resident", 113.007, 28.007, "property"),
            _incident("D5", "dispute", "2026-10-10 09:00", "resident", 113.003, 28.003,
                      "neighbour", status="closed", merged_into="D1"),
            _incident("D4", "dispute", "2026-10-07 10:00", "resident", 113.015, 28.005, "neighbour")]
    out = (113.1, 28.1)  # outside every grid
    week41 = [("safety_hazard", "fire"), ("safety_hazard", "gas"), ("population", "move_in"),
              ("population", "move_out"), ("environment", "garbage"), ("environment", "noise")]
    for i, (cat, sub) in enumerate(week41):
        rows.append(_incident(f"R41-{i}", cat, f"2026-10-{5 + i:02d} 10:00", "w1", *out, sub))
    for i, (cat, sub) in enumerate([("public_facility", "road")] + [("environment", "garbage")] * 4):
        rows.append(_incident(f"R42-{i}", cat, f"2026-10-{12 + i:02d} 10:00", "w1", *out, sub))
    for i in range(6):
        cat, sub, status = ("security_hazard", "theft", "returned") if i == 0 else ("environment", "noise", "closed")
        rows.append(_incident(f"R43-{i}", cat, f"2026-10-{19 + i:02d} 10:00", "w1", *out, sub, status))
    for i in range(7):
        merged = "R44-1" if i == 0 else None
        cat = "safety_hazard" if i == 0 else "environment"
        rows.append(_incident(f"R44-{i}", cat, f"2026-10-{26 + i % 6:02d} 11:00", "w1", *out,
                              merged_into=merged))
    for d in range(1, 32, 7):  # w4: six a week, every ISO week of the month
        for i in range(6):
            rows.append(_incident(f"W4-{d}-{i}", "environment", f"2026-10-{d:02d} 1{i}:00",
                                  "w4", *out, "garbage"))
    return pd.DataFrame(rows)


def key_households() -> pd.DataFrame:
    return pd.DataFrame({"household": ["k1", "k2", "k3"],
                         "kind": ["elderly_alone", "disability", "left_behind_child"],
                         "building": ["B1", None, None],
                         "lon": [None, 113.008, 113.016], "lat": [None, 28.002, 28.002]})


def _visit(worker, when, household=None, building=None, lon=None, lat=None) -> dict:
    return {"worker": worker, "time": when, "household": household, "building": building,
            "lon": lon, "lat": lat}


def visits() -> pd.DataFrame:
    v = [_visit("w1", f"2026-10-01 1{i}:00", f"h{i}") for i in range(1, 6)]
    v += [_visit("w1", f"2026-10-02 1{i}:00", f"h{i}") for i in range(1, 4)]
    v += [_visit("w1", "2026-10-02 16:00", lon=113.009, lat=28.001)]        # far from any building
    v += [_visit("w1", f"2026-10-03 1{i}:00", f"h{max(i, 2) - 1}") for i in range(1, 6)]
    for i, b in enumerate(["B2", "B3", "B4", "B5", "B6"]):
        x, y = BUILDINGS[b]
        v.append(_visit("w1", f"2026-10-04 1{i}:00", lon=x + 0.3 * D, lat=y))
    x, y = BUILDINGS["B2"]
    v.append(_visit("w1", "2026-10-04 16:00", lon=x, lat=y + 1.5 * D))      # B2 again, ~17 m
    v += [_visit("w1", "2026-10-05 10:00", "k1", "B1"), _visit("w1", "2026-10-05 11:00", "k2"),
          _visit("w1", "2026-10-12 10:00", building="B1"),
          _visit("w1", "2026-09-30 10:00", "k2")]                            # September
    for d in range(1, 32):
        v += [_visit("w4", f"2026-10-{d:02d} 1{i}:00", f"w4-h{i}") for i in range(5)]
    return pd.DataFrame(v)


def expected_stars(row: dict, off_days: int = 0) -> int:
    """The documented weighting (gis.assessment.norms), computed here independently."""
    parts = [(0.30, row["patrol_windows_done"], row["patrol_windows_required"]),
             (0.15, row["key_visits_done"], row["key_visits_required"]),
             (0.20, row["must_attend_verified"], row["must_attend_cases"]),
             (0.20, row["visit_days_ok"], 31 - off_days),
             (0.15, row["report_weeks_ok"], row["report_weeks"])]
    used = [(w, d / r) for w, d, r in parts if r > 0]
    score = sum(w * v for w, v in used) / sum(w for w, _ in used)
    return 1 + sum(score >= c for c in (0.40, 0.60, 0.75, 0.90))
