"""Checking rows of a user's file against a layer of :mod:`gis.store.registry` before
anything is written: column resolution, casting, vocabularies, ranges and geometry.

Pure: DataFrames in, DataFrames out; no database. Every problem is one row of a
``problems`` frame (``row``, ``field``, ``reason``) so that a million-row file with
many bad rows stays vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from gis import vocabulary
from gis.errors import InputError
from gis.geomcheck import finite
from gis.store.registry import Field, Layer

GEOM = "geom"
PROBLEM_COLUMNS = ["row", "field", "reason"]
# A time of day followed by a UTC offset ("...T10:00:00+08:00", "... 02:00:00+00", "...Z").
_ISO_OFFSET = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"


@dataclass
class Checked:
    """A validated chunk: ``frame`` holds the gridgis columns (+ ``geom`` and ``_row``) of
    the rows that passed; ``problems`` one line per problem; ``bad`` marks rejected rows
    (positions in the input chunk); ``repaired`` counts geometries made valid."""

    frame: pd.DataFrame
    problems: pd.DataFrame
    bad: np.ndarray
    repaired: int = 0


def resolve_columns(columns, layer: Layer, file: str | None = None) -> dict[str, str]:
    """Map each gridgis field to the file column that holds it (exact name first, then
    aliases, case-insensitively). A required field without a column or default is an error."""
    lower: dict[str, str] = {}
    for c in columns:
        lower.setdefault(str(c).strip().lower(), c)
    found: dict[str, str] = {}
    taken: set[str] = set()
    for f in layer.fields:  # exact names first so an alias never steals a real column
        # Shapefiles cut field names to 10 characters (community_code -> community_).
        for name in (f.name.lower(), f.name.lower()[:10]):
            if name in lower and f.name not in found:
                found[f.name] = lower[name]
                taken.add(found[f.name])
    for f in layer.fields:
        if f.name in found:
            continue
        for alias in f.aliases:
            col = lower.get(alias.lower())
            if col is not None and col not in taken:
                found[f.name], _ = col, taken.add(col)
                break
        if f.name not in found and f.required and f.default is None:
            tried = ", ".join((f.name, *f.aliases))
            raise InputError(f"no column for required field {f.name!r} (tried {tried}); "
                             f"map one with --map SOURCE={f.name}", file=file, field=f.name)
    return found


def check_rows(df: pd.DataFrame, layer: Layer, columns: dict[str, str], *, first_row: int = 1,
               timezone: str = "Asia/Shanghai") -> Checked:
    """Validate one chunk. ``columns`` comes from :func:`resolve_columns`; ``first_row`` is
    the file row number of the chunk's first row (1 = first data row or feature)."""
    rows = np.arange(first_row, first_row + len(df))
    out = pd.DataFrame(index=pd.RangeIndex(len(df)))
    problems: list[pd.DataFrame] = []
    for f in layer.fields:
        raw = df[columns[f.name]].reset_index(drop=True) if f.name in columns else None
        values, bad, reasons = _check_field(f, raw, timezone)
        out[f.name] = values
        problems.append(_problems(rows, bad, f.name, reasons))
    problems.append(_cross_field_rules(out, rows))
    repaired = 0
    if layer.geometry is not None:
        geoms, reasons, repaired = check_geometry(df.geometry.to_numpy(), layer)
        out[GEOM] = geoms
        problems.append(_problems(rows, reasons != None, "geometry", reasons))  # noqa: E711
    problems.append(_duplicates(out, layer, rows))
    probs = pd.concat(problems, ignore_index=True).sort_values("row", kind="stable")
    bad = np.isin(rows, probs["row"].to_numpy())
    out["_row"] = rows
    frame = out[~bad].reset_index(drop=True)
    if layer.derive is not None and len(frame):
        frame = layer.derive(frame)
    return Checked(frame, probs.reset_index(drop=True), bad, repaired)


