"""Issue 15 figures for ``partition`` per community (defect 7): an n×n city of jittered
street blocks (the partition benchmark's), alone and cut into communities of 5×6 blocks
(10,000 blocks: 340 communities of ~30 blocks, as a county's census blocks come), timed
in this process.

    python -m bench.partition_inputs --n 100 --mode parents

Old figures are taken by running the same command with PYTHONPATH at an older checkout.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from bench.bench_partition import city

ROWS, COLS = 5, 6  # blocks per community


def communities(blocks, n: int):
    """Parents of ROWS × COLS blocks with 12-digit codes (EPSG:4326)."""
    m = blocks.to_crs(4544)
    r, c = np.divmod(np.arange(len(m)), n)
    key = [f"510104{k:06d}" for k in (r // ROWS) * 1000 + c // COLS]
    parents = m.assign(code=key).dissolve(by="code").reset_index()[["code", "geometry"]]
    return parents.to_crs(4326)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="blocks per side")
    ap.add_argument("--mode", choices=("alone", "parents"), default="parents")
    args = ap.parse_args()
    from gis.partition import partition

    blocks = city(args.n, int(100_000 * args.n ** 2 / 2025 * 0.7))
    parents = communities(blocks, args.n) if args.mode == "parents" else None
    t0 = time.perf_counter()
    res = partition(blocks, "households", parent=parents)
    print(json.dumps({"blocks": len(blocks), "communities": 0 if parents is None
                      else len(parents), "seconds": round(time.perf_counter() - t0, 2),
                      "grids": res.report["grids"],
                      "within_bounds_share": res.report["within_bounds_share"]}))


if __name__ == "__main__":
    main()
