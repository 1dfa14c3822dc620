"""The layer rule of shared/DESIGN.md, checked by import-linter with the contracts in
pyproject.toml ([tool.importlinter]; no exemptions), and no import cycles among the gis
modules. grimp (import-linter's graph) sees imports inside functions too, so a cycle or a
forbidden import cannot hide in a function body."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([str(LINT), "--config", str(cwd / "pyproject.toml"), "--no-cache"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def _violations(output: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"^-?\s*([\w.]+ -> [\w.]+) \(l\.\d+", output, re.M)}


def test_import_contracts_hold():
    res = _lint(ROOT)
    print(res.stdout, res.stderr)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "BROKEN" not in res.stdout


def _copy_tree(tmp: Path) -> Path:
    for pkg in ("gis", "api"):
        shutil.copytree(ROOT / pkg, tmp / pkg, ignore=shutil.ignore_patterns(
            "__pycache__", "static", "templates", "*.sql", "migrations"))
    shutil.copy(ROOT / "pyproject.toml", tmp / "pyproject.toml")
    return tmp


@pytest.mark.parametrize("module, line, broken", [
    ("gis/crs.py", "from gis.store import db", "gis.crs -> gis.store.db"),
    ("gis/incidents.py", "import sqlalchemy", "gis.incidents -> sqlalchemy"),
    ("gis/partition/cells.py", "    from gis.settings import Settings",
     "gis.partition.cells -> gis.settings"),
    ("gis/store/scope.py", "from api import errors", "gis.store.scope -> api.errors"),
    ("gis/store/audit.py", "from gis.services import uow", "gis.store.audit -> gis.services.uow"),
    ("gis/services/uow.py", "import fastapi", "gis.services.uow -> fastapi"),
    ("gis/cli/db.py", "from api import deps", "gis.cli.db -> api.deps"),
    ("api/routers/health.py", "from gis.store import db", "api.routers.health -> gis.store.db"),
    ("gis/cli/db.py", "    from gis.store import users", "gis.cli.db -> gis.store.users"),
])
def test_a_forbidden_import_breaks_the_contracts(tmp_path, module, line, broken):
    """The same contracts over a copy of the code with one forbidden import added (inside a
    function for the settings case: the linter sees those too) must fail and name it."""
    tree = _copy_tree(tmp_path)
    assert _lint(tree).returncode == 0  # the copy alone passes
    path = tree / module
    body = f"\n\ndef _added():\n{line}\n" if line.startswith(" ") else f"\n{line}\n"
    path.write_text(path.read_text(encoding="utf8") + body, encoding="utf8")
    res = _lint(tree)
    assert res.returncode != 0
    assert broken in _violations(res.stdout), res.stdout


def _cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), i.e. import cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.find_modules_directly_imported_by(v) & modules:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while (w := stack.pop()) != v:
                group.append(w)
            if group:
                out.append(sorted([v, *group]))

    for m in sorted(modules):
        if m not in index:
            visit(m)
    return out


@pytest.mark.parametrize("package", ["gis", "api"])
def test_no_import_cycles(package):
    graph = grimp.build_graph("gis", "api", cache_dir=None)
    modules = {m for m in graph.modules if m.split(".")[0] == package}
    assert len(modules) > 10
    assert _cycles(graph, modules) == []


def test_the_cycle_finder_finds_a_cycle_hidden_in_a_function(tmp_path, monkeypatch):
    pkg = tmp_path / "loopy"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from loopy import b\n")
    (pkg / "b.py").write_text("def f():\n    from loopy import c\n")
    (pkg / "c.py").write_text("import loopy.a\n")
    (pkg / "d.py").write_text("import loopy.a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("loopy", cache_dir=None)
    assert _cycles(graph, set(graph.modules)) == [["loopy.a", "loopy.b", "loopy.c"]]


def test_the_api_and_the_cli_reach_the_database_through_services():
    """The forbidden contract says what they must not import; this says they do use the
    service layer (a router or command that needs the database goes through it)."""
    graph = grimp.build_graph("gis", "api")
    for top in ("api", "gis.cli"):
        users = {m for m in graph.find_children(top) | graph.find_descendants(top)
                 if any(i.startswith("gis.services")
                        for i in graph.find_modules_directly_imported_by(m))}
        assert users, f"{top} does not import gis.services"
    assert "gis.services.incidents" in graph.find_modules_directly_imported_by(
        "api.routers.incidents")
