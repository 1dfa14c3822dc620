"""Command line entry point. Each concern lives in its own module that adds commands
to :data:`gis.cli.app.app`; this module imports them and turns domain errors into a
clean message and exit status 2 (no traceback for bad input)."""

from __future__ import annotations

import importlib
import sys

from gis.cli.app import app, console
from gis.errors import GridgisError, InvalidRows

# One module per concern; a module adds its commands when imported.
COMMAND_MODULES = [
    "db",
    "patrol",
    "service",
    "coverage",
    "coverage_db",
    "assign",
    "data",
    "generate",
    "map",
]


def _load() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(f"gis.cli.{name}")


def main() -> None:
    _load()
    try:
        rc = app(standalone_mode=False)
    except GridgisError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        if isinstance(exc, InvalidRows):
            for p in exc.problems[:20]:
                console.print(f"  {p}")
        sys.exit(2)
    except SystemExit:
        raise
    except (BrokenPipeError, KeyboardInterrupt) as exc:
        sys.exit(130 if isinstance(exc, KeyboardInterrupt) else 1)
    except Exception as exc:  # click's own usage errors are handled below
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        raise
    sys.exit(rc if isinstance(rc, int) else 0)


_load()
