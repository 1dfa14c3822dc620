"""County coverage at a growing camera count (issue 19): 5,000 → 30,000 cameras on the
same 2,000,000-household district (93,424 buildings, 5,925 grids, its roads and
200,000 incidents), beside the pipeline as it was before the speed work.

The district's generator places about one camera per 90 households, so its own layer
stops at 20,643 online cameras; :func:`bench.scaling_data.county_cameras` samples it
down, or adds copies moved along their street, to reach each count with the same
buildings and grids. Cases (each in its own process, :func:`bench.common.measure`):

* ``gridgis``: :func:`gis.coverage.coverage` on every core (a fork pool: views in
  chunks of cameras, targets/coverage/blind area in chunks of grids);
* ``gridgis before issue 19`` (:mod:`bench.coverage_before`, one process, one shadow per
  facing edge, all grids in one pass): at the smallest and the largest count.

``seconds`` times the call (inputs read before); ``cpu_s`` adds the pool's children;
``peak_mb`` is the case process's own ``VmHWM``; ``worker_peak_mb`` the largest
child's (pages shared with the parent counted); ``load_avg`` the 1-minute load when
the case ended; ``growth_exponent`` the slope of log seconds on log cameras over the
series (1.0 is linear; ``cpu_growth_exponent`` the same of CPU seconds, which the
load of a shared machine disturbs less); ``max_dm2_*`` the largest per-grid
difference from the peer's figures in the same run. ``python -m bench --only county_coverage [--quick]``.
"""

from __future__ import annotations

import numpy as np

from bench import scaling_cases as cases
from bench.common import measure, row
from bench.scaling_data import county_cameras, district_dir

HOUSEHOLDS = {False: 2_000_000, True: 50_000}
COUNTS = {False: (5_000, 10_000, 20_000, 30_000), True: (250, 1_000)}
SEED = 1


def _slope(sizes, seconds) -> float | None:
    if len(sizes) < 2:
        return None
    return round(float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0]), 3)


def _case(folder, n: int, impl: str) -> dict:
    m = measure(cases.coverage_county, str(folder), str(county_cameras(folder, n, SEED)), impl)
    return dict(m["result"])


def _agreement(ours: np.ndarray, peer: np.ndarray) -> dict:
    d = np.abs(ours - peer)
    return {f"max_dm2_{k}": float(f"{d[:, i].max():.3g}") if len(d) else 0.0
            for i, k in enumerate(("target", "covered", "blind"))}


def run(quick: bool = False) -> list[dict]:
    folder = district_dir(HOUSEHOLDS[quick], SEED)
    counts = COUNTS[quick]
    series = {"gridgis": counts, "gridgis before issue 19": (counts[0], counts[-1])}
    rows: list[dict] = []
    results: dict[tuple[str, int], dict] = {}
    for n in counts:  # interleaved: ours and the peer at the same count in the same minutes
        for impl, sizes in series.items():
            if n in sizes:
                results[impl, n] = _case(folder, n, "gridgis" if impl == "gridgis" else "before")
    for impl, sizes in series.items():
        slope = _slope(sizes, [results[impl, n]["seconds"] for n in sizes])
        cpu_slope = _slope(sizes, [results[impl, n]["cpu_s"] for n in sizes])
        for n in sizes:
            r = results[impl, n]
            per_grid = r.pop("per_grid")
            peer = results.get(("gridgis before issue 19", n))
            extra = (_agreement(per_grid, peer["per_grid"]) if impl == "gridgis" and peer
                     else {})
            seconds, peak = r.pop("seconds"), r.pop("hwm_mb")
            rows.append(row("scale_coverage_cameras", n, impl, seconds, peak,
                            items=r["cameras"], per_s=round(r["cameras"] / seconds),
                            households=HOUSEHOLDS[quick], growth_exponent=slope,
                            cpu_growth_exponent=cpu_slope, **r, **extra))
    return rows


if __name__ == "__main__":
    import json
    import sys

    for r in run(quick="--quick" in sys.argv):
        print(json.dumps(r, default=str))
