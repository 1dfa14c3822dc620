"""Partitioning benchmark: gridgis vs PySAL spopt max-p and GerryChain recursive_tree_part.

The same synthetic city (a jittered lattice of street blocks, lognormal households, in
EPSG:4326 near Chengdu) goes to every implementation in the same run. Rows carry the
quality figures of issue 3: grids, within_bounds_share (300–500), households_max,
compactness_mean (Polsby–Popper), excess over the lower bound ceil(H/500), cv.

* max-p (spopt.region.MaxPHeuristic): floor 300 households per region, rook contiguity;
  its default 99 constructions × 10 annealing runs take minutes (and erratically long on
  this 2-core machine), so runs use 10 × 3 (quick: 3 × 1), stated in each row.
* GerryChain recursive_tree_part: k = ceil(H/400), ε = 0.24, so ideal·(1±ε) lies inside
  300–500 as the issue asks.

``run()`` does 2,025 blocks / 100,000 households (about 250 grids); ``run(quick=True)``
does 100 blocks / 5,000 households (max-p needs ~40 s already at 225 blocks).
"""

from __future__ import annotations

import math
import time

import numpy as np

from bench.common import measure, row

LO, HI = 300, 500
FULL = (45, 100_000)  # 45×45 = 2,025 blocks
QUICK = (10, 5_000)


def city(n: int, households: int, seed: int = 7):
    """n×n jittered street blocks, EPSG:4326, with a ``households`` column."""
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(seed)
    size = 100.0
    X, Y = np.meshgrid(np.arange(n + 1) * size, np.arange(n + 1) * size)
    inner = (X > 0) & (X < n * size) & (Y > 0) & (Y < n * size)
    X = X + rng.uniform(-0.25, 0.25, X.shape) * size * inner + 410_000
    Y = Y + rng.uniform(-0.25, 0.25, Y.shape) * size * inner + 3_393_000
    polys = [shapely.Polygon([(X[r, c], Y[r, c]), (X[r, c + 1], Y[r, c + 1]),
                              (X[r + 1, c + 1], Y[r + 1, c + 1]), (X[r + 1, c], Y[r + 1, c])])
             for r in range(n) for c in range(n)]
    w = rng.lognormal(0, 0.6, len(polys))
    hh = np.round(w / w.sum() * households).astype(int)
    return gpd.GeoDataFrame({"households": hh}, geometry=polys, crs=4544).to_crs(4326)


def _quality(blocks, labels) -> dict:
    """Dissolve blocks by label and report as gridgis does."""
    from gis.partition.quality import report

    m = blocks.to_crs(4544).assign(label=np.asarray(labels))
    grids = m.dissolve(by="label", aggfunc={"households": "sum"})
    rep = report(grids.geometry.values, grids["households"], ["basic"] * len(grids), lo=LO, hi=HI)
    return {k: rep[k] for k in ("grids", "within_bounds_share", "households_min",
                                "households_max", "compactness_mean", "excess_over_lower_bound",
                                "cv")}


def case_gridgis(n: int, households: int) -> dict:
    from gis.partition import partition

    blocks = city(n, households)
    t0 = time.perf_counter()
    res = partition(blocks, "households", min_households=LO, max_households=HI)
    seconds = time.perf_counter() - t0
    rep = res.report
    return {"seconds": seconds, **{k: rep[k] for k in (
        "grids", "within_bounds_share", "households_min", "households_max", "compactness_mean",
        "excess_over_lower_bound", "cv")}}


MAXP_ITERATIONS = {True: (3, 1), False: (10, 3)}  # (construction, annealing) by quick


def case_maxp(n: int, households: int, construction: int = 99, annealing: int = 10) -> dict:
    from libpysal.weights import Rook
    from spopt.region import MaxPHeuristic

    blocks = city(n, households)
    t0 = time.perf_counter()
    w = Rook.from_dataframe(blocks, use_index=False, silence_warnings=True)
    model = MaxPHeuristic(blocks, w, ["households"], "households", LO, top_n=2,
                          max_iterations_construction=construction,
                          max_iterations_sa=annealing, verbose=False)
    model.solve()
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, **_quality(blocks, model.labels_)}


def case_gerrychain(n: int, households: int) -> dict:
    from gerrychain import Graph
    from gerrychain.partition import recursive_tree_part

    blocks = city(n, households)
    total = float(blocks["households"].sum())
    k = math.ceil(total / 400)
    t0 = time.perf_counter()
    graph = Graph.from_geodataframe(blocks.to_crs(4544), ignore_errors=True)
    parts = recursive_tree_part(graph, range(k), total / k, "households", 0.24)
    seconds = time.perf_counter() - t0
    labels = [parts[i] for i in range(len(blocks))]
    return {"seconds": seconds, **_quality(blocks, labels)}


CASES = {"gridgis": case_gridgis, "spopt_maxp": case_maxp, "gerrychain_tree": case_gerrychain}


def run(quick: bool = False) -> list[dict]:
    n, households = QUICK if quick else FULL
    rows = []
    for impl, fn in CASES.items():
        extra = MAXP_ITERATIONS[quick] if impl == "spopt_maxp" else ()
        try:
            out = measure(fn, n, households, *extra)
        except RuntimeError as exc:  # a peer missing or failing must not hide the others
            rows.append(row("partition", f"{n * n} blocks", impl, float("nan"), None,
                            error=str(exc).splitlines()[-1]))
            continue
        res = out["result"]
        if extra:
            res["params"] = f"max_iterations_construction={extra[0]}, max_iterations_sa={extra[1]}"
        rows.append(row("partition", f"{n * n} blocks/{households} hh", impl,
                        res.pop("seconds"), out["peak_mb"], **res))
    return rows


if __name__ == "__main__":
    import json
    import sys

    for r in run(quick="--quick" in sys.argv):
        print(json.dumps(r, default=float))
