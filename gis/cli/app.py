"""The ``gridgis`` typer application and what every command shares: the console,
progress bars, ``--json`` output and turning domain errors into clear messages."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console

HELP = "gridgis: grid management (网格化管理) on PostGIS — partition, incidents, cameras, patrols."


class LazyTyper(typer.Typer):
    """A Typer whose command modules are imported when its commands are first needed.

    ``gis.cli`` sets :attr:`loader`; anything that reads the registered commands (typer
    building the click group, ``CliRunner.invoke(app, ...)``) runs it once first. The
    ``gridgis`` entry point sets a loader that imports only the invoked command's module,
    so that a command does not pay for every other command's heavy imports.
    """

    loader = None

    @property
    def registered_commands(self):
        self._load()
        return self.__dict__["_commands"]

    @registered_commands.setter
    def registered_commands(self, value):
        self.__dict__["_commands"] = value

    @property
    def registered_groups(self):
        self._load()
        return self.__dict__["_groups"]

    @registered_groups.setter
    def registered_groups(self, value):
        self.__dict__["_groups"] = value

    def _load(self) -> None:
        loader, self.loader = self.loader, None  # once; modules being imported see None
        if loader is not None:
            loader()


app = LazyTyper(name="gridgis", no_args_is_help=True, add_completion=False, help=HELP)
console = Console(stderr=True)


@app.callback()
def _root() -> None:
    # A callback keeps ``gridgis CMD`` a group even when only CMD's module is loaded
    # (typer runs a lone command without its name otherwise).
    pass

JsonOpt = typer.Option(False, "--json", help="Print a machine-readable JSON summary on stdout.")


def emit(summary: dict[str, Any], as_json: bool, title: str | None = None) -> None:
    """Print a summary: JSON on stdout with ``--json``, else a readable table on stderr."""
    if as_json:
        sys.stdout.write(json.dumps(summary, ensure_ascii=False, default=str) + "\n")
        return
    from rich.table import Table

    table = Table(title=title, show_header=False)
    for key, value in summary.items():
        if isinstance(value, float):
            value = f"{value:,.4g}" if abs(value) < 1e5 else f"{value:,.0f}"
        table.add_row(str(key), str(value))
    Console().print(table)


@contextmanager
def progress(description: str, total: float | None = None, *, quiet: bool = False,
             forks: bool = False):
    """A rich progress bar on stderr; yields ``advance(n)``. Hidden when not a terminal
    only if ``quiet`` is set, so CI logs still show that long work moves.

    ``forks``: the work forks worker processes (the county coverage does, on every core),
    which is only safe in a single-threaded process; the bar then redraws at each
    ``advance`` instead of from its own refresh thread."""
    if quiet:  # nothing to draw: skip importing rich.progress (start-up time)
        yield lambda n=1, total=None, description=None: None
        return
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn,
                               TextColumn, TimeElapsedColumn, TimeRemainingColumn)

    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=console, disable=quiet, transient=False,
                  auto_refresh=not forks) as bar:
        task = bar.add_task(description, total=total)

        def advance(n: float = 1, total: float | None = None, description: str | None = None):
            if total is not None:
                bar.update(task, total=total)
            if description is not None:
                bar.update(task, description=description)
            bar.advance(task, n)
            if forks:
                bar.refresh()

        yield advance
