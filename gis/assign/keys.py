"""Grid keys as users write them: ``17``, ``"017"``, ``17.0`` and ``" 17 "`` are one key.

Grid files store their key field as text or as numbers (and shapefiles or pandas turn
integers with missing values into floats), while the records we assign often carry the
same code in another type. We therefore compare keys by a *canonical form*:

* missing values (None, NaN, empty text) have no key;
* integers, integral floats and text made only of digits (optionally ``.0``) become the
  decimal integer without leading zeros: ``17``, ``17.0``, ``"017"``, ``"17.00"`` → ``"17"``;
  if that would merge two *different* texts of one grid file (``"01"`` and ``"1"``), the
  file's texts are kept as they are instead (leading zeros then matter);
* any other text is stripped of surrounding white space; comparisons with recorded values
  (:func:`key_matches`) also ignore case and repeated inner spaces.

Keys are ordered numerically when they are integers, then as text
(:func:`key_order`), so that ``2`` sorts before ``10`` for tie-breaks.
"""

from __future__ import annotations

import math
import re
import sys
from numbers import Integral, Real

import numpy as np

_INTEGRAL_TEXT = re.compile(r"[+-]?\d+(?:\.0*)?")
_SPACES = re.compile(r"\s+")


def canonical_key(value, *, numeric_text: bool = True) -> str | None:
    """The canonical text of one key value, or None when it is missing.

    Examples
    --------
    >>> [canonical_key(v) for v in (17, 17.0, "017", " 17 ", "E23000001", None)]
    ['17', '17', '17', '17', 'E23000001', None]
    """
    if value is None or _is_pandas_na(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real):
        v = float(value)
        if math.isnan(v):
            return None
        return str(int(v)) if v.is_integer() else repr(v)
    text = str(value).strip()
    if not text:
        return None
    if numeric_text and _INTEGRAL_TEXT.fullmatch(text):
        return str(int(text.split(".")[0]))
    return text


def _is_pandas_na(value) -> bool:
    # pandas is not imported on the CSV path (start-up time); without it there is no NA.
    # (getattr: another thread may be importing pandas right now, NA not yet defined.)
    na = getattr(sys.modules.get("pandas"), "NA", None)
    return na is not None and value is na


def display_key(value) -> str | None:
    """The key as written in the grid file: numbers without a spurious ``.0``, text stripped
    (leading zeros kept)."""
    if isinstance(value, str):
        return value.strip() or None
    return canonical_key(value)


def canonical_keys(values) -> list[str | None]:
    """Canonical keys of a whole grid-key column (see the module notes on leading zeros)."""
    values = list(values)
    keys = [canonical_key(v) for v in values]
    texts = {}
    for v, k in zip(values, keys):
        if isinstance(v, str) and k is not None:
            texts.setdefault(k, set()).add(v.strip())
    if any(len(s) > 1 for s in texts.values()):
        keys = [canonical_key(v, numeric_text=False) for v in values]
    return keys


def key_order(keys) -> np.ndarray:
    """Rank of each key: integers numerically first, then other text in code-point order."""
    def sort_key(k: str):
        if _INTEGRAL_TEXT.fullmatch(k):
            return (0, int(k.split(".")[0]), k)
        return (1, 0, k)

    keys = list(keys)
    order = sorted(range(len(keys)), key=lambda i: sort_key(keys[i]))
    rank = np.empty(len(keys), dtype=np.int64)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(len(keys))
    return rank


def _loose(key: str | None) -> str | None:
    return None if key is None else _SPACES.sub(" ", key).casefold()


def key_matches(recorded, grid, candidates) -> np.ndarray:
    """Whether each recorded key equals the assigned grid or one of the ``;``-joined candidates.

    Used to check an assignment against a recorded area (a flagged boundary row counts
    when the recorded area is among its candidates). Rows with no recorded key are False.
    """
    rec = [_loose(canonical_key(v)) for v in recorded]
    out = np.zeros(len(rec), dtype=bool)
    for i, (r, g, c) in enumerate(zip(rec, grid, candidates)):
        if r is None:
            continue
        pool = [canonical_key(g)] + [canonical_key(p) for p in str(c or "").split(";")]
        out[i] = r in {_loose(p) for p in pool if p is not None}
    return out


def reproduced(recorded, labels, grid: np.ndarray, candidates: np.ndarray,
               dictionary: np.ndarray, exact: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Per row: whether an area is recorded, and whether it is the assigned grid or one of
    the candidates (:func:`key_matches` vectorised over the distinct recorded values).

    ``recorded`` is a pyarrow or pandas/numpy column; ``grid`` and ``candidates`` are codes
    into ``labels`` and ``dictionary`` (:class:`gis.assign.locate.Located`). ``exact``,
    a boolean array of the rows' length, receives whether the assigned grid itself is
    the recorded one (candidates not counted).
    """
    codes, uniques = _factorize(recorded)
    ids: dict[str, int] = {}
    label_id = np.array([ids.setdefault(_loose(canonical_key(v)), len(ids)) for v in labels]
                        + [-3], dtype=np.int64)  # -3: no grid
    loose = [_loose(canonical_key(v)) for v in uniques]
    value_id = np.array([-1 if k is None or k == "nan" else ids.get(k, -2) for k in loose]
                        + [-1], dtype=np.int64)  # -1: nothing recorded, -2: no such grid
    row_id = value_id[codes]  # code -1 (missing) takes the last entry
    ok = row_id == label_id[grid]
    if exact is not None:
        exact[:] = ok
    lists = np.flatnonzero((candidates >= len(labels)) & ~ok & (row_id >= 0))
    if len(lists):
        pools = {}
        for i in lists:
            c = candidates[i]
            if c not in pools:
                pools[c] = {ids.get(_loose(canonical_key(p)), -4)
                            for p in str(dictionary[c]).split(";")}
            ok[i] = row_id[i] in pools[c]
    return row_id != -1, ok


def _factorize(values) -> tuple[np.ndarray, list]:
    """Codes (-1 for missing) and distinct values of a column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        enc = pc.dictionary_encode(values)
        codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        return codes, enc.dictionary.to_pylist()
    import pandas as pd

    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    return codes.astype(np.int64), list(uniques)
