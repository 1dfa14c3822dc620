"""CSV cells a spreadsheet would run as a formula, neutralised (OWASP "CSV injection").

Rule: a TEXT cell whose first character is ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return gets a single quote in front (``=HYPERLINK(...)`` -> ``'=HYPERLINK(...)``), so
Excel, LibreOffice and WPS show it as text. A cell that reads as a number is left as it is:
numeric columns are never touched, and a text cell such as ``-87.6`` or ``+86`` that
parses as a decimal number stays a number (coordinates, signed figures). Column names
get the same treatment. Every CSV gridgis writes for people (exports, crosswalks,
rejected-row reports, reports and the patrol, partition and assign outputs) goes through
here; CSV made only for PostgreSQL's COPY does not (it is data, not a document)."""

from __future__ import annotations

import re

import pandas as pd

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# A plain decimal number (what a spreadsheet reads as a number, not a formula).
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def neutralise(value):
    """One cell: a risky text value with a quote in front, anything else unchanged.

    >>> neutralise('=HYPERLINK("http://evil.example","x")')
    '\\'=HYPERLINK("http://evil.example","x")'
    >>> neutralise("-87.6"), neutralise(-87.6), neutralise("@SUM(A1)"), neutralise("a-b")
    ('-87.6', -87.6, "'@SUM(A1)", 'a-b')
    """
    if isinstance(value, str) and value.startswith(TRIGGERS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def risky(values: pd.Series) -> pd.Series:
    """Which cells of a text column :func:`neutralise` would change (vectorised)."""
    text = values.astype("string")
    return (text.str.startswith(TRIGGERS).fillna(False)
            & ~text.str.fullmatch(_NUMBER.pattern).fillna(False)).astype(bool)


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy with every risky text cell and column name neutralised (numeric columns
    are skipped without looking)."""
    out = df.rename(columns=lambda c: neutralise(c) if isinstance(c, str) else c)
    for name in out.columns:
        col = out[name]
        if isinstance(col, pd.DataFrame) or not (pd.api.types.is_object_dtype(col)
                                                 or pd.api.types.is_string_dtype(col)):
            continue
        is_text = col.map(lambda v: isinstance(v, str))
        hit = risky(col.where(is_text, None)) & is_text
        if hit.any():
            col = col.copy()
            col[hit] = "'" + col[hit].astype(str)
            out[name] = col
    return out


def csv_text(df: pd.DataFrame, **kwargs) -> str:
    """``df.to_csv`` of the neutralised frame (index off unless asked)."""
    kwargs.setdefault("index", False)
    return neutralise_frame(df).to_csv(**kwargs)


def to_csv(df: pd.DataFrame, path, **kwargs) -> None:
    """Write the neutralised frame to ``path`` (a path or open file)."""
    kwargs.setdefault("index", False)
    neutralise_frame(df).to_csv(path, **kwargs)