def _problems(rows, bad, field: str, reasons) -> pd.DataFrame:
    bad = np.asarray(bad, dtype=bool)
    if not bad.any():
        return pd.DataFrame(columns=PROBLEM_COLUMNS)
    reason = np.asarray(reasons, dtype=object)[bad] if not isinstance(reasons, str) else reasons
    return pd.DataFrame({"row": rows[bad], "field": field, "reason": reason})


def _text(raw: pd.Series) -> pd.Series:
    """Values as stripped strings; integral floats lose their ``.0`` (codes read as numbers)."""
    if pd.api.types.is_float_dtype(raw.dtype):
        integral = raw.notna() & (raw % 1 == 0) & (raw.abs() < 2**53)
        text = raw.astype("string")
        text = text.mask(integral, raw.where(integral).astype("Int64").astype("string"))
    else:
        text = raw.astype("string").str.strip()
    return text.mask(text == "")


def _check_field(f: Field, raw: pd.Series | None, tz: str):
    """Cast one field; returns (values, bad mask, reasons)."""
    if raw is None:  # not in the file: the default (or NULL) for every row
        return f.default, np.zeros(0, dtype=bool), ""
    text = _text(raw)
    missing = text.isna().to_numpy()
    values, bad, reasons = _cast(f, text, tz)
    if f.choices is not None:
        values, bad, reasons = _vocabulary(f, values, bad, reasons)
    values, bad, reasons = _bounds(f, values, bad, reasons)
    if f.default is not None:
        values = values.fillna(f.default)
    elif f.required:
        reasons = np.where(missing & ~bad, "required value missing", reasons)
        bad = bad | missing
    return values, bad, reasons


def _cast(f: Field, text: pd.Series, tz: str):
    n = len(text)
    ok = np.zeros(n, dtype=bool)
    if f.type in ("str",):
        return text, ok, np.full(n, "", dtype=object)
    if f.type == "code12":
        bad = (text.notna() & ~text.str.fullmatch(r"\d{12}").fillna(False)).to_numpy(dtype=bool)
        return text, bad, _reason(bad, text, "not a 12-digit admin code")
    if f.type in ("int", "float"):
        num = pd.to_numeric(text, errors="coerce")
        bad = text.notna().to_numpy() & ~np.isfinite(num.to_numpy(dtype=float, na_value=np.nan))
        if f.type == "int":
            bad |= (num.notna() & (num % 1 != 0)).to_numpy(dtype=bool)
            num = num.where(~bad).astype("Int64")
        else:
            num = num.where(~bad).astype("Float64")
        return num, bad, _reason(bad, text, f"not {'an integer' if f.type == 'int' else 'a number'}")
    if f.type == "datetime":
        when = parse_times(text, tz)
        bad = (text.notna() & when.isna()).to_numpy(dtype=bool)
        return when, bad, _reason(bad, text, "not a date/time")
    raise ValueError(f"unknown field type {f.type}")


def _reason(bad, text: pd.Series, what: str) -> np.ndarray:
    reasons = np.full(len(text), "", dtype=object)
    if bad.any():
        reasons[bad] = [f"{what}: {v!r}" for v in text.to_numpy(dtype=object)[bad]]
    return reasons


def parse_times(text: pd.Series, tz: str) -> pd.Series:
    """Parse date/times: ISO 8601 fast, other spellings as a fallback; times without an
    offset are local to ``tz`` (the users' civil time), returned in UTC."""
    # Arrow's RE2 over the whole column: pandas ran Python's re row by row here
    has_offset = pc.match_substring_regex(pa.array(text.astype("string"), from_pandas=True),
                                          _ISO_OFFSET).fill_null(False).to_numpy(
                                              zero_copy_only=False)
    parts = [pd.Series(pd.NaT, index=text.index[:0], dtype="datetime64[ns, UTC]")]
    for offset in (True, False):
        part = text[has_offset == offset]
        if not len(part):
            continue
        parsed = pd.to_datetime(part, format="ISO8601", errors="coerce", utc=offset)
        retry = parsed.isna() & part.notna()
        if retry.any():  # other spellings ("2024/5/1 8:00"): slower, so only for the rest
            again = pd.to_datetime(part[retry], format="mixed", errors="coerce", utc=offset)
            parsed = pd.concat([parsed[~retry], again]).reindex(part.index)
        if parsed.dt.tz is None:
            parsed = parsed.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        parts.append(parsed.dt.tz_convert("UTC").astype("datetime64[ns, UTC]"))
    return pd.concat(parts).reindex(text.index)


