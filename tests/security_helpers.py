"""Helpers for the security tests (issue 14): the real service under uvicorn on a free
loopback port with chosen GRIDGIS_* settings, an "attacker" site on a second port, and
bearer headers for fixture users. Everything goes over real HTTP."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from bench.load_test import wait_until_up


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serve(database_url: str, tmp_path: Path, **settings):
    """``uvicorn`` running ``create_app()`` (settings from the environment, as users run
    it); ``settings`` become GRIDGIS_<NAME> variables. Yields the base URL."""
    port = free_port()
    env = {**os.environ, "GRIDGIS_DATABASE_URL": database_url,
           "GRIDGIS_DATA_DIR": str(tmp_path / "server-data")}
    env.update({f"GRIDGIS_{k.upper()}": str(v) for k, v in settings.items()})
    code = ("import uvicorn; from api.app import create_app; "
            f"uvicorn.run(create_app(), host='127.0.0.1', port={port}, log_level='warning')")
    log_path = tmp_path / f"server-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(base, proc, log_path, timeout=60)
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=10)


@contextmanager
def attacker_site(pages: dict[str, str]):
    """A second web server on another loopback port serving ``pages`` (name -> HTML):
    another origin, as a page on evil.example would be. Yields its base URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path.lstrip("/"), "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def token_headers(engine, role: str, scope_code: str | None, username: str,
                  password: str | None = None) -> dict[str, str]:
    from gis.store.db import transaction
    from gis.store.users import add_user, issue_token

    with transaction(engine) as session:
        user = add_user(session, username, role, scope_code=scope_code, password=password)
        token = issue_token(session, user)
    return {"Authorization": f"Bearer {token}"}

