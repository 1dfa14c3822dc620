"""Small CSV tables typed in by people (holiday calendars, departments, routing rules).

Pure: reads a file or text and hands back rows with their line numbers, so the parsers
beside each concept can name the file, the row and the field of every problem. The header
row is row 1, so the first data row is row 2, as a spreadsheet shows it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

from gis.errors import InputError, InvalidRows, RowProblem


def read_rows(source: str | Path | io.TextIOBase, *, required: Iterable[str],
              optional: Iterable[str] = (), file: str | None = None
              ) -> tuple[str, list[tuple[int, dict[str, str]]]]:
    """``(file name, [(row number, {column: stripped text})])`` of a CSV file.

    ``source`` is a path or an open text stream. Column names are matched case-insensitively
    and trimmed; a missing required column, or an unknown one, refuses the whole file (a
    misspelt optional column would otherwise be dropped silently). A UTF-8 byte-order mark,
    as spreadsheets write it, is accepted.
    """
    name = file or (str(source) if isinstance(source, (str, Path)) else "<csv>")
    if isinstance(source, (str, Path)):
        try:
            text = Path(source).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(f"cannot read the file: {err}", file=name) from err
    else:
        text = source.read().lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    required, optional = list(required), list(optional)
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)} (found: "
                         f"{', '.join(header) or 'no header'})", file=name, row=1)
    unknown = [c for c in header if c and c not in required + optional]
    if unknown:
        raise InputError(f"unknown column(s) {', '.join(unknown)} (allowed: "
                         f"{', '.join(required + optional)})", file=name, row=1)
    rows = []
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue  # blank lines at the end of a hand-edited file
        if len(cells) > len(header):
            raise InputError(f"{len(cells)} cells for {len(header)} columns", file=name,
                             row=number)
        rows.append((number, {h: (cells[i].strip() if i < len(cells) else "")
                              for i, h in enumerate(header) if h}))
    return name, rows


def raise_if_any(problems: list[RowProblem], file: str) -> None:
    """Refuse the file, naming every problem, when there is any: nothing is half-read."""
    if problems:
        raise InvalidRows(problems, file=file)
