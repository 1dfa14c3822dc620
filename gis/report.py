"""The monthly analysis report of an area: a self-contained HTML page (maps and charts
embedded as base64 PNG, no network) with the area's figures against the previous month,
a table per unit one level down, rankings of grids worst first and a table of every grid;
optionally a PDF of the same page (WeasyPrint).

Pure: takes a :class:`ReportData` (built from the database by
:func:`gis.store.monthly.monthly_data`, or by hand) and returns text or bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

from gis.errors import InputError

TEMPLATES = Path(__file__).with_name("templates")

# key, label, kind (count | value | rate), worse when higher (None: neutral)
METRICS = [
    ("households", "户数 Households", "count", None),
    ("grids", "网格 Grids", "count", None),
    ("out_of_bounds", "超界网格 Grids out of bounds", "count", True),
    ("incidents", "事件 Incidents reported", "count", True),
    ("per_1000", "每千户事件 Incidents per 1,000 households", "value", True),
    ("closed", "结案 Closed", "count", False),
    ("resolution_rate", "结案率 Resolution rate", "rate", False),
    ("open", "月末未结 Open at month end", "count", True),
    ("overdue", "月末超期 Overdue at month end", "count", True),
    ("late", "超期 Late (closed late or open past due)", "count", True),
    ("coverage_ratio", "视频覆盖率 Camera coverage", "rate", False),
    ("blind_spots", "盲区 Blind spots", "count", True),
    ("patrol_compliance", "巡查达标率 Patrol compliance (半日一巡)", "rate", False),
]
# Column heads of the unit and grid tables (the summary uses the long labels).
SHORT = {"households": "户数 Households", "grids": "网格 Grids",
         "out_of_bounds": "超界 Out of bounds", "incidents": "事件 Incidents", "per_1000": "每千户 per 1,000 hh",
         "resolution_rate": "结案率 Resolved", "late": "超期 Late",
         "coverage_ratio": "覆盖率 Coverage", "patrol_compliance": "巡查 Patrol"}
KIND = {k: kind for k, _, kind, _ in METRICS}
WORSE_HIGHER = {k: w for k, _, _, w in METRICS}
LABEL = {k: label for k, label, _, _ in METRICS}
# Rankings of grids, worst first: key, descending (higher is worse).
RANKINGS = [("per_1000", True), ("late", True), ("resolution_rate", False),
            ("coverage_ratio", False), ("patrol_compliance", False)]


@dataclass
class ReportData:
    """Everything one monthly report shows.

    ``units`` (one level below the area) and ``grids`` (every grid of the area) carry
    ``code``, ``name``, a geometry in EPSG:4326 and the figures of :data:`METRICS` for the
    month, and the same figures of the previous month with the suffix ``_prev``.
    ``total`` / ``total_prev`` are the area's own figures.
    """

    area: dict
    month: str
    previous: str
    total: dict
    total_prev: dict
    units: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    outline: gpd.GeoDataFrame | None = None
    notes: list[str] = field(default_factory=list)
    generated_at: str = ""
    workers: pd.DataFrame | None = None  # the month's 123456 assessment (gis.assessment)
    # per department, worst first (逆排名): gis.department_performance.ranking rows
    departments: list[dict] = field(default_factory=list)


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def fmt(value, key: str) -> str:
    """A figure as the report prints it."""
    if _missing(value):
        return "—"
    kind = KIND.get(key, "value")
    if kind == "rate":
        return f"{float(value) * 100:.1f}%"
    if kind == "count":
        return f"{int(value):,}"
    return f"{float(value):,.2f}"


def change(current, previous, key: str) -> dict:
    """Month-on-month change: ``text`` (▲/▼ with the difference; rates in percentage
    points, counts also in per cent) and ``cls`` (``worse`` / ``better`` / ``same``)."""
    if _missing(current) or _missing(previous):
        return {"text": "—", "cls": "same"}
    diff = float(current) - float(previous)
    if abs(diff) < 1e-12:
        return {"text": "= 0", "cls": "same"}
    arrow = "▲" if diff > 0 else "▼"
    kind = KIND.get(key, "value")
    if kind == "rate":
        text = f"{arrow} {diff * 100:+.1f} pp"
    elif kind == "count":
        rel = f" ({diff / float(previous) * 100:+.1f}%)" if previous else ""
        text = f"{arrow} {int(diff):+,}{rel}"
    else:
        text = f"{arrow} {diff:+,.2f}"
    worse = WORSE_HIGHER.get(key)
    cls = "same" if worse is None else ("worse" if (diff > 0) == worse else "better")
    return {"text": text, "cls": cls}


def ranking(grids: pd.DataFrame, key: str, descending: bool, top: int = 10) -> pd.DataFrame:
    """Grids worst first by ``key`` (grids without the figure left out; ties by code)."""
    have = grids[grids[key].notna()]
    order = have.assign(_v=have[key].astype(float)).sort_values(
        ["_v", "code"], ascending=[not descending, True], kind="stable")
    return order.drop(columns="_v").head(top)


def _rows(frame: pd.DataFrame, keys: list[str]) -> list[dict]:
    """Table rows: name, code, and per figure its text and its change."""
    out = []
    for rec in frame.to_dict("records"):
        cells = {k: {"value": fmt(rec.get(k), k),
                     **change(rec.get(k), rec.get(f"{k}_prev"), k)} for k in keys}
        out.append({"code": rec["code"], "name": rec.get("name") or rec["code"], "cells": cells})
    return out


def _worst_first(grids: pd.DataFrame) -> pd.DataFrame:
    """Every grid, the most incidents per 1,000 households first, then the most late."""
    return grids.assign(_a=grids["per_1000"].astype(float).fillna(-1.0),
                        _b=grids["late"].astype(float)).sort_values(
        ["_a", "_b", "code"], ascending=[False, False, True], kind="stable") \
        .drop(columns=["_a", "_b"])


# The assessment's evidence in the report: (key, head, done column, required column)
WORKER_EVIDENCE = [
    ("patrol", "巡查 Patrol windows", "patrol_windows_done", "patrol_windows_required"),
    ("key_visits", "重点走访 Key visits", "key_visits_done", "key_visits_required"),
    ("must_attend", "3必到 verified/cases", "must_attend_verified", "must_attend_cases"),
    ("visit_days", "入户 Visit days ok", "visit_days_ok", "visit_days"),
    ("report_weeks", "上报 Report weeks ok", "report_weeks_ok", "report_weeks"),
]


def worker_ranking(workers: pd.DataFrame) -> pd.DataFrame:
    """Grid workers worst first (逆排名): fewest stars, then lowest patrol rate, then the
    fewest 3必到 verified, then by name."""
    return workers.assign(_r=workers["patrol_rate"].astype(float).fillna(-1.0)).sort_values(
        ["stars", "_r", "must_attend_verified", "worker"], kind="stable").drop(columns="_r")


def _worker_rows(workers: pd.DataFrame | None) -> list[dict]:
    if workers is None or not len(workers):
        return []
    return [{"worker": r["worker"], "stars": int(r["stars"]), "notes": r["notes"],
             "must_report": int(r["must_report_count"]),
             "cells": [{"key": k, "done": int(r[d]), "required": int(r[q])}
                       for k, _, d, q in WORKER_EVIDENCE]}
            for r in worker_ranking(workers).to_dict("records")]


def context(data: ReportData, images: dict[str, str] | None = None) -> dict:
    """What the template needs: summary rows, unit and grid tables, rankings, images."""
    summary = [{"key": k, "label": LABEL[k], "value": fmt(data.total.get(k), k),
                "prev": fmt(data.total_prev.get(k), k),
                **change(data.total.get(k), data.total_prev.get(k), k)} for k, *_ in METRICS]
    table_keys = ["households", "grids", "out_of_bounds", "incidents", "per_1000",
                  "resolution_rate", "late", "coverage_ratio", "patrol_compliance"]
    grids = pd.DataFrame(data.grids.drop(columns="geometry", errors="ignore"))
    return {
        "data": data, "summary": summary, "labels": SHORT, "table_keys": table_keys,
        "units": _rows(pd.DataFrame(data.units.drop(columns="geometry", errors="ignore")),
                       table_keys) if len(data.units) else [],
        "rankings": [{"key": k, "label": LABEL[k], "worst": "highest" if d else "lowest",
                      "rows": _rows(ranking(grids, k, d), [k, "incidents", "households"])}
                     for k, d in RANKINGS] if len(grids) else [],
        "grids": _rows(_worst_first(grids), table_keys) if len(grids) else [],
        "images": images or {},
        "workers": _worker_rows(data.workers),
        "worker_heads": [head for _, head, _, _ in WORKER_EVIDENCE],
    }


def render_html(data: ReportData, *, charts: bool = True) -> str:
    """The report as one self-contained HTML document (UTF-8 text).

    Examples
    --------
    >>> data = monthly_data(session, "330102001000",  # the database  # doctest: +SKIP
    ...                     "2025-05")
    >>> html = render_html(data)  # the data above  # doctest: +SKIP
    """
    images = {}
    if charts:
        from gis.report_charts import report_images

        images = report_images(data)
    env = Environment(loader=FileSystemLoader(TEMPLATES),
                      autoescape=select_autoescape(["html"]))
    return env.get_template("report.html").render(**context(data, images))


def render_pdf(html: str) -> bytes:
    """The HTML report as PDF bytes, with WeasyPrint (needs Pango; Chinese text needs a
    CJK font such as Debian's fonts-noto-cjk)."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: Pango missing
        raise InputError(f"--pdf needs WeasyPrint and Pango ({exc}); install weasyprint and "
                         "libpango-1.0-0 libpangoft2-1.0-0", field="pdf") from exc
    return HTML(string=html).write_pdf()
