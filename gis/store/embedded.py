"""The embedded PostgreSQL + PostGIS cluster that gridgis runs for itself.

With ``GRIDGIS_DATABASE_URL`` unset, gridgis keeps a cluster in ``<data_dir>/pg``
listening only on a Unix socket in that directory (no TCP port to collide with).
PostgreSQL refuses to run as root, so under root the server runs as the ``postgres``
system user (created by Debian's package) or a ``gridgis`` system user that we
create; as a normal user it runs as that user.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import re
import shutil
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gis.errors import DatabaseUnavailable

SUPERUSER = "gridgis"
DATABASE = "gridgis"
PORT = 5432  # only names the socket file; nothing listens on TCP
_SOCKET_MAX = 100  # sun_path is 108 bytes on Linux


def find_bin_dir() -> Path | None:
    """The newest PostgreSQL bin directory that has PostGIS available, or any pg_ctl."""
    explicit = os.environ.get("GRIDGIS_PG_BIN")
    if explicit:
        return Path(explicit)
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
                        reverse=True)
    for pg_ctl in candidates:
        version = pg_ctl.parent.parent.name
        if list(Path(f"/usr/share/postgresql/{version}/extension").glob("postgis.control")):
            return pg_ctl.parent
    which = shutil.which("pg_ctl")
    if which:
        return Path(os.path.realpath(which)).parent
    return candidates[0].parent if candidates else None


def server_user() -> str | None:
    """Who runs the server: None means 'the current user' (not root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "gridgis"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    "gridgis"], check=True, capture_output=True)
    return "gridgis"


@dataclass
class EmbeddedCluster:
    """A PostgreSQL cluster in ``data_dir/pg`` owned by gridgis.

    ``durable=False`` turns off fsync for throwaway clusters (tests, benchmarks).
    """

    data_dir: Path
    durable: bool = True

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).absolute()
        self.pgdata = self.data_dir / "pg"
        self.bin_dir = find_bin_dir()
        if self.bin_dir is None:
            raise DatabaseUnavailable(
                "PostgreSQL is not installed. Run scripts/setup.sh (installs postgresql and "
                "postgresql-NN-postgis-3), or set GRIDGIS_DATABASE_URL to an existing PostGIS.")
        self.user = server_user()
        socket = self.pgdata / f".s.PGSQL.{PORT}"
        if len(str(socket)) > _SOCKET_MAX:
            raise DatabaseUnavailable(
                f"data directory path too long for a Unix socket ({len(str(socket))} bytes): "
                f"{self.data_dir}; set GRIDGIS_DATA_DIR to a shorter path")

    # -- running commands as the server user ---------------------------------------
    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd="/")
        if check and proc.returncode != 0:
            raise DatabaseUnavailable(f"{args[0]} failed: {proc.stderr.strip() or proc.stdout.strip()}"
                                      f"{self._log_tail()}")
        return proc

    def _log_tail(self) -> str:
        log = self.pgdata / "server.log"
        try:
            lines = log.read_text(errors="replace").splitlines()[-8:]
        except OSError:
            return ""
        return "\nserver log:\n  " + "\n  ".join(lines) if lines else ""

    @contextmanager
    def _lock(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir / ".cluster.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- life cycle ----------------------------------------------------------------
    @property
    def initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def init(self) -> bool:
        """Create the cluster if it does not exist; True when it was created now."""
        if self.initialised:
            return False
        self.pgdata.mkdir(parents=True, exist_ok=True)
        os.chmod(self.pgdata, 0o700)
        if self.user:
            self._make_reachable()
        self._run("initdb", "-D", str(self.pgdata), "-U", SUPERUSER, "-E", "UTF8",
                  "--locale=C", "--auth-local=trust", "--auth-host=reject")
        self._write_conf()
        return True

    def _make_reachable(self) -> None:
        """Under root: hand the cluster directory to the server user and check it can enter
        every parent directory (it cannot enter /root, for example)."""
        pw = pwd.getpwnam(self.user)
        os.chown(self.pgdata, pw.pw_uid, pw.pw_gid)
        probe = subprocess.run(["runuser", "-u", self.user, "--", "test", "-w", str(self.pgdata)],
                               capture_output=True)
        if probe.returncode != 0:
            raise DatabaseUnavailable(
                f"the server user '{self.user}' cannot reach {self.pgdata}: a parent directory is "
                f"closed to it. Choose GRIDGIS_DATA_DIR outside /root (default /var/lib/gridgis).")

    def _write_conf(self) -> None:
        durable = "on" if self.durable else "off"
        conf = f"""
# written by gridgis: Unix socket only, in this directory
listen_addresses = ''
unix_socket_directories = '{self.pgdata}'
port = {PORT}
unix_socket_permissions = 0700
fsync = {durable}
synchronous_commit = {durable}
full_page_writes = {durable}
shared_buffers = 256MB
work_mem = 32MB
maintenance_work_mem = 256MB
max_connections = 200
# JIT compilation costs more than it saves on gridgis' short spatial queries
jit = off
"""
        conf_path = self.pgdata / "postgresql.auto.conf"
        with open(conf_path, "a") as fh:
            fh.write(conf)

    def running(self) -> bool:
        if not self.initialised:
            return False
        return self._run("pg_ctl", "status", "-D", str(self.pgdata), check=False).returncode == 0

    def start(self) -> bool:
        """Initialise if needed and start if not running; True when it was started now."""
        with self._lock():
            self.init()
            if self.running():
                return False
            self._run("pg_ctl", "start", "-D", str(self.pgdata), "-w", "-t", "60",
                      "-l", str(self.pgdata / "server.log"))
            self._wait_ready()
            self._ensure_database()
            return True

    def stop(self) -> bool:
        with self._lock():
            if not self.running():
                return False
            self._run("pg_ctl", "stop", "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "60")
            return True

    def destroy(self) -> None:
        """Stop and delete the cluster (throwaway test clusters only)."""
        self.stop()
        shutil.rmtree(self.pgdata, ignore_errors=True)

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._run("pg_isready", "-h", str(self.pgdata), "-p", str(PORT), "-U", SUPERUSER,
                         check=False).returncode == 0:
                return
            time.sleep(0.2)
        raise DatabaseUnavailable(f"the embedded PostgreSQL did not become ready{self._log_tail()}")

    def _ensure_database(self) -> None:
        import psycopg

        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  (DATABASE,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')

    # -- addresses -----------------------------------------------------------------
    def conninfo(self, dbname: str = DATABASE) -> str:
        return f"host={self.pgdata} port={PORT} user={SUPERUSER} dbname={dbname}"

    def url(self, dbname: str = DATABASE) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@/{dbname}?host={self.pgdata}&port={PORT}"

    def version(self) -> str:
        out = self._run("postgres", "--version").stdout
        match = re.search(r"(\d+(\.\d+)?)", out)
        return match.group(1) if match else out.strip()
