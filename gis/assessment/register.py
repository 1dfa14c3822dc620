"""The key-household register's rows (重点家庭/特殊群体), checked before anything is stored:
the least personal data that works.

A register row holds a household *reference* (the community's own code for the
household), the kind of need, where it is (a building id, or a position for a rural
household without a footprint) and optionally the responsible worker. Nothing else is
accepted: a file with any other column is refused whole, and a column that looks like a
name, an ID number or a phone is named as such, so personal data is never stored by
accident. A reference that is itself an ID number or a mobile number is refused too.

:func:`register_rows` is strict (an importer, unlike the assessment's cleaning): every
problem is listed by row and field and the caller writes nothing if there is any.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from gis.assessment.inputs import lonlat, text
from gis.errors import InputError, InvalidRows, RowProblem
from gis.vocabulary import KEY_HOUSEHOLD_KINDS

COLUMNS = ("household", "kind", "building", "lon", "lat", "responsible_worker")
ALIASES = {"household_ref": "household", "户编号": "household", "类别": "kind",
           "building_id": "building", "楼栋": "building", "worker": "responsible_worker",
           "责任网格员": "responsible_worker"}
# the words of files that carry personal data (English and Chinese headers)
PERSONAL = re.compile(r"name|姓名|名字|户主|id_?card|id_?no|身份证|证件|phone|mobile|tel|电话|"
                      r"手机|联系|birth|出生|age|年龄|sex|gender|性别|address|住址|地址",
                      re.IGNORECASE)
ID_NUMBER = re.compile(r"^\d{17}[\dXx]$|^\d{15}$")
MOBILE = re.compile(r"^(\+?86)?1[3-9]\d{9}$")
KIND_WORDS = {"独居老人": "elderly_alone", "空巢老人": "elderly_alone", "孤寡老人": "elderly_alone",
              "残疾人": "disability", "残疾": "disability", "留守儿童": "left_behind_child",
              "社区矫正": "community_correction", "低保": "low_income", "低保户": "low_income",
              "困难家庭": "low_income", "精神障碍": "mental_illness",
              "严重精神障碍患者": "mental_illness", "戒毒康复": "drug_rehabilitation",
              "社区戒毒": "drug_rehabilitation", "其他": "other"}
MAX_REF = 64


def kind_of(value: str | None) -> str | None:
    """The register's kind for a file's word (English code or common Chinese term)."""
    if value is None:
        return None
    v = str(value).strip()
    return v.lower() if v.lower() in KEY_HOUSEHOLD_KINDS else KIND_WORDS.get(v)


def check_reference(ref: str | None) -> str | None:
    """Why a household reference is refused (``None``: it is fine)."""
    if ref is None:
        return "missing"
    if len(ref) > MAX_REF:
        return f"longer than {MAX_REF} characters"
    compact = re.sub(r"[\s-]", "", ref)
    if ID_NUMBER.match(compact) or MOBILE.match(compact):
        return "looks like an ID number or a phone number; use the register's own reference"
    return None


def check_columns(columns, file: str | None) -> dict[str, str]:
    """The file's columns renamed to the register's; any other column refuses the file."""
    rename, unknown = {}, []
    for c in columns:
        key = str(c).strip()
        name = ALIASES.get(key, ALIASES.get(key.lower(), key.lower()))
        if name in COLUMNS:
            rename[c] = name
        elif name not in ("geometry", "geom", "fid"):
            unknown.append(key)
    personal = [c for c in unknown if PERSONAL.search(c)]
    if personal:
        raise InputError(f"column(s) {', '.join(personal)} look like personal data (names, ID "
                         "numbers, phones, addresses); the register holds none: remove them "
                         f"(accepted: {', '.join(COLUMNS)})", file=file, field=personal[0])
    if unknown:
        raise InputError(f"unknown column(s) {', '.join(unknown)} (accepted: "
                         f"{', '.join(COLUMNS)})", file=file, field=unknown[0])
    return rename


def register_rows(df: pd.DataFrame, file: str | None = None) -> list[dict]:
    """Checked register rows ``{row, household_ref, kind, building_id, lon, lat,
    responsible_worker}`` (WGS 84 positions); :class:`InvalidRows` lists every problem.

    Examples
    --------
    >>> rows = register_rows(pd.DataFrame({"household": ["H-7"], "kind": ["独居老人"],
    ...                                    "building": ["12"]}))
    >>> rows[0]["kind"], rows[0]["building_id"]
    ('elderly_alone', 12)
    """
    df = df.rename(columns=check_columns(df.columns, file))
    for need in ("household", "kind"):
        if need not in df:
            raise InputError(f"column {need} is required", file=file, field=need)
    has_point = not np.isnan(lonlat(df)[0]).all() or {"lon", "lat"} <= set(df.columns)
    if "building" not in df and not has_point:
        raise InputError("a building column or lon, lat columns are required", file=file,
                         field="building")
    n = len(df)
    col = lambda c: text(df[c]) if c in df else pd.Series([None] * n, dtype=object)  # noqa: E731
    lon, lat = lonlat(df)
    rows, problems = [], []
    seen: set[str] = set()
    for i, (ref, kind, bld, worker) in enumerate(zip(col("household"), col("kind"),
                                                     col("building"), col("responsible_worker"))):
        row = {"row": i + 1, "household_ref": ref, "kind": kind_of(kind), "building_id": None,
               "lon": None if math.isnan(lon[i]) else float(lon[i]),
               "lat": None if math.isnan(lat[i]) else float(lat[i]),
               "responsible_worker": worker}
        found = _problems(row, kind, bld, seen)
        problems += [RowProblem(i + 1, f, why, file) for f, why in found]
        if not found:
            rows.append(row)
    if problems:
        raise InvalidRows(problems, file=file)
    return rows


def _problems(row: dict, kind, bld, seen: set[str]) -> list[tuple[str, str]]:
    out = []
    ref = row["household_ref"]
    why = check_reference(ref)
    if why:
        out.append(("household", why))
    elif ref in seen:
        out.append(("household", f"{ref} appears twice in the file"))
    seen.add(ref)
    if row["kind"] is None:
        out.append(("kind", f"{kind!r} is not a kind ({', '.join(KEY_HOUSEHOLD_KINDS)})"
                    if kind else "missing"))
    if bld is not None:
        if not re.fullmatch(r"\d{1,18}", bld):
            out.append(("building", f"{bld!r} is not a building id (a whole number)"))
        else:
            row["building_id"] = int(bld)
    elif row["lon"] is None or row["lat"] is None:
        out.append(("building", "neither a building nor a position (lon, lat)"))
    elif not (-180 <= row["lon"] <= 180 and -90 <= row["lat"] <= 90):
        out.append(("lon", "position out of range"))
    worker = row["responsible_worker"]
    if worker is not None and len(worker) > 100:
        out.append(("responsible_worker", "longer than 100 characters"))
    return out