def _vocabulary(f: Field, values: pd.Series, bad, reasons):
    low = values.str.lower().astype("string")
    mapped = low.map(dict(f.values)).astype("string").fillna(low) if f.values else low
    unknown = (mapped.notna() & ~mapped.isin(f.choices)).to_numpy(dtype=bool) & ~bad
    if unknown.any():
        reasons = np.where(unknown, _reason(unknown, values,
                                            f"unknown value (one of {', '.join(f.choices)})"),
                           reasons)
    return mapped, bad | unknown, reasons


def _bounds(f: Field, values: pd.Series, bad, reasons):
    if f.minimum is None and f.maximum is None:
        return values, bad, reasons
    v = values.to_numpy(dtype=float, na_value=np.nan)
    low = np.zeros(len(v), dtype=bool)
    if f.minimum is not None:
        low = (v <= f.minimum) if f.exclusive_minimum else (v < f.minimum)
    high = (v > f.maximum) if f.maximum is not None else np.zeros(len(v), dtype=bool)
    out = (low | high) & ~bad
    if out.any():
        lo = f"{'>' if f.exclusive_minimum else '≥'} {f.minimum:g}" if f.minimum is not None else ""
        hi = f"≤ {f.maximum:g}" if f.maximum is not None else ""
        rule = " and ".join(p for p in (lo, hi) if p)
        reasons = np.where(out, _reason(out, values.astype("string"), f"must be {rule}"), reasons)
    return values, bad | out, reasons


def _cross_field_rules(out: pd.DataFrame, rows) -> pd.DataFrame:
    """Incident subcategories must belong to their category."""
    if "subcategory" not in out or "category" not in out:
        return pd.DataFrame(columns=PROBLEM_COLUMNS)
    known = {(c, s) for c, subs in vocabulary.INCIDENT_CATEGORIES.items() for s in subs}
    pairs = list(zip(out["category"].astype(object), out["subcategory"].astype(object)))
    bad = np.array([isinstance(s, str) and isinstance(c, str) and (c, s) not in known
                    for c, s in pairs], dtype=bool)
    reasons = [f"subcategory {s!r} is not one of category {c!r}" for c, s in pairs]
    return _problems(rows, bad, "subcategory", reasons)


def _duplicates(out: pd.DataFrame, layer: Layer, rows) -> pd.DataFrame:
    frames = []
    for f in layer.fields:
        if f.unique:
            col = out[f.name]
            dup = (col.notna() & col.duplicated(keep="first")).to_numpy(dtype=bool)
            frames.append(_problems(rows, dup, f.name, _reason(
                dup, col.astype("string"), "duplicate value (also in an earlier row)")))
    return pd.concat(frames) if frames else pd.DataFrame(columns=PROBLEM_COLUMNS)


# -- geometry -----------------------------------------------------------------------------

_KINDS = {"point": {"Point"}, "line": {"LineString", "MultiLineString"},
          "polygon": {"Polygon", "MultiPolygon"}, "any": {"Point", "Polygon", "MultiPolygon"}}
REPAIR_TOLERANCE = 0.01  # a repair may change a polygon's area by at most 1 %


