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
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


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
    # Duplicates (issue 16): a new report merged into a case closed this recently reopens it
    reopen_window_days: float = Field(default=30.0, gt=0, le=3650,
                                      description="days after closing within which a repeat "
                                                  "report reopens the case (重办)")
    # Security (README "Security"): session cookies, login backoff.
    cookie_secure: bool | None = Field(
        default=None, description="mark the session cookie Secure; unset: Secure unless "
                                  "the service listens on loopback only")
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30,
                                 description="a login session expires after this long")
    login_free_attempts: int = Field(default=5, ge=1, description="failed logins per "
                                     "account before backoff starts")
    login_address_free_attempts: int = Field(default=20, ge=1, description="failed logins "
                                             "per client address before backoff starts")
    trusted_origins: tuple[str, ...] = Field(
        default=(), description="other origins whose pages may post to the service with "
                                "its cookie (JSON list), e.g. a TLS proxy's public URL")
    login_max_delay_s: float = Field(default=900.0, ge=1, description="longest backoff")
    # Resident reporting (/report, no account): per client address
    report_rate_per_hour: int = 10          # reports sent
    public_tile_rate_per_minute: int = 1200  # base-map tiles read (a map view is ~20)
    # Live inbox (GET /notifications/stream, README "Notifications"): server-sent events
    stream_max: int = Field(default=200, ge=1, le=10_000, description="open event streams "
                            "per process; beyond, 503 (the pages fall back to polling)")
    stream_heartbeat_s: float = Field(default=15.0, gt=0, le=300, description="a comment "
                                      "line this often keeps proxies from closing a stream")
    stream_recheck_s: float = Field(default=60.0, gt=0, le=3600, description="a stream "
                                    "re-checks its credentials this often and ends when "
                                    "they are revoked or expired")
    # E-mail of department notices through an SMTP server: off unless smtp_host is set
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "gridgis@localhost"
    smtp_starttls: bool = False
    smtp_timeout_s: float = Field(default=10.0, gt=0, le=120)

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
    def loopback_only(self) -> bool:
        return self.host in LOOPBACK_HOSTS

    @property
    def secure_cookies(self) -> bool:
        """Secure cookies unless forced either way: on whenever the service is reachable
        from other machines (it is then expected behind TLS)."""
        return self.cookie_secure if self.cookie_secure is not None else not self.loopback_only

    @property
    def embedded(self) -> bool:
        return not self.database_url

    @property
    def pg_dir(self) -> Path:
        return self.data_dir / "pg"


@lru_cache
def get_settings() -> Settings:
    return Settings()
