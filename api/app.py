"""Application factory: ``create_app(settings)`` builds a fresh app (tests and the CLI
make their own; nothing global is mutated)."""

from __future__ import annotations

import importlib
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from api import auth, errors, live, openapi
from api.middleware import BodyLimit, ConcurrencyLimit, ContainErrors
from api.security import CsrfGuard, SecurityHeaders, content_security_policy
from api.routers import ROUTERS
from gis import __version__
from gis.services import layers as layers_service
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
        hub = live.hub_of(app)
        if hub.smtp is not None:  # else the listener starts with the first event stream
            hub.start()
        live.close_on_signals(hub)
        if own:  # a server of its own: its tile connections are ready before the first tile
            await layers_service.open_tile_connections(app.state.engine)
        try:
            yield
        finally:
            await hub.aclose()
            if own:
                app.state.engine.dispose()

    app = FastAPI(title="gridgis", version=__version__, lifespan=lifespan,
                  description="Grid management (网格化管理): grids, incidents, cameras, patrols.")
    app.state.settings = settings
    if engine is not None:  # usable before the lifespan runs (e.g. TestClient without `with`)
        app.state.engine = engine
    errors.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_mb * 1024 * 1024)
    app.add_middleware(ConcurrencyLimit, limit=24,  # below threads (40) and connections (30)
                       exempt=("/notifications/stream",))
    app.add_middleware(ContainErrors)  # outside BodyLimit: its 413 is its own
    app.add_middleware(CsrfGuard, cookie=auth.COOKIE, trusted=tuple(settings.trusted_origins))
    app.add_middleware(SecurityHeaders, csp=content_security_policy(settings.base_tile_url))
    app.include_router(auth.router)
    for name in ROUTERS:
        app.include_router(importlib.import_module(name).router)
    openapi.install(app)  # every status, content type and rule of every route, documented
    typed_paths(app)
    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def typed_paths(app: FastAPI) -> None:
    """An integer path parameter matches only digits, so a sibling word such as
    ``/incidents/import`` is never taken for an id (GET there is a 405 naming POST, not a
    422 about an id)."""
    from starlette.routing import compile_path

    for route in openapi.api_routes(app.routes):
        path = route.path
        for param in route.dependant.path_params:
            if param.field_info.annotation is int and "{%s}" % param.name in path:
                path = path.replace("{%s}" % param.name, "{%s:int}" % param.name)
        if path != route.path:
            route.path = path
            route.path_regex, route.path_format, route.param_convertors = compile_path(path)
