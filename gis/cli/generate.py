"""``gridgis generate``: write the synthetic demo district to a directory."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from gis.cli.app import JsonOpt, app, emit, progress

STAGES = ("town and countryside", "blocks", "buildings", "cameras", "patrol tracks",
          "incidents", "reprojecting", "writing files")


@app.command("generate")
def generate(
    households: int = typer.Option(..., "--households", "-n", help="Total households (5,000 – 2,000,000 typical)."),
    seed: int = typer.Option(..., "--seed", "-s", help="Random seed: same seed, same district."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory (created if missing)."),
    incidents: int | None = typer.Option(None, "--incidents", help="Number of incidents (default 0.1 per household)."),
    patrol_days: int = typer.Option(2, "--patrol-days", help="Days of patrol GPS tracks ending 2026-10-31."),
    boundaries_dir: Path | None = typer.Option(None, "--boundaries-dir", help="Also write admin_units.geojson here (e.g. data/boundaries)."),
    as_json: bool = JsonOpt,
) -> None:
    """Generate a realistic synthetic county-like district (town, villages, buildings,
    cameras, incidents, patrol tracks), deterministic per seed."""
    from gis.generate import generate_district, write_district

    t0 = time.perf_counter()
    with progress("generating", total=len(STAGES), quiet=as_json) as advance:
        seen: list[str] = []

        def stage(name: str) -> None:
            if seen:
                advance(1)
            seen.append(name)
            advance(0, description=name)

        district = generate_district(households, seed, incidents=incidents,
                                     patrol_days=patrol_days, progress=stage)
        stage("writing files")
        paths = write_district(district, out, boundaries_dir=boundaries_dir)
        advance(1)
    summary = {"out": str(out), "seed": seed, "households": int(district.households),
               **district.counts(), "seconds": round(time.perf_counter() - t0, 2)}
    if "boundaries" in paths:
        summary["boundaries"] = str(paths["boundaries"])
    emit(summary, as_json, title="demo district")
