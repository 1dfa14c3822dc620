"""Grid codes: the community's 12-digit code plus a serial, numbered west to east, then
north to south (rows of grids read like a page); exclusive grids take serials from the top
of the range (``9001…`` with 4 digits, ``901…`` with 3), so the code says the kind. Codes
of grids that did not change are kept, and a code once used is never handed out again.
"""

from __future__ import annotations

import numpy as np
import shapely

from gis.errors import InputError

EXCLUSIVE_DIGIT = 9  # first digit of exclusive grids' serials


def reading_order(geoms) -> np.ndarray:
    """Indices of ``geoms`` (metric CRS) in rows from north to south, each row west to
    east. A row is a band about one typical grid high."""
    geoms = np.asarray(geoms, dtype=object)
    if not len(geoms):
        return np.array([], dtype=int)
    pts = shapely.get_coordinates(shapely.point_on_surface(geoms))
    height = float(np.median(np.sqrt(np.maximum(shapely.area(geoms), 1e-9))))
    row = np.floor((pts[:, 1].max() - pts[:, 1]) / max(height, 1e-9)).astype(int)
    return np.lexsort((pts[:, 0], row))


def split_code(code: str, width: int) -> tuple[str, int] | None:
    """``"110101001001" + "0007"`` → (``"110101001001"``, 7); a bare serial ``"0007"`` →
    (``""``, 7) (grids coded without their community's prefix); None when not ours."""
    code = str(code)
    tail = code[-width:]
    return (code[:-width], int(tail)) if len(code) >= width and tail.isdigit() else None


def common_prefix(codes, width: int) -> str:
    """The prefix most of ``codes`` share ("" when they carry none)."""
    found = [p[0] for p in (split_code(c, width) for c in codes) if p]
    return max(set(found), key=found.count) if found else ""


def _serial_range(kind: str, width: int) -> tuple[int, int]:
    top = EXCLUSIVE_DIGIT * 10 ** (width - 1)
    return (top + 1, 10 ** width - 1) if kind == "exclusive" else (1, top - 1)


def assign_codes(geoms, kinds, prefix: str, width: int = 4, *, keep=None,
                 used=()) -> np.ndarray:
    """Codes for grids of one community.

    Parameters
    ----------
    geoms : grid polygons in a metric CRS.
    kinds : ``"basic"`` or ``"exclusive"`` per grid.
    prefix : the community's 12-digit code ("" when unknown).
    width : digits of the serial.
    keep : optional array of codes to keep (None/"" where a new code is needed).
    used : codes used before (previous grids, retired codes): never handed out again.
    """
    kinds = np.asarray(kinds, dtype=object)
    codes = np.array([""] * len(kinds), dtype=object)
    if keep is not None:
        codes[:] = [c if isinstance(c, str) and c else "" for c in keep]
    taken = {k: set() for k in ("basic", "exclusive")}
    given = {str(c) for c in used} | {c for c in codes if c}
    for code in list(used) + [c for c in codes if c]:
        parts = split_code(code, width)
        if parts and parts[0] == prefix:
            kind = "exclusive" if parts[1] >= _serial_range("exclusive", width)[0] else "basic"
            taken[kind].add(parts[1])
    for kind in ("basic", "exclusive"):
        first, last = _serial_range(kind, width)
        nxt = max(taken[kind], default=first - 1) + 1
        for idx in reading_order(geoms):
            if kinds[idx] != kind or codes[idx]:
                continue
            if nxt > last:
                raise InputError(f"more {kind} grids than {width}-digit serials allow "
                                 f"(use a wider --code-width)", field="code_width")
            while f"{prefix}{nxt:0{width}d}" in given:  # a used code of another shape
                nxt += 1
            codes[idx] = f"{prefix}{nxt:0{width}d}"
            nxt += 1
    return codes


def match_previous(geoms, prev_geoms, prev_codes, *, min_iou: float = 0.98) -> np.ndarray:
    """For each grid, the code of a previous grid with practically the same shape
    (intersection over union ≥ ``min_iou``), else None. Both in the same metric CRS."""
    out = np.array([None] * len(geoms), dtype=object)
    if not len(geoms) or not len(prev_geoms):
        return out
    tree = shapely.STRtree(prev_geoms)
    i, j = tree.query(geoms, predicate="intersects")
    inter = shapely.area(shapely.intersection(geoms[i], prev_geoms[j]))
    union = shapely.area(geoms[i]) + shapely.area(prev_geoms[j]) - inter
    iou = inter / np.maximum(union, 1e-9)
    given: set[str] = set()
    for a, b, v in sorted(zip(i, j, iou), key=lambda t: -t[2]):
        if v >= min_iou and out[a] is None and prev_codes[b] not in given:
            out[a] = prev_codes[b]
            given.add(prev_codes[b])
    return out
