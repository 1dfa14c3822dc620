"""Self-contained HTML maps (folium/Leaflet) of grids, incidents and a choropleth that
render offline: no tile layer by default (our grids are the base), and Leaflet's JS/CSS
are inlined from local copies instead of CDN links (government intranets have no
internet). Colours are computed here, so no extra JavaScript (d3, jQuery...) is needed."""

from __future__ import annotations

import html
import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.errors import InputError

STATUS_COLOURS = {"reported": "#e67e22", "accepted": "#f1c40f", "dispatched": "#3498db",
                  "handling": "#9b59b6", "feedback": "#1abc9c", "verified": "#16a085",
                  "closed": "#27ae60", "returned": "#7f8c8d", "escalated": "#c0392b"}
DEFAULT_POINT = "#d35400"
MAX_POINTS = 20_000  # more incidents than this are shown as per-grid counts, not dots
ASSET_FILES = ("leaflet.js", "leaflet.css")


def _ramp(values: pd.Series, cmap: str = "YlOrRd") -> tuple[list[str], float, float]:
    """Hex colours for numeric ``values`` on a sequential ramp (missing values grey)."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    nums = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    finite = nums[np.isfinite(nums)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    scaled = (nums - lo) / (hi - lo) if hi > lo else np.full(nums.shape, 0.5)
    ramp = colormaps[cmap]
    colours = [to_hex(ramp(0.15 + 0.8 * v)) if np.isfinite(v) else "#cccccc" for v in scaled]
    return colours, lo, hi


def _plain(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Columns JSON can carry (timestamps and other objects as text)."""
    out = gdf.copy()
    for col in out.columns:
        if col != out.geometry.name and not pd.api.types.is_numeric_dtype(out[col]) \
                and not pd.api.types.is_bool_dtype(out[col]):
            out[col] = out[col].astype("string").fillna("")
    return out


def count_in_grids(grids: gpd.GeoDataFrame, points: gpd.GeoDataFrame) -> np.ndarray:
    """How many ``points`` fall in each grid (spatial index; a point on a shared edge
    counts once, for the first grid that holds it)."""
    pts_idx, grid_idx = grids.sindex.query(points.geometry, predicate="intersects")
    first = pd.Series(grid_idx).groupby(pts_idx).min().to_numpy()
    return np.bincount(first, minlength=len(grids))


def make_map(grids: gpd.GeoDataFrame, incidents: gpd.GeoDataFrame | None = None, *,
             choropleth: str | None = None, grid_key: str | None = None,
             tiles: str | None = None):
    """A folium map: grids (optionally coloured by the numeric field ``choropleth``) and
    incidents coloured by ``status``.

    With more than :data:`MAX_POINTS` incidents the dots are replaced by an ``incidents``
    count per grid (a choropleth unless another field was asked for), never cut.

    Examples
    --------
    >>> from shapely import box
    >>> g = gpd.GeoDataFrame({"code": ["A"], "n": [3]}, geometry=[box(0, 0, 1, 1)], crs=4326)
    >>> m = make_map(g, choropleth="n")
    >>> type(m).__name__
    'Map'
    """
    import folium

    grids = _plain(grids.to_crs(4326))
    points = None
    if incidents is not None:
        incidents = incidents.to_crs(4326)
        grids["incidents"] = count_in_grids(grids, incidents)
        if len(incidents) > MAX_POINTS:
            choropleth = choropleth or "incidents"
        else:
            points = _plain(incidents)
    if choropleth is not None and choropleth not in grids.columns:
        raise InputError(f"no field {choropleth!r} in the grids "
                         f"(fields: {', '.join(map(str, grids.columns))})", field="choropleth")
    m = folium.Map(tiles=tiles, control_scale=True)
    _add_grids(m, grids, choropleth, grid_key)
    if points is not None and len(points):
        _add_points(m, points)
    minx, miny, maxx, maxy = grids.total_bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


def _tooltip_fields(gdf: gpd.GeoDataFrame, first: list[str | None]) -> list[str]:
    cols = [c for c in gdf.columns if c != gdf.geometry.name and not str(c).startswith("_")]
    chosen = [c for c in first if c and c in cols]
    return (chosen + [c for c in cols if c not in chosen])[:8]


def _add_grids(m, grids: gpd.GeoDataFrame, choropleth: str | None, key: str | None) -> None:
    import folium

    if choropleth:
        grids["_fill"], lo, hi = _ramp(grids[choropleth])
        _legend(m, choropleth, lo, hi)
    else:
        grids["_fill"] = "#4a90d9"
    opacity = 0.65 if choropleth else 0.15
    fields = _tooltip_fields(grids, [key, choropleth, "incidents"])
    folium.GeoJson(
        grids, name="grids",
        style_function=lambda f: {"fillColor": f["properties"]["_fill"], "color": "#2c6aa0",
                                  "weight": 1.2, "fillOpacity": opacity},
        tooltip=folium.GeoJsonTooltip(fields=fields) if fields else None,
    ).add_to(m)


def _add_points(m, points: gpd.GeoDataFrame) -> None:
    import folium

    status = points["status"] if "status" in points.columns else pd.Series("", index=points.index)
    points["_colour"] = status.map(STATUS_COLOURS).fillna(DEFAULT_POINT).astype(str)
    fields = _tooltip_fields(points, ["id", "status", "category", "grid"])
    folium.GeoJson(
        points, name="incidents",
        marker=folium.CircleMarker(radius=4, weight=1, fill=True, fill_opacity=0.9),
        style_function=lambda f: {"fillColor": f["properties"]["_colour"], "color": "#ffffff"},
        tooltip=folium.GeoJsonTooltip(fields=fields) if fields else None,
    ).add_to(m)


def _legend(m, field: str, lo: float, hi: float) -> None:
    from branca.element import Element

    stops = ", ".join(_ramp(pd.Series(np.linspace(lo, hi, 5)))[0])
    box = (f'<div style="position:absolute;z-index:1000;bottom:20px;left:10px;'
           f'background:#fff;padding:6px 8px;border-radius:4px;font:12px sans-serif">'
           f'<b>{html.escape(field)}</b><div style="width:160px;height:10px;'
           f'background:linear-gradient(to right, {stops})"></div>'
           f'<span>{lo:,.4g}</span><span style="float:right">{hi:,.4g}</span></div>')
    m.get_root().html.add_child(Element(box))


def write_map(m, path: str | Path, assets_dir: str | Path) -> Path:
    """Write ``m`` as one HTML file with Leaflet's JS and CSS inlined from ``assets_dir``
    (``leaflet.js``, ``leaflet.css``); the file references nothing on the network."""
    from branca.element import Element

    assets_dir = Path(assets_dir)
    missing = [name for name in ASSET_FILES if not (assets_dir / name).is_file()]
    if missing:
        raise InputError(f"{', '.join(missing)} not found in {assets_dir}: run "
                         "scripts/install-web-assets.sh", field="assets")
    js = (assets_dir / "leaflet.js").read_text(encoding="utf-8").replace("</script", "<\\/script")
    css = (assets_dir / "leaflet.css").read_text(encoding="utf-8")
    m.default_js, m.default_css = [], []  # instead of the CDN links folium would write
    m.get_root().header.add_child(Element(f"<style>{css}</style>\n<script>{js}</script>"),
                                  name="leaflet_inline", index=0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(m.get_root().render(), encoding="utf-8")
    os.replace(tmp, path)  # never a half-written map under the final name
    return path
