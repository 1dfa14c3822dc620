"""Command line entry point. Each concern lives in its own module that adds commands
to :data:`gis.cli.app.app`; this module loads them and turns domain errors into a
clean message and exit status 2 (no traceback for bad input).

Modules are loaded lazily, because each pulls in heavy libraries (geopandas, pyogrio,
SQLAlchemy...) that cost a second or more of start-up together:

* ``import gis.cli`` (tests, ``python -m gis.cli``) loads every module the first time the
  app's commands are read, e.g. by ``CliRunner.invoke(app, ...)``;
* ``gridgis CMD ...`` loads only the module that defines CMD, found by scanning the
  module sources for ``@app.command("CMD")`` / ``app.add_typer(..., name="CMD")``;
* ``gridgis`` / ``gridgis --help`` lists the commands from those sources (names and
  first docstring lines) without importing them;
* anything else (an unknown or misspelt command) loads every module, so click's
  messages and suggestions are unchanged.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
from pathlib import Path

from gis.cli.app import app, console
from gis.errors import GridgisError, InvalidRows

# One module per concern; a module adds its commands when imported.
COMMAND_MODULES = [
    "db",
    "db_maintenance",
    "patrol",
    "assess",
    "service",
    "coverage",
    "coverage_db",
    "assign",
    "partition",
    "data",
    "generate",
    "map",
    "report",
]


_HERE = Path(__file__).parent
_DEFINES = re.compile(r"""@app\.command\(\s*["']([\w-]+)["']|"""
                      r"""app\.add_typer\([^)]*?name\s*=\s*["']([\w-]+)["']""", re.S)


def _load() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"gis.cli.{name}")


def _module_of(command: str) -> str | None:
    """The command module whose source defines ``command`` (a cheap text scan)."""
    for name in COMMAND_MODULES:
        text = (_HERE / f"{name}.py").read_text(encoding="utf8")
        if any(command in m for m in _DEFINES.findall(text)):
            return name
    return None


def _load_for(argv: list[str]) -> None:
    """Load what ``gridgis ARGV`` needs (see the module notes)."""
    words = [a for a in argv if not a.startswith("-")]
    if not words:
        if all(a in ("--help", "-h") for a in argv):
            _register_listing()
            return
    elif (module := _module_of(words[0])) is not None:
        importlib.import_module(f"gis.cli.{module}")
        for other in COMMAND_MODULES:  # modules adding commands to its group (db_maintenance)
            if f"from gis.cli.{module} import" in (_HERE / f"{other}.py").read_text("utf8"):
                importlib.import_module(f"gis.cli.{other}")
        return
    _load()


def _register_listing() -> None:
    """Stand-ins carrying each command's name and help, for the top-level help only."""
    import typer

    for name in COMMAND_MODULES:
        tree = ast.parse((_HERE / f"{name}.py").read_text(encoding="utf8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                for deco in node.decorator_list:
                    if _is_call(deco, "app", "command") and deco.args:
                        app.command(ast.literal_eval(deco.args[0]),
                                    help=ast.get_docstring(node) or "")(_listed)
            elif _is_call(node, "app", "add_typer"):
                kw = {k.arg: k.value for k in node.keywords}
                if "name" in kw:
                    app.add_typer(typer.Typer(help=_help_of(tree, node.args[0])),
                                  name=ast.literal_eval(kw["name"]))


def _is_call(node, owner: str, attr: str) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == attr and isinstance(node.func.value, ast.Name)
            and node.func.value.id == owner)


def _help_of(tree: ast.Module, sub) -> str:
    """The ``help=`` text of the ``typer.Typer(...)`` assigned to the name ``sub``."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assign) and isinstance(sub, ast.Name)
                and any(isinstance(t, ast.Name) and t.id == sub.id for t in node.targets)
                and isinstance(node.value, ast.Call)):
            for k in node.value.keywords:
                if k.arg == "help":
                    return ast.literal_eval(k.value)
    return ""


def _listed() -> None:  # never runs: a listed command's real module is loaded to run it
    pass


def main() -> None:
    app.loader = lambda: _load_for(sys.argv[1:])
    try:
        rc = app(standalone_mode=False)
    except GridgisError as exc:
        # Unwrapped: a message names a file, row and field that users copy and grep.
        console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        if isinstance(exc, InvalidRows):
            for p in exc.problems[:20]:
                console.print(f"  {p}", soft_wrap=True)
        sys.exit(2)
    except SystemExit:
        raise
    except (BrokenPipeError, KeyboardInterrupt) as exc:
        sys.exit(130 if isinstance(exc, KeyboardInterrupt) else 1)
    except Exception as exc:  # click's own usage errors are handled below
        import typer

        # typer >= 0.24 bundles its own click: its usage errors derive from TyperException.
        if isinstance(exc, typer.TyperException) and hasattr(exc, "show"):
            exc.show()
            sys.exit(getattr(exc, "exit_code", 2))
        if isinstance(exc, (typer.Abort, typer.TyperException)):
            sys.exit(1)
        raise
    sys.exit(rc if isinstance(rc, int) else 0)


app.loader = _load  # everything, when first needed (tests, python -m gis.cli)
