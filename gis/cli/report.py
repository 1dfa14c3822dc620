"""``gridgis report``: the monthly analysis report of an area as one self-contained HTML
file (maps embedded), and a PDF of it with ``--pdf``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import typer

from gis.cli.app import JsonOpt, app, emit, progress


def _write_atomic(path: Path, payload: bytes) -> None:
    """Write next to ``path`` and rename: a failed run leaves no half-written report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@app.command("report")
def report(
    area: str = typer.Option(..., "--area", help="Admin unit or grid code (e.g. a township)."),
    month: str = typer.Option(..., "--month", help="Calendar month, YYYY-MM."),
    out: Path = typer.Option(..., "--out", help="The HTML file to write."),
    pdf: bool = typer.Option(False, "--pdf", help="Also write a PDF beside it (same name, "
                             ".pdf; needs WeasyPrint)."),
    as_json: bool = JsonOpt,
) -> None:
    """Monthly report of an area: figures against last month, maps, rankings worst first."""
    from gis.report import render_html, render_pdf
    from gis.services import imports, overview
    from gis.settings import Settings

    settings = Settings()
    engine = imports.open_database(settings)
    try:
        with progress(f"report {area} {month}", total=3 if pdf else 2, quiet=as_json) as step:
            data = overview.monthly_report(engine, settings, area, month)
            step(1, description="drawing")
            html = render_html(data)
            _write_atomic(out, html.encode("utf-8"))
            step(1, description="pdf" if pdf else "done")
            pdf_path = out.with_suffix(".pdf") if pdf else None
            if pdf_path is not None:
                _write_atomic(pdf_path, render_pdf(html))
                step(1, description="done")
    finally:
        engine.dispose()
    emit({"area": data.area["code"], "name": data.area["name"], "month": data.month,
          "grids": len(data.grids), "units": len(data.units), "html": str(out),
          "pdf": str(pdf_path) if pdf_path else None, "html_kb": round(len(html) / 1024, 1)},
         as_json, f"report {data.area['name']} {data.month}")
