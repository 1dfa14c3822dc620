"""The docstring examples of the domain modules run (the same modules as the domain
contract of [tool.importlinter] in pyproject.toml). Examples that need data find it under
the names they use: one community of a generated district (seed 1). An example that
cannot run here is marked ``# doctest: +SKIP`` and says why on the same line."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

DOMAIN = ["gis.partition", "gis.assign", "gis.coverage", "gis.patrol", "gis.generate",
          "gis.distributed", "gis.crs", "gis.io", "gis.plan_edits", "gis.hotspots",
          "gis.incidents", "gis.vocabulary", "gis.errors", "gis.maps", "gis.report",
          "gis.report_charts", "gis.assessment",
          "gis.csv_tables", "gis.clocks", "gis.attachments", "gis.duplicates", "gis.routing",
          "gis.department_performance", "gis.supervision", "gis.csvsafe", "gis.geomcheck",
          "gis.department_limits"]  # issue 16
COMMUNITY = "430199001001"
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules() -> list[str]:
    out = []
    for name in DOMAIN:
        module = importlib.import_module(name)
        out.append(name)
        if hasattr(module, "__path__"):
            out += [m.name for m in pkgutil.walk_packages(module.__path__, f"{name}.")]
    return sorted(out)


MODULES = _modules()
# Persistence modules whose examples need no database run too.
EXTRA = ["gis.store.overdue"]


def test_the_domain_modules_are_the_linter_s():
    text = (Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf8")
    block = text.split('name = "Domain imports')[1].split("forbidden_modules")[0]
    assert set(re.findall(r'"(gis[\w.]*)"', block)) == set(DOMAIN)


@pytest.fixture(scope="module")
def names() -> dict:
    """What the examples call ``blocks``, ``grids``, ``cameras``...: one community of a
    small generated district and its grids."""
    from gis.generate import generate_district
    from gis.partition import partition

    d = generate_district(2000, seed=1)
    community = d.admin_units[d.admin_units.code == COMMUNITY]
    blocks = d.blocks[d.blocks.community_code == COMMUNITY]
    buildings = d.buildings[d.buildings.community_code == COMMUNITY]
    grids = partition(blocks, "households", parent=community, roads=d.roads).grids
    return {"community": community, "blocks": blocks, "buildings": buildings,
            "roads": d.roads, "grids": grids, "cameras": d.cameras,
            "incidents": d.incidents}


@pytest.mark.parametrize("name", MODULES + EXTRA)
def test_examples_run(name, names):
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in doctest.DocTestFinder().find(module, name):
        test.globs.update({k: v.copy() for k, v in names.items()})
        runner.run(test)
    assert runner.failures == 0, f"{runner.failures} failing example(s) in {name}"


def test_every_skipped_example_says_why():
    """``# doctest: +SKIP`` only after a comment that gives the reason."""
    unexplained = []
    for name in MODULES:
        path = Path(importlib.import_module(name).__file__)
        for number, line in enumerate(path.read_text(encoding="utf8").splitlines(), 1):
            if "+SKIP" in line and not re.search(r"#\s*\S.*#\s*doctest:\s*\+SKIP", line):
                unexplained.append(f"{path.name}:{number}: {line.strip()}")
    assert unexplained == []


def test_a_broken_example_fails(names):
    """The runner reports a wrong example (so test_examples_run can fail)."""
    test = doctest.DocTestParser().get_doctest(">>> len(grids)\n99\n", dict(names), "x",
                                               None, 0)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test, out=lambda _: None)
    assert runner.failures == 1


def test_every_gis_module_has_a_layer():
    """A new module under gis/ is either domain (listed above, so the linter keeps it pure
    and its examples run) or one of the upper layers: none escapes the layer rule."""
    layers = {"store", "services", "cli", "settings"}
    root = Path(__file__).parents[1] / "gis"
    found = {f"gis.{p.stem}" for p in root.iterdir()
             if p.stem not in layers and not p.stem.startswith("_")
             and (p.suffix == ".py" or (p / "__init__.py").exists())}
    assert found - set(DOMAIN) == set()
