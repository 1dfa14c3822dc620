"""Typed dependencies: the engine (each service opens its own unit of work on it and
commits before it returns), the settings, and path ids.

There is deliberately no per-request session: a ``yield`` dependency's exit runs after
FastAPI has sent the response, so a transaction committed there can fail after the client
was told 201 (issue 13). Use cases commit inside ``gis.services``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
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
