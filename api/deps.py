"""Typed dependencies: the engine (each service opens its own unit of work on it and
commits before it returns), the settings, and path ids.

There is deliberately no per-request session: a ``yield`` dependency's exit runs after
FastAPI has sent the response, so a transaction committed there can fail after the client
was told 201 (issue 13). Use cases commit inside ``gis.services``."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Path, Request
from pydantic import AfterValidator, BeforeValidator, WithJsonSchema
from sqlalchemy import Engine

from gis.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
# Database ids are bigint: anything else is refused (422) before PostgreSQL sees it.
MAX_ID = 2**63 - 1
ObjectId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _iso_text(value):
    """Only ISO 8601 text: pydantic would otherwise read ``0.5`` as seconds after 1970."""
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, (int, float)) or (isinstance(text, str) and _NUMBER.fullmatch(text)):
        raise ValueError("expected a date-time such as 2026-10-01T08:00:00+08:00, not a number")
    return value


def _in_years(value: datetime) -> datetime:
    if not 1970 <= value.year <= 2200:
        raise ValueError("the year must lie between 1970 and 2200")
    return value


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
# A date-time parameter or field: ISO 8601 text (any year PostgreSQL stores).
Timestamp = Annotated[datetime, BeforeValidator(_iso_text)]
# ... with a year in 1970-2200 (patrol times: see api/routers/patrol.py), as documented.
BoundedTimestamp = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_in_years),
                             WithJsonSchema({"type": "string", "format": "date-time",
                                             "pattern": r"^(19[7-9][0-9]|2[01][0-9][0-9]|2200)-"})]
