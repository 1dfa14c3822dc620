"""One benchmark runner: ``python -m bench [--quick] [--only NAME ...]``.

Runs every ``bench/bench_*.py`` module's ``run(quick)``, prints one table in which each
peer's figure stands beside gridgis' own with the ratio, and writes
``bench/results/latest.json``, ``latest.md`` and ``latest.png`` (time against size,
log–log, so growth is visible). Times are reported, never asserted."""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).parent
RESULTS = HERE / "results"


def discover(only: list[str] | None) -> list[str]:
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if only:
        names = [n for n in names if any(o in n for o in only)]
    return names


# The peers each benchmark compares against; installed from their lock when missing.
PEERS = {"bench_partition": ("spopt", "gerrychain"), "bench_scaling": ("spopt",),
         "bench_tiles": ("tipg",)}
PEER_LOCK = HERE.parent / "lock" / "bench.txt"


def ensure_peers(names: list[str]) -> None:
    """Install lock/bench.txt (the peers at pinned versions, every file hashed, beside
    the same pins as lock/requirements.txt, so nothing already installed moves) when a
    selected benchmark's peer is missing: ``python -m bench`` works from a fresh clone."""
    import importlib.util
    import subprocess

    missing = sorted({p for n in names for p in PEERS.get(n, ())
                      if importlib.util.find_spec(p) is None})
    if not missing:
        return
    print(f"installing the benchmark peers ({', '.join(missing)}) from {PEER_LOCK.name}",
          file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--require-hashes",
                    "-r", str(PEER_LOCK)], check=True)
    importlib.invalidate_caches()


def run_all(names: list[str], quick: bool) -> tuple[list[dict], list[dict]]:
    rows, failures = [], []
    for name in names:
        t0 = time.perf_counter()
        print(f"== {name} ({'quick' if quick else 'full'})", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
            got = module.run(quick=quick)
            for r in got:
                r.setdefault("module", name)
            rows.extend(got)
        except Exception:  # one broken benchmark must not hide the others' figures
            failures.append({"module": name, "error": traceback.format_exc(limit=5)})
            print(failures[-1]["error"], file=sys.stderr)
        print(f"   {name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    return rows, failures


def with_ratios(rows: list[dict]) -> list[dict]:
    """Add ``ratio_vs_gridgis`` = seconds / gridgis' seconds for rows sharing (benchmark,
    size); the baseline is the first gridgis row of the group (its own ratio is 1)."""
    base: dict[tuple[str, str], float] = {}
    for r in rows:
        key = (r["benchmark"], str(r["size"]))
        if str(r["impl"]).startswith("gridgis") and _finite(r.get("seconds")):
            base.setdefault(key, r["seconds"])
    for r in rows:
        ref = base.get((r["benchmark"], str(r["size"])))
        ok = ref and _finite(r.get("seconds"))
        r["ratio_vs_gridgis"] = round(r["seconds"] / ref, 2) if ok else None
    return rows


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and v == v and v > 0


FIRST = ["size", "impl", "seconds", "ratio_vs_gridgis", "peak_mb", "items", "per_s"]


def markdown(rows: list[dict]) -> str:
    """One table per benchmark (each has its own quality columns)."""
    out = []
    for bench in dict.fromkeys(r["benchmark"] for r in rows):
        group = [r for r in rows if r["benchmark"] == bench]
        present = {k for r in group for k in r if r.get(k) is not None}
        head = [k for k in FIRST if k in present]
        head += sorted(present - set(head) - {"benchmark", "module"})
        lines = [f"### {bench}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(_fmt(r.get(k)) for k in head) + " |" for r in group]
        out.append("\n".join(lines))
    return "\n\n".join(out)


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def chart(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for r in rows:
        try:
            size = float(r["size"])
        except (TypeError, ValueError):
            continue
        if _finite(r.get("seconds")):
            series.setdefault((r["benchmark"], r["impl"]), []).append((size, r["seconds"]))
    fig, ax = plt.subplots(figsize=(9, 6))
    colours = plt.get_cmap("tab20").colors
    shown = [(k, v) for k, v in sorted(series.items()) if len(v) >= 2]
    for i, ((bench, impl), pts) in enumerate(shown):
        pts.sort()
        # gridgis solid, peers dashed: a peer's line beside its gridgis line reads as a ratio
        style = "-" if impl.startswith("gridgis") else "--"
        ax.plot([p[0] for p in pts], [p[1] for p in pts], style, marker="o",
                color=colours[i % len(colours)], label=f"{bench} · {impl}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("size (households, points, fixes or cameras)")
    ax.set_ylabel("seconds")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _kept_rows(path: Path, names: list[str]) -> list[dict]:
    if not path.exists():
        return []
    old = json.loads(path.read_text())
    return [r for r in old.get("rows", []) if r.get("module") not in names]


def _header(doc: dict, args) -> str:
    m = doc["machine"]
    command = "python -m bench" + (" --quick" if args.quick else "")
    partial = (f" (last updated by `{command} --only {' '.join(args.only)}`, which re-runs "
               f"only those benchmarks and keeps the other rows)" if args.only else "")
    return (f"# Benchmarks ({doc['when']})\n\nReproduce with `{command}` (from the repository "
            f"root, `.venv/bin/python`){partial}. Machine: {m['cpus']} CPUs, Python {m['python']}, "
            f"{m['platform']}. `ratio_vs_gridgis` is a row's seconds over gridgis' seconds "
            f"for the same benchmark and size (above 1: gridgis is faster). Chart: "
            f"`{doc['chart']}`.\n\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke test")
    parser.add_argument("--only", nargs="*", help="run the benchmarks whose name contains these")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    names = discover(args.only)
    ensure_peers(names)
    rows, failures = run_all(names, args.quick)
    rows = [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
            for r in with_ratios(rows)]  # NaN (a failed case) is not JSON
    args.out.mkdir(parents=True, exist_ok=True)
    doc = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "quick": args.quick, "machine": {"python": platform.python_version(),
                                            "cpus": __import__("os").cpu_count(),
                                            "platform": platform.platform()},
           "rows": rows, "failures": failures}
    stem = "quick" if args.quick else "latest"
    doc["chart"] = f"{stem}.png"
    if args.only:  # a partial run replaces its own modules' rows, keeps the others'
        doc["rows"] = rows = _kept_rows(args.out / f"{stem}.json", names) + rows
    (args.out / f"{stem}.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False))
    table = markdown(rows)
    (args.out / f"{stem}.md").write_text(_header(doc, args) + table + "\n")
    chart(rows, args.out / f"{stem}.png")
    print(table)
    print(f"\n{len(rows)} rows, {len(failures)} failed benchmark(s); written to {args.out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
