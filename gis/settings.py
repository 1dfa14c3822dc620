"""Settings from ``GRIDGIS_*`` environment variables (one class, passed down)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """Where the embedded cluster and generated data live.

    A normal user gets ``$XDG_DATA_HOME/gridgis`` (``~/.local/share/gridgis``). Root gets
    ``/var/lib/gridgis``: the server must run as an unprivileged user, and that user
    cannot enter ``/root``.
    """
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/gridgis")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "gridgis"


PLACEHOLDER_SECRET = "dev-only-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDGIS_", extra="ignore")

    database_url: str | None = Field(
        default=None, description="postgresql+psycopg://... of an existing PostGIS; "
                                  "unset: the embedded cluster in data_dir")
    data_dir: Path = Field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    port: int = 8000
    tolerance_m: float = 10.0  # boundary tolerance for incident assignment
    grid_code_width: int = 4
    secret_key: str = PLACEHOLDER_SECRET
    environment: str = "development"
    max_upload_mb: int = 200
    base_tile_url: str | None = None  # optional raster base map for the web pages
    timezone: str = "Asia/Shanghai"
    # Resident reporting (/report, no account): per client address
    report_rate_per_hour: int = 10          # reports sent
    public_tile_rate_per_minute: int = 1200  # base-map tiles read (a map view is ~20)

    @model_validator(mode="after")
    def _no_placeholder_secret(self) -> "Settings":
        """Outside development the placeholder secret (or a short one) is refused, so a
        deployment cannot start with a key everyone can read in the source."""
        if self.environment != "development" and (
                self.secret_key == PLACEHOLDER_SECRET or len(self.secret_key) < 32):
            raise ValueError("GRIDGIS_SECRET_KEY must be set to a random value of at least "
                             "32 characters outside development (GRIDGIS_ENVIRONMENT="
                             f"{self.environment})")
        return self

    @property
    def embedded(self) -> bool:
        return not self.database_url

    @property
    def pg_dir(self) -> Path:
        return self.data_dir / "pg"


@lru_cache
def get_settings() -> Settings:
    return Settings()