def check_geometry(geoms: np.ndarray, layer: Layer):
    """Check and normalise geometries for ``layer``: present, 2-D, finite lon/lat in range,
    the right kind (single points; Multi* where the column is multi), valid (polygons
    repaired with ``make_valid`` when that keeps the area within 1 %).

    Returns (geometries, reasons (None where fine), number repaired)."""
    geoms = np.asarray(geoms, dtype=object)
    if (shapely.has_z(geoms) | shapely.has_m(geoms)).any():  # 2-D ones need no copy
        geoms = shapely.force_2d(geoms)
    reasons = np.full(len(geoms), None, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    reasons[missing] = "missing geometry"
    geoms = _single_points(geoms, layer)
    kinds = shapely.get_type_id(geoms)
    names = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint",
                      "MultiLineString", "MultiPolygon", "GeometryCollection"], dtype=object)
    wrong = ~missing & ~np.isin(names[np.clip(kinds, 0, 7)], list(_KINDS[layer.geometry]))
    reasons[wrong] = [f"expected {layer.geometry} geometry, got {names[k]}" for k in kinds[wrong]]
    ok = ~missing & ~wrong
    bounds = shapely.bounds(geoms[ok]).reshape(-1, 4)
    out_of_range = ~(np.all(np.isfinite(bounds), axis=1) & (np.abs(bounds[:, [0, 2]]) <= 180).all(1)
                     & (np.abs(bounds[:, [1, 3]]) <= 90).all(1)
                     & finite(geoms[ok]))  # bounds skip NaN vertices
    idx = np.flatnonzero(ok)[out_of_range]
    reasons[idx] = "coordinates out of lon/lat range (wrong CRS declared?)"
    ok[idx] = False
    invalid = ok & ~shapely.is_valid(geoms)
    geoms, reasons, repaired = _repair(geoms, invalid, reasons, layer)
    if layer.multi:
        geoms = _promote(geoms, layer.geometry)
    return geoms, reasons, repaired


def _single_points(geoms, layer: Layer):
    """A MultiPoint of one point is the point (common in shapefiles); others stay wrong."""
    if layer.geometry not in ("point", "any"):
        return geoms
    multi = (shapely.get_type_id(geoms) == 4) & (shapely.get_num_geometries(geoms) == 1)
    if multi.any():
        geoms = geoms.copy()
        geoms[multi] = shapely.get_geometry(geoms[multi], 0)
    return geoms


def _repair(geoms, invalid, reasons, layer: Layer):
    if not invalid.any():
        return geoms, reasons, 0
    geoms = geoms.copy()
    idx = np.flatnonzero(invalid)
    fixed = shapely.make_valid(geoms[idx])
    # "structure" reads the rings as filled shells minus holes: the area the author meant.
    meant = shapely.area(shapely.make_valid(geoms[idx], method="structure"))
    polygonal = layer.geometry in ("polygon", "any") and np.isin(
        shapely.get_type_id(geoms[idx]), (3, 6))
    repaired = 0
    for i, g, fix, area, poly in zip(idx, geoms[idx], fixed, meant, polygonal):
        # Only the invalid rows get here (rare), so a loop over them is cheap.
        if not poly:
            reasons[i] = f"invalid geometry ({shapely.is_valid_reason(g)}) cannot be repaired"
            continue
        parts = shapely.get_parts(fix)
        parts = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
        kept = shapely.union_all(parts) if len(parts) else None
        if kept is None or kept.is_empty:
            reasons[i] = (f"invalid polygon ({shapely.is_valid_reason(g)}); repair gives "
                          f"{fix.geom_type}, not a polygon")
            continue
        change = abs(kept.area - area) / area if area > 0 else 1.0
        if change > REPAIR_TOLERANCE:
            reasons[i] = (f"invalid polygon ({shapely.is_valid_reason(g)}); repair would change "
                          f"its area by {change:.0%}")
            continue
        geoms[i] = kept
        repaired += 1
    return geoms, reasons, repaired


def _promote(geoms, kind: str):
    single = {"polygon": 3, "line": 1}[kind]
    sel = shapely.get_type_id(geoms) == single
    if sel.any():
        geoms = geoms.copy()
        make = shapely.multipolygons if kind == "polygon" else shapely.multilinestrings
        geoms[sel] = make(geoms[sel].reshape(-1, 1))
    return geoms
