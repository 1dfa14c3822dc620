"""``/health``: is the database reachable, and which PostgreSQL/PostGIS serve it."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import EngineDep, SettingsDep
from gis import __version__
from gis.services.imports import database_versions

router = APIRouter(tags=["health"])


@router.get("/health", summary="Service and database status")
def health(engine: EngineDep, settings: SettingsDep) -> dict:
    info = database_versions(engine)
    return {"status": "ok", "gridgis": __version__,
            "database": "embedded" if settings.embedded else "external", **info}
