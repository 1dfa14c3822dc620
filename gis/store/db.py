"""Connecting to PostGIS: the embedded cluster by default, ``GRIDGIS_DATABASE_URL`` when
set; migrations applied with Alembic on start; versions checked (PostgreSQL ≥ 13,
PostGIS ≥ 3.1)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from gis.errors import DatabaseUnavailable
from gis.settings import Settings
from gis.store.embedded import EmbeddedCluster

MIGRATIONS = Path(__file__).with_name("migrations")
MIN_POSTGRES = 13
MIN_POSTGIS = (3, 1)


def database_url(settings: Settings, *, start: bool = True) -> str:
    """The SQLAlchemy URL to use, starting the embedded cluster when that is the one."""
    if settings.database_url:
        url = settings.database_url
        return url.replace("postgresql://", "postgresql+psycopg://", 1) \
            if url.startswith("postgresql://") else url
    cluster = EmbeddedCluster(settings.data_dir)
    if start:
        cluster.start()
    return cluster.url()


def make_engine(url: str, **kwargs) -> Engine:
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(engine: Engine) -> None:
    """Create PostGIS if missing and bring the schema to the newest migration."""
    from alembic import command

    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    check_versions(engine)
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def versions(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        pg = conn.execute(text("SHOW server_version")).scalar_one()
        postgis = conn.execute(text(
            "SELECT extversion FROM pg_extension WHERE extname = 'postgis'")).scalar()
        head = None
        if conn.execute(text("SELECT to_regclass('alembic_version')")).scalar():
            head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return {"postgresql": pg.split()[0], "postgis": postgis, "schema": head}


def check_versions(engine: Engine) -> dict[str, str]:
    found = versions(engine)
    major = int(found["postgresql"].split(".")[0])
    if major < MIN_POSTGRES:
        raise DatabaseUnavailable(f"PostgreSQL {found['postgresql']} is too old (need ≥ {MIN_POSTGRES})")
    if not found["postgis"]:
        raise DatabaseUnavailable("PostGIS is not installed in the database")
    postgis = tuple(int(p) for p in found["postgis"].split(".")[:2])
    if postgis < MIN_POSTGIS:
        raise DatabaseUnavailable(f"PostGIS {found['postgis']} is too old (need ≥ 3.1)")
    return found


def open_engine(settings: Settings, *, apply_migrations: bool = True) -> Engine:
    """Engine for the configured database, migrated to the newest schema."""
    try:
        engine = make_engine(database_url(settings))
        if apply_migrations:
            migrate(engine)
        return engine
    except DatabaseUnavailable:
        raise
    except Exception as exc:  # connection refused, auth failed, ...
        raise DatabaseUnavailable(f"cannot use the database: {exc}") from exc


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine):
    """One transaction: commit on success, roll back on any error. For tests, benchmarks
    and scripts that set up data; the application's use cases open
    :func:`gis.services.unit_of_work` instead (it turns a refused commit into a domain
    error)."""
    factory = session_factory(engine)
    with factory() as session:
        with session.begin():
            yield session
