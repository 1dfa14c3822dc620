"""The benchmark runner's quick mode as a smoke test: it runs, writes its three files,
and the scaling rows cover at least two sizes with a peer and a ratio. Times are never
asserted (the machine is shared)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_quick_scaling_bench_writes_rows_with_ratios(tmp_path):
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only", "scaling",
                           "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=170)
    assert done.returncode == 0, done.stderr[-3000:]
    for suffix in ("json", "md", "png"):
        assert (tmp_path / f"quick.{suffix}").stat().st_size > 0
    doc = json.loads((tmp_path / "quick.json").read_text())
    assert doc["failures"] == []
    rows = [r for r in doc["rows"] if r["benchmark"].startswith("scale_")]
    peers = [r for r in rows if not r["impl"].startswith("gridgis") and r["ratio_vs_gridgis"]]
    assert len({r["size"] for r in peers}) >= 2
    assert {r["benchmark"] for r in peers} >= {"scale_assign", "scale_patrol", "scale_import"}
    assert all(r["ratio_vs_gridgis"] > 0 and r["per_s"] > 0 for r in peers)
    md = (tmp_path / "quick.md").read_text()
    assert "### scale_assign" in md and "python -m bench --quick --only scaling" in md
