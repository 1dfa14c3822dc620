"""Application factory: ``create_app(settings)`` builds a fresh app (tests and the CLI
make their own; nothing global is mutated)."""

from __future__ import annotations

import importlib
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from api import auth, errors
from api.middleware import BodyLimit, ConcurrencyLimit
from api.routers import ROUTERS
from gis import __version__
from gis.services.imports import open_database
from gis.settings import Settings

STATIC = Path(__file__).with_name("static")


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Build the service. With ``engine`` given the app uses it (and does not dispose of it);
    otherwise the lifespan opens the configured database, migrated, and closes it."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        own = engine is None
        app.state.engine = engine or open_database(settings)
        try:
            yield
        finally:
            if own:
                app.state.engine.dispose()

    app = FastAPI(title="gridgis", version=__version__, lifespan=lifespan,
                  description="Grid management (网格化管理): grids, incidents, cameras, patrols.")
    app.state.settings = settings
    if engine is not None:  # usable before the lifespan runs (e.g. TestClient without `with`)
        app.state.engine = engine
    errors.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_mb * 1024 * 1024)
    app.add_middleware(ConcurrencyLimit, limit=24)  # below threads (40) and connections (30)
    app.include_router(auth.router)
    for name in ROUTERS:
        app.include_router(importlib.import_module(name).router)
    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
