"""The layer rule of shared/DESIGN.md, checked on the source: api may import gis; gis never
imports api; the pure analyses import neither the store nor the settings."""

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]
PURE = ["gis/partition", "gis/assign", "gis/coverage", "gis/patrol", "gis/generate",
        "gis/crs.py", "gis/io.py", "gis/plan_edits.py", "gis/hotspots.py", "gis/incidents.py",
        "gis/schema.py", "gis/errors.py"]
PURE += ["gis/csv_tables.py", "gis/clocks.py", "gis/attachments.py",
         "gis/duplicates.py", "gis/routing.py", "gis/department_performance.py",
         "gis/supervision.py"]  # issue 16


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _files(rel: str):
    p = ROOT / rel
    return [p] if p.suffix == ".py" else sorted(p.rglob("*.py"))


def test_gis_never_imports_api():
    offenders = [str(f.relative_to(ROOT)) for f in (ROOT / "gis").rglob("*.py")
                 if any(n == "api" or n.startswith("api.") for n in _imports(f))
                 and "gis/cli" not in str(f)]   # the CLI wires the service: it may start it
    assert offenders == []


def test_pure_analyses_import_neither_store_nor_settings():
    offenders = []
    for rel in PURE:
        for f in _files(rel):
            bad = {n for n in _imports(f) if n.startswith(("gis.store", "gis.settings", "gis.cli",
                                                            "sqlalchemy", "fastapi"))}
            if bad:
                offenders.append(f"{f.relative_to(ROOT)}: {sorted(bad)}")
    assert offenders == []
