"""Maps and charts of the monthly report (:mod:`gis.report`), drawn with matplotlib in the
area's metric CRS and returned as base64 PNG, so the report needs no network."""

from __future__ import annotations

import base64
import io
import warnings

import geopandas as gpd
import numpy as np

from gis.crs import metric_crs_for

CJK_FONTS = ["Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "SimHei",
             "Microsoft YaHei", "DejaVu Sans"]


def _cjk_fonts() -> None:
    """Make installed CJK fonts known to matplotlib: its font cache may predate them
    (e.g. fonts-noto-cjk installed after matplotlib first ran)."""
    from matplotlib import font_manager

    if any(f.name in CJK_FONTS[:-1] for f in font_manager.fontManager.ttflist):
        return
    for path in font_manager.findSystemFonts():
        if "NotoSansCJK-Regular" in path or "wqy-zenhei" in path:
            font_manager.fontManager.addfont(path)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display, and no window server needed
    import matplotlib.pyplot as plt

    _cjk_fonts()
    plt.rcParams["font.sans-serif"] = CJK_FONTS
    plt.rcParams["axes.unicode_minus"] = False
    return plt


def _png(fig) -> str:
    buf = io.BytesIO()
    with warnings.catch_warnings():  # a machine without CJK fonts draws boxes, not errors
        warnings.simplefilter("ignore", UserWarning)
        # no Software/URL text chunks: the page must not name outside hosts
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    _pyplot().close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def choropleth(frame: gpd.GeoDataFrame, column: str, title: str, *, reverse: bool = False,
               labels: bool = True, highlight: np.ndarray | None = None,
               ratio: bool = False) -> str:
    """A map of ``frame`` coloured by ``column`` (grey where missing), names written on
    the units when ``labels``; ``highlight`` (bool per row) outlines units in red;
    ``ratio``: the colour scale runs over 0–1 whatever the values."""
    plt = _pyplot()
    from matplotlib.patheffects import withStroke  # a halo keeps names legible on dark fills

    shapes = frame.to_crs(metric_crs_for(frame))
    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    values = shapes[column].astype(float)
    cmap = "RdYlGn" if reverse else "OrRd"
    shapes.assign(_v=values).plot(column="_v", ax=ax, cmap=cmap, legend=True,
                                  edgecolor="#555555", linewidth=0.4,
                                  vmin=0.0 if ratio else None, vmax=1.0 if ratio else None,
                                  missing_kwds={"color": "#dddddd", "label": "—"})
    if highlight is not None and np.any(highlight):
        shapes[np.asarray(highlight, bool)].boundary.plot(ax=ax, color="#c0392b", linewidth=1.6)
    if labels:
        spots = shapes.geometry.representative_point()
        for name, pt in zip(shapes["name"], spots):
            ax.annotate(str(name), (pt.x, pt.y), ha="center", fontsize=7, color="#222222",
                        path_effects=[withStroke(linewidth=2.5, foreground="white")])
    ax.set_title(title, fontsize=10)
    ax.set_axis_off()
    return _png(fig)


def change_bars(units, column: str, title: str, month: str, previous: str) -> str:
    """Grouped bars: ``column`` per unit this month and last month."""
    plt = _pyplot()
    names = [str(n) for n in units["name"]]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    ax.bar(x - 0.2, units[f"{column}_prev"].astype(float).fillna(0), 0.4, label=previous,
           color="#b0c4de")
    ax.bar(x + 0.2, units[column].astype(float).fillna(0), 0.4, label=month, color="#1f3b57")
    ax.set_xticks(x, names, rotation=30 if len(names) > 6 else 0, ha="right" if
                  len(names) > 6 else "center", fontsize=7)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def report_images(data) -> dict[str, str]:
    """Base64 PNGs by name for a :class:`gis.report.ReportData`."""
    images = {}
    units, grids = data.units, data.grids
    if len(units):
        images["units_per_1000"] = choropleth(
            units, "per_1000", "每千户事件 Incidents per 1,000 households")
        images["units_change"] = change_bars(units, "incidents", "事件 Incidents: "
                                             f"{data.previous} → {data.month}",
                                             data.month, data.previous)
    if len(grids):
        few = len(grids) <= 40  # names on a few grids; on a county they would be a blur
        images["grids_per_1000"] = choropleth(
            grids, "per_1000", "网格 每千户事件 Grids: incidents per 1,000 households",
            labels=few, highlight=grids["out_of_bounds"].to_numpy() > 0)
        images["grids_patrol"] = choropleth(
            grids, "patrol_compliance", "网格 巡查达标率 Grids: patrol compliance",
            reverse=True, labels=few, ratio=True)
    return images
