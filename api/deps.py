"""Typed dependencies: one database session (one transaction) per request, the settings,
and the calling principal."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Path, Request
from pydantic import AfterValidator, BeforeValidator, WithJsonSchema
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gis.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_session(request: Request) -> Iterator[Session]:
    """The request's transaction: committed when the handler returns, rolled back on any
    error, so a failed request writes nothing."""
    session = request.app.state.sessions()
    try:
        with session.begin():
            yield session
    finally:
        session.close()


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session)]
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
