"""Backup and restore with pg_dump/pg_restore (custom format), for the embedded cluster
or an external server. A restore runs in one transaction: it applies whole or not at all."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from sqlalchemy.engine import make_url

from gis.errors import DatabaseUnavailable, InputError
from gis.store.embedded import find_bin_dir


def libpq_url(sqlalchemy_url: str) -> str:
    """``postgresql+psycopg://u@/db?host=/sock`` → a libpq URI pg_dump understands."""
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _tool(name: str) -> str:
    bin_dir = find_bin_dir()
    if bin_dir is None or not (bin_dir / name).exists():
        raise DatabaseUnavailable(f"{name} not found: install the PostgreSQL client")
    return str(bin_dir / name)


def backup(url: str, path: str | Path) -> Path:
    """Dump the whole database to ``path`` (written to a temporary name, then moved)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    proc = subprocess.run([_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(tmp),
                           "--dbname", libpq_url(url)], capture_output=True, text=True)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise DatabaseUnavailable(f"pg_dump failed: {proc.stderr.strip()}")
    tmp.replace(path)
    return path


def restore(url: str, path: str | Path) -> None:
    """Replace the database's contents with the dump, in a single transaction.

    The PostGIS extension itself is left in place: dropping and re-creating it would
    give its types new OIDs, and every open connection (a running server's pool)
    would then fail on spatial operators until it reconnects."""
    path = Path(path)
    if not path.exists():
        raise InputError("backup file not found", file=str(path))
    listing = subprocess.run([_tool("pg_restore"), "--list", str(path)], capture_output=True,
                             text=True)
    if listing.returncode != 0:
        raise DatabaseUnavailable(f"not a gridgis backup, nothing changed: "
                                  f"{listing.stderr.strip()[:2000]}")
    keep = [line for line in listing.stdout.splitlines() if " EXTENSION " not in line]
    with tempfile.NamedTemporaryFile("w", suffix=".list", delete=False) as fh:
        fh.write("\n".join(keep) + "\n")
        toc = fh.name
    try:
        proc = subprocess.run([_tool("pg_restore"), "--clean", "--if-exists", "--no-owner",
                               "--single-transaction", "--exit-on-error", "--use-list", toc,
                               "--dbname", libpq_url(url), str(path)],
                              capture_output=True, text=True)
    finally:
        Path(toc).unlink(missing_ok=True)
    if proc.returncode != 0:
        raise DatabaseUnavailable(f"pg_restore failed, nothing changed: {proc.stderr.strip()[:2000]}")
