"""``gridgis coverage``: camera coverage, blind spots and new sites from files (no database)."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from gis.cli.app import JsonOpt, app, emit, progress
from gis.errors import InputError, InvalidRows
from gis.io import is_csv, parse_mapping, read_layer, require_features, with_file, write_layer


INPUTS = ("cameras", "buildings", "grids", "roads", "incidents", "key_places", "exclude")


def _read(path: Path | None, crs: str | None, rename=None, layer: str | None = None,
          prefer=()):
    if path is None:
        return None
    # --crs describes coordinate columns of CSV files; other formats carry their own CRS
    use_crs = crs if is_csv(path) else None
    return read_layer(path, crs=use_crs, rename=rename, layer=layer, prefer=prefer)


def _layers(items: list[str] | None) -> dict[str, str]:
    """``--layer grids=grid_coverage`` → ``{"grids": "grid_coverage"}``."""
    out = {}
    for item in items or []:
        name, sep, layer = item.partition("=")
        if not sep or name.strip() not in INPUTS or not layer.strip():
            raise InputError(f"--layer {item!r} must look like INPUT=LAYER, INPUT one of "
                             f"{', '.join(INPUTS)}", field="layer")
        out[name.strip()] = layer.strip()
    return out


def _cameras(path: Path, crs, mapping, layer):
    """Camera records; an OpenStreetMap file (tags, or an .osm.pbf extract: its points
    layer) is turned into camera fields by :func:`gis.coverage.osm.osm_cameras`."""
    from gis.coverage.osm import is_osm, osm_cameras

    cams = _read(path, crs, None, layer, prefer=("points",))
    if not is_osm(cams):
        return _read_mapped(cams, mapping, path), None
    return osm_cameras(cams)


def _read_mapped(cams, mapping, path):
    from gis.io import apply_mapping

    return apply_mapping(cams, mapping, str(path))


def _write_all(layers: dict, out: Path) -> None:
    """All layers into one GeoPackage, moved into place only when complete."""
    if out.suffix.lower() != ".gpkg":
        raise InputError("--out must be a GeoPackage (.gpkg): it holds several layers",
                         file=str(out), field="out")
    tmp = out.with_name(f".{out.stem}.partial.gpkg")
    tmp.unlink(missing_ok=True)
    try:
        first = True
        for name, gdf in layers.items():
            write_layer(gdf, tmp, layer=name, append_layer=not first)
            first = False
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


@app.command("coverage")
def coverage_cmd(
    cameras: Path = typer.Option(..., "--cameras", help="Camera points (type, status, azimuth, "
                                 "fov, range, height; missing values default by type)."),
    buildings: Path = typer.Option(..., "--buildings", help="Building footprints."),
    grids: Path = typer.Option(..., "--grids", help="Grid polygons."),
    out: Path = typer.Option(..., "--out", help="Output GeoPackage."),
    grid_key: str = typer.Option(None, "--grid-key", help="Grid name column (default: code)."),
    roads: Path = typer.Option(None, "--roads", help="Street lines with class or width."),
    incidents: Path = typer.Option(None, "--incidents", help="Incident points."),
    key_places: Path = typer.Option(None, "--key-places", help="Schools, hospitals, stations."),
    mode: str = typer.Option("public", "--mode", help="Target: public | grid | streets."),
    min_area: float = typer.Option(25.0, "--min-area", help="Smallest blind spot listed (m²)."),
    include_offline: bool = typer.Option(False, "--include-offline",
                                         help="Count offline cameras too."),
    mapping: list[str] = typer.Option(None, "--map", help="Camera field mapping SRC=DST "
                                      "(e.g. --map FOV_DEG=fov), repeatable."),
    since: str = typer.Option(None, "--since", help="Count incidents reported from this date."),
    until: str = typer.Option(None, "--until", help="... and before this date."),
    time_field: str = typer.Option("reported_at", "--time-field", help="Incident time column."),
    suggest: int = typer.Option(0, "--suggest", help="Suggest K new camera sites (needs roads)."),
    weight: str = typer.Option("incidents", "--weight", help="Site weight: incidents | area."),
    crs: str = typer.Option(None, "--crs", help="CRS of CSV coordinates (4326, 4490, gcj02...)."),
    exclude: Path = typer.Option(None, "--exclude", help="Areas that are not blind spots "
                                 "whoever watches them (water, railways, private compounds): "
                                 "removed from every grid's target; lines count as a 10 m "
                                 "corridor."),
    layer: list[str] = typer.Option(None, "--layer", help="Layer of a multi-layer input, "
                                    "INPUT=LAYER (e.g. grids=grid_coverage), repeatable; or "
                                    "give the file as FILE:LAYER."),
    scheduler: str = typer.Option(None, "--scheduler", help="Run on Dask, grids partitioned "
                                  "spatially: 'local' (a LocalCluster on this machine) or a "
                                  "scheduler address such as tcp://10.0.0.5:8786."),
    as_json: bool = JsonOpt,
) -> None:
    """Camera coverage of each grid, its blind spots and (with --suggest) new sites."""
    from gis.coverage import coverage, suggest_sites

    if scheduler:
        from functools import partial

        from gis.distributed.coverage import coverage_dask

        coverage = partial(coverage_dask, scheduler=scheduler)  # same arguments, same result

    if suggest and roads is None:
        raise InputError("--suggest needs --roads (sites are chosen along streets)", field="roads")
    if exclude is not None and scheduler:
        raise InputError("--exclude is not available with --scheduler", field="exclude")
    chosen = _layers(layer)
    with progress("coverage", total=4, forks=True) as advance:
        cams, osm = _cameras(cameras, crs, parse_mapping(mapping), chosen.get("cameras"))
        layers = {name: _read(p, crs, layer=chosen.get(name)) for name, p in (
            ("buildings", buildings), ("grids", grids), ("roads", roads),
            ("incidents", incidents), ("key_places", key_places), ("exclude", exclude))}
        require_features(layers["grids"], grids, "grids")
        advance(1, description="views and blind spots")
        period = (since, until) if since or until else None
        extra = {"exclude": layers["exclude"]} if exclude is not None else {}
        try:
            res = coverage(cams, layers["buildings"], layers["grids"], grid_key=grid_key,
                           roads=layers["roads"], incidents=layers["incidents"],
                           key_places=layers["key_places"], min_area=min_area, mode=mode,
                           include_offline=include_offline, period=period,
                           time_field=time_field, **extra)
        except InvalidRows as exc:  # only camera records are validated row by row
            for problem in exc.problems:
                problem.file = problem.file or str(cameras)
            raise InvalidRows(exc.problems, file=str(cameras)) from exc
        advance(1, description="sites" if suggest else "writing")
        result = {"coverage": res.coverage, "blind_spots": res.blind_spots,
                  "grid_coverage": res.grid_coverage, "views": res.views}
        if res.key_places is not None:
            result["key_places"] = res.key_places
        summary = dict(res.summary)
        if osm is not None:
            summary["osm"] = osm
        if suggest:
            sites = suggest_sites(res.blind_spots, layers["roads"], suggest,
                                  buildings=layers["buildings"], weight=weight)
            result["sites"] = sites
            summary["sites"] = int(len(sites))
            summary["sites_gain_m2"] = round(float(sites["gain_m2"].sum()), 1)
            summary["sites_bound"] = sites.attrs["bound"]
        advance(1, description="writing")
        _write_all(result, out)
        advance(1)
    summary["out"] = str(out)
    emit(summary, as_json, title="coverage")
