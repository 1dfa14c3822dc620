"""The dependency locks (issue 14, "Locked dependencies"): every dependency pyproject.toml
names is pinned with hashes, the benchmark lock moves none of the suite's pins, and the
environment the suite runs in is exactly the lock (what scripts/setup.sh installs; the
benchmark peers that `python -m bench` adds from lock/bench.txt may sit beside it)."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from lock_check import canonical, differences, installed, locked  # noqa: E402

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
MAIN, BENCH = ROOT / "lock" / "requirements.txt", ROOT / "lock" / "bench.txt"


def _names(requirements: list[str]) -> set[str]:
    return {canonical(re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0]) for r in requirements}


def _pinned(path: Path) -> dict[str, list[str]]:
    """name -> the hashes of its pin(s), for every pin whatever its markers."""
    pins: dict[str, list[str]] = {}
    name = None
    for line in path.read_text().splitlines():
        if m := re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", line):
            name = canonical(m.group(1))
            pins.setdefault(name, [])
        elif name and (h := re.search(r"--hash=sha256:([0-9a-f]{64})", line)):
            pins[name].append(h.group(1))
    return pins


def test_every_declared_dependency_is_pinned_with_hashes():
    project = PYPROJECT["project"]
    main, bench = _pinned(MAIN), _pinned(BENCH)
    wanted = (_names(project["dependencies"]) | _names(project["optional-dependencies"]["test"])
              | _names(PYPROJECT["build-system"]["requires"]))
    assert wanted <= set(main), sorted(wanted - set(main))
    assert _names(project["optional-dependencies"]["bench"]) <= set(bench)
    for path, pins in ((MAIN, main), (BENCH, bench)):
        assert all(pins.values()), f"{path.name}: pins without a hash"


def test_the_benchmark_lock_keeps_every_pin_of_the_main_lock():
    for python in ("3.11", "3.12", "3.13"):
        env = {"python_version": python, "python_full_version": f"{python}.9"}
        main, bench = locked(str(MAIN), env), locked(str(BENCH), env)
        assert {n: v for n, v in bench.items() if n in main} == main, python


def test_the_environment_is_exactly_the_lock():
    peers = locked(str(BENCH))
    problems = [p for p in differences(locked(str(MAIN)), installed({"pip", "gridgis"}))
                if not (p.startswith("extra") and _is_peer(p, peers))]
    assert problems == [], ("the environment differs from lock/requirements.txt "
                            "(run scripts/setup.sh):\n" + "\n".join(problems))


def _is_peer(problem: str, peers: dict[str, str]) -> bool:
    name, version = problem.split()[1].split("==")
    return peers.get(name) == version
