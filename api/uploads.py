"""An uploaded file saved to a private temporary folder under the name the client gave it
(its suffix tells the readers the format), refused before any byte is written when its
type is not one the endpoint reads. The folder and the file are gone when the block ends."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import UploadFile

from gis.errors import InputError


@contextmanager
def saved_upload(file: UploadFile, suffixes: tuple[str, ...], *,
                 refusal: str | None = None) -> Iterator[tuple[Path, str]]:
    """``(path, name)`` of ``file`` written in 1 MiB pieces (memory stays bounded whatever
    its size); ``refusal`` replaces the default message for a type not in ``suffixes``."""
    name = Path(file.filename or "upload").name
    suffix = Path(name).suffix.lower()
    if suffix not in suffixes:
        raise InputError(refusal or f"unsupported file type {suffix or '(none)'} (use "
                         f"{', '.join(suffixes)})", file=name, field="file")
    with tempfile.TemporaryDirectory(prefix="gg-upload-") as tmp:
        path = Path(tmp) / name
        with open(path, "wb") as out:
            while chunk := file.file.read(1 << 20):
                out.write(chunk)
        yield path, name
