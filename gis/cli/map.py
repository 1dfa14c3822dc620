"""``gridgis map``: a self-contained HTML map (grids, incidents, choropleth) from files;
it renders with no internet (Leaflet inlined, no tile layer unless asked for)."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import typer

from gis.cli.app import JsonOpt, app, emit

# What to draw from a file with several layers when none is named: a grids layer, or the
# per-grid table of a ``gridgis coverage`` result.
MAP_LAYERS = ("grids", "grid_coverage")


def default_assets() -> Path:
    """Where scripts/install-web-assets.sh puts Leaflet: api/static/vendor."""
    spec = importlib.util.find_spec("api")
    root = Path(next(iter(spec.submodule_search_locations))) if spec else Path("api")
    return root / "static" / "vendor"


@app.command("map")
def map_command(
    grids: Path = typer.Option(..., "--grids", help="Grid polygons (any vector file; "
                               "FILE:LAYER names a layer)."),
    layer: str = typer.Option(None, "--layer", help="Layer of a multi-layer grids file "
                              "(default: 'grids', else 'grid_coverage' of a coverage result; "
                              "otherwise the layers are listed)."),
    incidents_layer: str = typer.Option(None, "--incidents-layer", help="Layer of a "
                                        "multi-layer incidents file."),
    out: Path = typer.Option(..., "--out", help="HTML file to write."),
    incidents: Path = typer.Option(None, "--incidents", help="Incident points: a vector "
                                   "file, or CSV with --lon/--lat columns."),
    choropleth: str = typer.Option(None, "--choropleth", help="Numeric grid field to colour "
                                   "grids by ('incidents' = incident count per grid)."),
    grid_key: str = typer.Option(None, "--grid-key", help="Grid field shown first in tooltips."),
    lon: str = typer.Option(None, "--lon", help="Longitude column of a CSV."),
    lat: str = typer.Option(None, "--lat", help="Latitude column of a CSV."),
    crs: str = typer.Option(None, "--crs", help="CRS of the incidents (EPSG code, gcj02, bd09)."),
    tiles: str = typer.Option(None, "--tiles", help="Optional raster tile URL template for a "
                              "base map (needs network access to that server)."),
    assets: Path = typer.Option(None, "--assets", help="Folder with leaflet.js and leaflet.css "
                                "(default: the ones installed for the web pages)."),
    as_json: bool = JsonOpt,
) -> None:
    """Write an HTML map of grids (and incidents) that opens offline in any browser."""
    from gis.io import choose_layer, is_csv, read_layer, require_features, split_layer_path
    from gis.maps import MAX_POINTS, make_map, write_map

    t0 = time.perf_counter()
    grids, layer = split_layer_path(grids, layer)
    if grids.exists() and not is_csv(grids) and grids.suffix.lower() not in (".parquet",
                                                                          ".geoparquet"):
        layer = choose_layer(grids, layer, prefer=MAP_LAYERS)
    grid_frame = require_features(read_layer(grids, layer=layer), grids, "grids")
    points = read_layer(incidents, lon=lon, lat=lat, crs=crs, layer=incidents_layer) \
        if incidents else None
    if choropleth == "incidents" and points is None:
        from gis.errors import InputError

        raise InputError("--choropleth incidents needs --incidents", field="choropleth")
    m = make_map(grid_frame, points, choropleth=choropleth, grid_key=grid_key, tiles=tiles)
    path = write_map(m, out, assets or default_assets())
    many = points is not None and len(points) > MAX_POINTS
    emit({"grids": len(grid_frame), "layer": layer, "incidents": 0 if points is None else len(points),
          "points_drawn": 0 if points is None or many else len(points),
          "choropleth": choropleth or ("incidents" if many else None),
          "out": str(path), "bytes": path.stat().st_size,
          "seconds": round(time.perf_counter() - t0, 3)}, as_json, title="gridgis map")
