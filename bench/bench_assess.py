"""Benchmark: the 123456 assessment of a county month, gridgis beside a plain GeoPandas
implementation of the same rules.

Synthetic county (seeded): G Voronoi grids of about 0.3 km² (bench_patrol's), one worker
per grid, 20 buildings per grid and three key households. In October 2026 each worker
walks a morning and an afternoon patrol on most days (random walks from a point near the
grid's centre, a fix every 30 s at ~1.2 m/s, 5–52 minutes, so some windows pass and some
do not; 0.1 % of rows duplicated, rows in time order as a server log); visits come in
days of 3–7 households (a fifth of them by position only, matched to the nearest
building); incidents are 40 % 3必到 (half of those placed near one of the grid worker's
fixes, up to 70 m and 45 minutes off, so some are proved and some not), reported by the
grid's worker or by residents, 5 % returned and 5 % merged; a tenth of the workers have
two days off in the roster. Full size ("a county month"): 10,000 grids and workers,
30 M fixes, 300,000 visits, 100,000 incidents; ``--scale 0.1`` divides every count.

Cases, each in a fresh process (wall time and peak memory of that process alone):

* ``gridgis``: ``gis.assessment`` from the files (the ``gridgis assess`` path: fixes
  streamed into column arrays, cleaned and joined by gis.patrol in batches of workers);
* ``geopandas``: the obvious way, written here: ``read_csv`` → drop duplicate fixes →
  consecutive fixes as LineStrings → cut at window ends → ``sjoin(intersects)`` with the
  grids and ``intersection().length`` for the share inside → ``groupby`` sums → the same
  5-minute threshold; 3必到 by ``sjoin(predicate="dwithin", distance=50)`` of fixes and
  cases; visits to buildings by ``sjoin_nearest(max_distance=30)``; days, weeks and key
  households by ``groupby``. It skips the teleport rule of the cleaning (the synthetic
  walks hold no teleports: gridgis' ``too_fast`` count is reported to show it is 0).

Quality: ``agree`` is the share of workers whose every integer column is identical in the
two tables, ``differ`` the number of cells that are not.

``python -m bench --only assess`` runs 1/10 with the peer, then the full county month with
gridgis alone (the peer would need ~36 GB of memory there); ``--quick`` is 1/100 with the
peer. ``python -m bench.bench_assess --scale 0.1 [--scale 1 --peer-max-fixes N]`` runs
chosen sizes.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import shapely

from bench.bench_patrol import make_grids
from bench.common import measure, row

SEED = 18
MONTH, TZ = "2026-10", "Asia/Shanghai"
DAYS = 31
FULL = dict(grids=10_000, fixes=30_000_000, visits=300_000, incidents=100_000)
STEP_S, SPEED = 30, 1.2
M_LAT = 1 / 111_320.0
M_LON = 1 / (111_320.0 * np.cos(np.radians(28)))
INT_COLUMNS = ["patrol_windows_required", "patrol_windows_done", "key_visits_required",
               "key_visits_done", "must_attend_cases", "must_attend_verified",
               "must_report_count", "visit_days", "visit_days_ok", "report_weeks",
               "report_weeks_ok"]


# ---- the synthetic county month ---------------------------------------------------------

def _homes(grids: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    p = grids.geometry.representative_point()
    return p.x.to_numpy(), p.y.to_numpy()


def _local(day: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """UTC epoch seconds of local (UTC+8) October times."""
    return pd.Timestamp("2026-10-01").value // 10**9 - 8 * 3600 + day * 86400 + seconds


def _text_time(epoch_s: np.ndarray) -> pa.Array:
    """Local wall-clock text without offset, as a phone export writes it."""
    return pa.array(((epoch_s + 8 * 3600) * 10**9).astype("datetime64[ns]")
                    .astype("datetime64[s]").astype(str)).cast(pa.string())


def _walks(w0: int, w1: int, mean_len: float, hx, hy, rng) -> dict:
    """Patrol walks of workers ``w0 .. w1 - 1`` (see the module docstring), in time order."""
    sessions = (w1 - w0) * DAYS * 2
    keep = rng.random(sessions) < 0.85
    length = np.where(keep, rng.integers(10, max(11, int(2 * mean_len - 10)), sessions), 0)
    sid = np.repeat(np.arange(sessions), length)
    first = np.cumsum(length) - length
    step = np.arange(len(sid)) - np.repeat(first, length)
    w, rest = np.divmod(sid, DAYS * 2)
    w += w0
    day, half = np.divmod(rest, 2)
    start = _local(day, np.where(half == 0, 8 * 3600, 15 * 3600)) + rng.integers(0, 3600, sessions)[sid]
    angle = rng.uniform(0, 2 * np.pi, len(sid))
    walk = np.where(step == 0, 0.0, SPEED * STEP_S)
    xy = [np.cumsum(np.cos(angle) * walk), np.cumsum(np.sin(angle) * walk)]
    for k in (0, 1):  # from the session's own start, plus a start up to 100 m from home
        xy[k] += rng.uniform(-100, 100, sessions)[sid] - np.repeat(
            xy[k][np.minimum(first, max(len(sid) - 1, 0))], length)
    out = {"w": w, "t": start + step * STEP_S, "lon": hx[w] + xy[0] * M_LON,
           "lat": hy[w] + xy[1] * M_LAT}
    dup = rng.choice(len(sid), len(sid) // 1000, replace=False)  # 0.1 % rows sent twice
    order = np.argsort(np.concatenate([out["t"], out["t"][dup]]), kind="stable")
    return {k: np.concatenate([v, v[dup]])[order] for k, v in out.items()}


def make_tracks(n_fixes: int, hx, hy, rng, path: Path, block: int = 1_000) -> dict:
    """The tracks CSV, written a block of ``block`` workers at a time (each block in time
    order, as one server's log), so memory stays bounded at 30 M fixes; returns a 1 %
    sample of the fixes (for incidents placed beside them) and the row count."""
    workers = len(hx)
    mean_len = n_fixes / (workers * DAYS * 2 * 0.85)
    names = pa.array([f"w{i:05d}" for i in range(workers)])
    schema = pa.schema([("worker", pa.string()), ("time", pa.string()),
                        ("lon", pa.float64()), ("lat", pa.float64())])
    sample, rows = [], 0
    with pacsv.CSVWriter(str(path), schema) as out:
        for w0 in range(0, workers, block):
            f = _walks(w0, min(w0 + block, workers), mean_len, hx, hy, rng)
            out.write_table(pa.table({
                "worker": pa.DictionaryArray.from_arrays(pa.array(f["w"], pa.int32()), names
                                                         ).cast(pa.string()),
                "time": _text_time(f["t"]), "lon": np.round(f["lon"], 7),
                "lat": np.round(f["lat"], 7)}, schema=schema))
            pick = rng.random(len(f["t"])) < 0.01
            sample.append({k: v[pick] for k, v in f.items()})
            rows += len(f["t"])
    return {k: np.concatenate([s[k] for s in sample]) for k in ("w", "t", "lon", "lat")} | {"rows": rows}


def make_buildings(hx, hy, rng, per: int = 20) -> pd.DataFrame:
    n = len(hx)
    g = np.repeat(np.arange(n), per)
    return pd.DataFrame({"id": [f"B{i}-{j}" for i in range(n) for j in range(per)],
                         "lon": hx[g] + rng.uniform(-150, 150, len(g)) * M_LON,
                         "lat": hy[g] + rng.uniform(-150, 150, len(g)) * M_LAT, "g": g})


def make_visits(n_visits: int, b: pd.DataFrame, rng, per: int = 20) -> pd.DataFrame:
    workers = b["g"].max() + 1
    per_day = rng.integers(3, 8, n_visits // 5 + 1)
    sizes = per_day[np.cumsum(per_day) <= n_visits]
    w = rng.integers(0, workers, len(sizes))
    day = rng.integers(0, DAYS, len(sizes))
    vw, vday = np.repeat(w, sizes), np.repeat(day, sizes)
    hh = rng.integers(0, 60, len(vw))
    bpos = vw * per + hh % per
    anon = rng.random(len(vw)) < 0.2
    return pd.DataFrame({
        "worker": [f"w{i:05d}" for i in vw],
        "time": _text_time(_local(vday, rng.integers(9 * 3600, 18 * 3600, len(vw)))).to_pylist(),
        "household": np.where(anon, None, [f"w{i}-h{j}" for i, j in zip(vw, hh)]),
        "lon": b["lon"].to_numpy()[bpos] + rng.normal(0, 4, len(vw)) * M_LON,
        "lat": b["lat"].to_numpy()[bpos] + rng.normal(0, 4, len(vw)) * M_LAT})


def make_incidents(n: int, tracks: dict, hx, hy, rng) -> pd.DataFrame:
    workers = len(hx)
    cat = rng.choice(["dispute", "safety_hazard", "security_hazard", "public_facility",
                      "population", "environment", "other"], n,
                     p=[0.3, 0.1, 0.1, 0.15, 0.1, 0.2, 0.05])
    g = rng.integers(0, workers, n)
    lon = hx[g] + rng.uniform(-200, 200, n) * M_LON
    lat = hy[g] + rng.uniform(-200, 200, n) * M_LAT
    t = _local(rng.integers(0, DAYS, n), rng.integers(0, 86400, n))
    near = np.isin(cat, ["dispute", "safety_hazard"]) & (rng.random(n) < 0.5)
    pick = rng.integers(0, len(tracks["t"]), near.sum())  # beside a fix of the grid's worker
    ang, dist = rng.uniform(0, 2 * np.pi, len(pick)), rng.uniform(0, 70, len(pick))
    lon[near] = tracks["lon"][pick] + np.cos(ang) * dist * M_LON
    lat[near] = tracks["lat"][pick] + np.sin(ang) * dist * M_LAT
    t[near] = tracks["t"][pick] - rng.integers(0, 45 * 60, len(pick))
    g[near] = tracks["w"][pick]
    by_worker = rng.random(n) < 0.6
    fate = rng.random(n)
    sub = np.where(cat == "population", rng.choice(["move_in", "move_out", "rental"], n), None)
    return pd.DataFrame({
        "id": [f"I{i}" for i in range(n)], "category": cat, "subcategory": sub,
        "reported_at": [s + "+08:00" for s in _text_time(t).to_pylist()],
        "reporter": np.where(by_worker, [f"w{i:05d}" for i in g], "resident"),
        "lon": lon, "lat": lat,
        "status": np.where(fate < 0.05, "returned", "closed"),
        "merged_into": np.where((fate >= 0.05) & (fate < 0.10), "I0", None)})


def make_files(folder: str, scale: float) -> dict[str, str]:
    rng = np.random.default_rng(SEED)
    n = {k: max(1, int(v * scale)) for k, v in FULL.items()}
    d = Path(folder)
    grids = make_grids(n["grids"], SEED)
    grids.to_parquet(d / "grids.parquet")
    hx, hy = _homes(grids)
    workers = [f"w{i:05d}" for i in range(len(grids))]
    pd.DataFrame({"worker": workers, "grid": grids["code"]}).to_csv(d / "staff.csv", index=False)
    tracks = make_tracks(n["fixes"], hx, hy, rng, d / "tracks.csv")
    b = make_buildings(hx, hy, rng)
    feet = shapely.buffer(shapely.points(b["lon"], b["lat"]), 6 * M_LAT, cap_style="square")
    gpd.GeoDataFrame({"id": b["id"]}, geometry=feet, crs=4326).to_parquet(d / "buildings.parquet")
    kh = b.groupby("g").head(3)
    pd.DataFrame({"household": [f"w{g}-h{j % 20}" for g, j in zip(kh["g"], kh.index % 20)],
                  "kind": "elderly_alone", "building": kh["id"], "lon": kh["lon"],
                  "lat": kh["lat"]}).to_csv(d / "key_households.csv", index=False)
    make_visits(n["visits"], b, rng).to_csv(d / "visits.csv", index=False)
    make_incidents(n["incidents"], tracks, hx, hy, rng).to_csv(d / "incidents.csv", index=False)
    off = rng.choice(len(workers), len(workers) // 10, replace=False)
    days = rng.integers(1, DAYS + 1, (len(off), 2))
    pd.DataFrame({"worker": np.repeat(np.asarray(workers)[off], 2),
                  "date": [f"2026-10-{x:02d}" for x in days.ravel()], "on": "off"}
                 ).to_csv(d / "roster.csv", index=False)
    return {k: str(d / f) for k, f in dict(
        grids="grids.parquet", staff="staff.csv", tracks="tracks.csv",
        buildings="buildings.parquet", key_households="key_households.csv",
        visits="visits.csv", incidents="incidents.csv", roster="roster.csv").items()} | {
        "fixes": tracks["rows"]}


# ---- gridgis ----------------------------------------------------------------------------

def case_gridgis(p: dict) -> dict:
    from gis.assessment import assess
    from gis.assessment.files import read_fixes, read_points, read_table

    fixes = read_fixes(p["tracks"], tz=TZ)
    a = assess(fixes, read_table(p["staff"]), gpd.read_parquet(p["grids"]),
               read_points(p["incidents"]), read_points(p["visits"]),
               read_points(p["key_households"]), MONTH, TZ, roster=read_table(p["roster"]),
               buildings=gpd.read_parquet(p["buildings"]), grid_key="code", building_key="id")
    return {"table": a.workers[["worker"] + INT_COLUMNS], "too_fast": a.dropped["fixes"]["too_fast"],
            "duplicate": a.dropped["fixes"]["duplicate"]}


# ---- the GeoPandas peer -----------------------------------------------------------------

def _windows(local: pd.Series) -> pd.Series:
    return local.dt.floor("12h")


def peer_patrol(fx: pd.DataFrame, grids_m: gpd.GeoDataFrame, crs) -> pd.DataFrame:
    """Seconds inside each grid per worker and window, from consecutive fixes."""
    pts = gpd.points_from_xy(fx["lon"], fx["lat"], crs=4326).to_crs(crs)
    fx = fx.assign(x=pts.x, y=pts.y)
    nxt = fx.groupby("worker").shift(-1)
    dt = (nxt["time"] - fx["time"]).dt.total_seconds()
    dist = np.hypot(nxt["x"] - fx["x"], nxt["y"] - fx["y"])
    ok = nxt["time"].notna() & (dt <= 600) & (dist <= 7.0 * dt)
    seg = pd.DataFrame({"worker": fx["worker"], "t0": fx["time"], "t1": nxt["time"],
                        "x0": fx["x"], "y0": fx["y"], "x1": nxt["x"], "y1": nxt["y"]})[ok]
    seg["window"] = _windows(seg["t0"])
    end = seg["window"] + pd.Timedelta("12h")
    cross = seg["t1"] > end  # cut at the window's end, at the interpolated point
    if cross.any():
        c = seg[cross]
        f = ((end[cross] - c["t0"]) / (c["t1"] - c["t0"])).to_numpy()
        xm, ym = c["x0"] + f * (c["x1"] - c["x0"]), c["y0"] + f * (c["y1"] - c["y0"])
        tail = c.assign(t0=end[cross], x0=xm, y0=ym, window=end[cross])
        seg.loc[cross, "t1"], seg.loc[cross, "x1"], seg.loc[cross, "y1"] = end[cross], xm, ym
        seg = pd.concat([seg, tail], ignore_index=True)
    lines = gpd.GeoDataFrame(seg, geometry=shapely.linestrings(
        np.stack([seg[["x0", "y0"]].to_numpy(float), seg[["x1", "y1"]].to_numpy(float)], axis=1)),
        crs=crs)
    j = gpd.sjoin(lines, grids_m[["code", "geometry"]], predicate="intersects")
    inside = j.geometry.intersection(
        gpd.GeoSeries(grids_m.geometry.loc[j["index_right"]].to_numpy(), index=j.index, crs=crs))
    length = j.geometry.length
    frac = np.where(length > 0, inside.length / length.where(length > 0, 1), 1.0)
    j["seconds"] = (j["t1"] - j["t0"]).dt.total_seconds() * frac
    return j.groupby(["worker", "code", "window"], as_index=False)["seconds"].sum()


def case_geopandas(p: dict) -> dict:
    from gis.crs import metric_crs_for

    grids = gpd.read_parquet(p["grids"])
    crs = metric_crs_for(grids)
    grids_m = grids.to_crs(crs)
    staff = pd.read_csv(p["staff"])
    roster = pd.read_csv(p["roster"])
    off = roster[roster["on"] == "off"][["worker", "date"]].drop_duplicates()
    fx = pd.read_csv(p["tracks"])
    fx["time"] = pd.to_datetime(fx["time"]).dt.tz_localize(TZ)
    fx = fx.drop_duplicates(["worker", "time"]).sort_values(["worker", "time"], ignore_index=True)
    fx = fx[fx["worker"].isin(staff["worker"])]
    start, end = pd.Timestamp("2026-10-01", tz=TZ), pd.Timestamp("2026-11-01", tz=TZ)

    # 1. patrol windows
    pres = peer_patrol(fx, grids_m, crs)
    pres = pres[(pres["seconds"] >= 300) & (pres["window"] >= start) & (pres["window"] < end)]
    pres = pres.merge(staff.rename(columns={"grid": "code"}), on=["worker", "code"])
    pres["date"] = pres["window"].dt.strftime("%Y-%m-%d")
    pres = pres.merge(off.assign(off=True), on=["worker", "date"], how="left")
    done = pres[pres["off"].isna()].groupby("worker").size()
    n_grids = staff.groupby("worker").size()
    required = n_grids * (2 * DAYS - 2 * off.groupby("worker").size().reindex(n_grids.index, fill_value=0))

    # 3. 3必到: cases in the worker's grids, a fix within 50 m in time
    inc = pd.read_csv(p["incidents"])
    inc["t"] = pd.to_datetime(inc["reported_at"], utc=True).dt.tz_convert(TZ)
    inc["valid"] = (inc["status"] != "returned") & inc["merged_into"].isna()
    inc = inc[(inc["t"] >= start) & (inc["t"] < end)]
    ig = gpd.GeoDataFrame(inc, geometry=gpd.points_from_xy(inc["lon"], inc["lat"]), crs=4326).to_crs(crs)
    cases = gpd.sjoin(ig[ig["valid"] & ig["category"].isin(["dispute", "safety_hazard"])],
                      grids_m[["code", "geometry"]], predicate="intersects")
    cases = cases.drop(columns="index_right").merge(staff.rename(columns={"grid": "code"}), on="code")
    cases = gpd.GeoDataFrame(cases, geometry="geometry", crs=crs)
    cases["limit"] = cases["t"] + pd.Timedelta("30min")
    pts = gpd.GeoDataFrame(fx[["worker", "time"]], geometry=gpd.points_from_xy(fx["lon"], fx["lat"]),
                           crs=4326).to_crs(crs)
    near = gpd.sjoin(pts, cases[["id", "worker", "t", "limit", "geometry"]], predicate="dwithin",
                     distance=50.0)
    near = near[(near["worker_left"] == near["worker_right"]) & (near["time"] >= near["t"])
                & (near["time"] <= near["limit"])]
    verified = near.drop_duplicates(["worker_left", "id"]).groupby("worker_left").size()

    # 4, 6. reports by the worker
    mine = inc[inc["valid"]].copy()
    mine["week"] = mine["t"].dt.isocalendar().week
    must = mine["category"].isin(["security_hazard", "safety_hazard", "public_facility"]) | (
        (mine["category"] == "population") & mine["subcategory"].isin(["move_in", "rental"]))
    must_count = mine[must].groupby("reporter").size()
    weeks_ok = (mine.groupby(["reporter", "week"]).size() >= 6).groupby("reporter").sum()

    # 5. visits, days; 2. key households
    vis = pd.read_csv(p["visits"], dtype={"household": str})
    vis["t"] = pd.to_datetime(vis["time"]).dt.tz_localize(TZ)
    vis = vis[(vis["t"] >= start) & (vis["t"] < end) & vis["worker"].isin(staff["worker"])]
    bld = gpd.read_parquet(p["buildings"]).to_crs(crs)
    vg = gpd.GeoDataFrame(vis, geometry=gpd.points_from_xy(vis["lon"], vis["lat"]), crs=4326).to_crs(crs)
    vg = gpd.sjoin_nearest(vg, bld[["id", "geometry"]], max_distance=30.0, how="left")
    vg = vg[~vg.index.duplicated()].rename(columns={"id": "building"})
    vg["day"] = vg["t"].dt.strftime("%Y-%m-%d")
    place = "p:" + vg["lon"].round(5).astype(str) + "," + vg["lat"].round(5).astype(str)
    vg["who"] = ("h:" + vg["household"]).fillna("b:" + vg["building"]).fillna(place)
    per_day = vg.groupby(["worker", "day"])["who"].nunique()
    fx_days = fx.assign(day=fx["time"].dt.strftime("%Y-%m-%d"))
    fx_days = fx_days[(fx_days["time"] >= start) & (fx_days["time"] < end)][["worker", "day"]]
    active = pd.concat([fx_days, vg[["worker", "day"]]]).drop_duplicates()
    kh = pd.read_csv(p["key_households"])
    kg = gpd.GeoDataFrame(kh, geometry=gpd.points_from_xy(kh["lon"], kh["lat"]), crs=4326).to_crs(crs)
    kg = gpd.sjoin(kg, grids_m[["code", "geometry"]], predicate="intersects")
    kg = kg.merge(staff.rename(columns={"grid": "code"}), on="code")
    by_ref = vg[vg["household"].isin(kh["household"])][["worker", "day", "household"]]
    by_b = vg[vg["household"].isna()][["worker", "day", "building"]].merge(
        kh[["building", "household"]], on="building")[["worker", "day", "household"]]
    reach = pd.concat([by_ref, by_b]).drop_duplicates().groupby(["worker", "household"]).size()
    kg["days"] = [reach.get((w, h), 0) for w, h in zip(kg["worker"], kg["household"])]

    t = pd.DataFrame(index=sorted(staff["worker"].unique()))
    t["patrol_windows_required"] = required
    t["patrol_windows_done"] = done
    t["key_visits_required"] = kg.groupby("worker").size()
    t["key_visits_done"] = kg[kg["days"] >= 2].groupby("worker").size()
    t["must_attend_cases"] = cases.groupby("worker").size()
    t["must_attend_verified"] = verified
    t["must_report_count"] = must_count
    t["visit_days"] = active.groupby("worker").size()
    t["visit_days_ok"] = (per_day >= 5).groupby("worker").sum()
    t["report_weeks"] = 5
    t["report_weeks_ok"] = weeks_ok
    t = t.fillna(0).astype(np.int64).rename_axis("worker").reset_index()
    return {"table": t[["worker"] + INT_COLUMNS]}


# ---- the runner -------------------------------------------------------------------------

def _compare(a: pd.DataFrame, b: pd.DataFrame) -> tuple[float, int]:
    m = a.merge(b, on="worker", how="outer", suffixes=("_a", "_b")).fillna(-1)
    same = np.column_stack([m[f"{c}_a"].to_numpy() == m[f"{c}_b"].to_numpy() for c in INT_COLUMNS])
    return float(same.all(axis=1).mean()), int((~same).sum())


PEER_MAX_FIXES = 10_000_000  # the peer holds ~1.2 GB per million fixes (3.7 GB at 3 M)


def run(quick: bool = False, scales: list[float] | None = None,
        peer_max_fixes: int = PEER_MAX_FIXES) -> list[dict]:
    """Quick: 1/100 of the county month. Full: 1/10 with the peer (the ratio), then the
    whole county month with gridgis alone: the peer would need ~36 GB at 30 M fixes."""
    rows = []
    for scale in scales or ([0.01] if quick else [0.1, 1.0]):
        rows += run_scale(scale, peer=FULL["fixes"] * scale <= peer_max_fixes)
    return rows


def run_scale(scale: float, peer: bool = True) -> list[dict]:
    n = {k: int(v * scale) for k, v in FULL.items()}
    size = (f"{n['grids']:,} workers' grids, {n['fixes'] / 1e6:g} M fixes, "
            f"{n['visits']:,} visits, {n['incidents']:,} incidents")
    cases = [("gridgis", case_gridgis)] + ([("geopandas", case_geopandas)] if peer else [])
    with tempfile.TemporaryDirectory(prefix="bench_assess_") as tmp:
        paths = measure(make_files, tmp, scale)["result"]  # in a child: its memory is its own
        rows, ref = [], None
        for impl, fn in cases:
            m = measure(fn, paths)
            res = m["result"]
            ref = res["table"] if ref is None else ref
            agree, differ = _compare(ref, res["table"])
            extra = {k: res[k] for k in ("too_fast", "duplicate") if k in res}
            totals = res["table"][INT_COLUMNS].sum()
            rows.append(row("assess", size, impl, m["seconds"], m["peak_mb"],
                            fixes=paths["fixes"], fixes_per_s=round(paths["fixes"] / m["seconds"]),
                            agree=agree, differ=differ,
                            windows_done=int(totals["patrol_windows_done"]),
                            verified=int(totals["must_attend_verified"]),
                            cases=int(totals["must_attend_cases"]),
                            visit_days_ok=int(totals["visit_days_ok"]), **extra))
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, action="append",
                    help="share of the full county month (repeat for several; default 0.1 and 1)")
    ap.add_argument("--peer-max-fixes", type=int, default=PEER_MAX_FIXES,
                    help="run the GeoPandas peer only up to this many fixes (memory)")
    a = ap.parse_args()
    for r in run(scales=a.scale, peer_max_fixes=a.peer_max_fixes):
        print(json.dumps(r, default=str))
