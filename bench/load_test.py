"""Load on loopback: N concurrent dispatchers against the real service for T seconds.

Each dispatcher loops: read a vector tile of live incidents, read a page of incident
features, report an incident (POST /incidents). The service runs as users run it —
uvicorn in its own process on a free 127.0.0.1 port — and the clients are httpx async
clients in this process. Afterwards the incidents stored are counted: every 201 must be
a row (count in == count stored), and no request may fail.

``python -m bench.load_test [--clients 50] [--seconds 60]`` against a throwaway
embedded PostGIS; :func:`run` is the benchmark-runner entry (60 s full, 10 s quick).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, text

# The district: four 0.01° grids in one community, lon 113.00-113.02, lat 28.00-28.02.
COUNTY, TOWN, COMM = "430102000000", "430102001000", "430102001001"
X0, Y0, X1, Y1 = 113.0, 28.0, 113.02, 28.02


@dataclass
class LoadResult:
    clients: int
    seconds: float
    requests: Counter = field(default_factory=Counter)      # kind -> done
    errors: list[str] = field(default_factory=list)
    posted: int = 0
    latencies: list[float] = field(default_factory=list)

    def summary(self, stored: int) -> dict:
        lat = sorted(self.latencies) or [0.0]
        return {"clients": self.clients, "seconds": round(self.seconds, 1),
                "requests": sum(self.requests.values()), "by_kind": dict(self.requests),
                "errors": len(self.errors), "first_errors": self.errors[:5],
                "incidents_posted": self.posted, "incidents_stored": stored,
                "rps": round(sum(self.requests.values()) / max(self.seconds, 1e-9), 1),
                "p50_ms": round(1000 * lat[len(lat) // 2], 1),
                "p99_ms": round(1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))], 1)}


def _square(x0, y0, x1, y1) -> str:
    return f"SRID=4326;MULTIPOLYGON((({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0})))"


def load_district(engine: Engine) -> None:
    """Admin units and four grids (2 x 2) with nothing else: the load writes incidents."""
    units = [(COUNTY, "county", "county", None), (TOWN, "township", "street", COUNTY),
             (COMM, "community", "community", TOWN)]
    with engine.begin() as conn:
        for code, level, kind, parent in units:
            conn.execute(text("INSERT INTO admin_units (code, name, level, kind, parent_code, "
                              "geom) VALUES (:c, :n, :l, :k, :p, ST_GeomFromEWKT(:g))"),
                         {"c": code, "n": f"unit {code}", "l": level, "k": kind, "p": parent,
                          "g": _square(X0, Y0, X1, Y1)})
        for i, (gx, gy) in enumerate(((0, 1), (1, 1), (0, 0), (1, 0))):
            x, y = X0 + 0.01 * gx, Y0 + 0.01 * gy
            conn.execute(text("INSERT INTO grids (code, community_code, geom, valid_from) "
                              "VALUES (:c, :m, ST_GeomFromEWKT(:g), now())"),
                         {"c": f"{COMM}{i + 1:04d}", "m": COMM,
                          "g": _square(x, y, x + 0.01, y + 0.01)})


def dispatcher_token(engine: Engine, username: str = "load-dispatcher") -> str:
    from gis.store.db import transaction
    from gis.store.users import add_user, issue_token

    with transaction(engine) as session:
        return issue_token(session, add_user(session, username, "dispatcher",
                                             scope_code=COUNTY))


def count_incidents(engine: Engine, marker: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM incidents WHERE reporter = :m"),
                            {"m": marker}).scalar()


@contextmanager
def serve(database_url: str, workdir: Path):
    """The service in its own process on a free loopback port; yields the base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "GRIDGIS_DATABASE_URL": database_url,
           "GRIDGIS_DATA_DIR": str(workdir / "server-data")}
    code = ("import uvicorn; from api.app import create_app; "
            f"uvicorn.run(create_app(), host='127.0.0.1', port={port}, log_level='warning')")
    log_path = workdir / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(base, proc, log_path)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_until_up(base: str, proc: subprocess.Popen, log_path: Path,
                  timeout: float = 60.0) -> None:
    """Wait for a gridgis server started as ``proc`` to answer (used by the tests too)."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log_path.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(f"{base}/conformance", timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not start within {timeout:.0f} s")


def _tile(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n, r = 2 ** z, math.radians(lat)
    y = (1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n
    return z, int((lon + 180) / 360 * n), int(y)


async def _dispatcher(client, result: LoadResult, stop_at: float, marker: str, seed: int):
    rng = random.Random(seed)
    while time.monotonic() < stop_at:
        lon, lat = rng.uniform(X0 + 1e-4, X1 - 1e-4), rng.uniform(Y0 + 1e-4, Y1 - 1e-4)
        z, x, y = _tile(lon, lat, rng.choice((13, 14, 15, 16)))
        steps = (("tile", "GET", f"/collections/incidents/tiles/WebMercatorQuad/{z}/{x}/{y}",
                  None, 200),
                 ("features", "GET", f"/collections/incidents/items?limit=20&bbox="
                  f"{lon - 0.002},{lat - 0.002},{lon + 0.002},{lat + 0.002}", None, 200),
                 ("post", "POST", "/incidents", {"lon": lon, "lat": lat, "category": "dispute",
                                                 "reporter": marker}, 201))
        for kind, method, url, body, expected in steps:
            t0 = time.perf_counter()
            try:
                resp = await client.request(method, url, json=body)
                status = resp.status_code
            except Exception as exc:  # noqa: BLE001 - counted as an error, never swallowed
                result.errors.append(f"{kind}: {type(exc).__name__}: {exc}")
                continue
            result.latencies.append(time.perf_counter() - t0)
            if status != expected:
                result.errors.append(f"{kind}: HTTP {status}: {resp.text[:200]}")
                continue
            result.requests[kind] += 1
            if kind == "post":
                result.posted += 1


async def run_load(base: str, token: str, *, clients: int = 50, seconds: float = 60.0,
                   marker: str = "load-test") -> LoadResult:
    """``clients`` dispatchers for ``seconds`` against ``base``; bounded in time (each
    request times out after 30 s, so the run ends within ``seconds`` + 30 s)."""
    import httpx

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    result = LoadResult(clients, seconds)
    async with httpx.AsyncClient(base_url=base, timeout=30.0, limits=limits,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        t0 = time.monotonic()
        stop_at = t0 + seconds
        await asyncio.gather(*(_dispatcher(client, result, stop_at, marker, i)
                               for i in range(clients)))
        result.seconds = time.monotonic() - t0
    return result


@contextmanager
def _throwaway_database():
    from gis.store.db import make_engine, migrate
    from gis.store.embedded import EmbeddedCluster

    root = Path(tempfile.mkdtemp(prefix="gg-load-"))
    os.chmod(root, 0o755)
    cluster = EmbeddedCluster(root, durable=False)
    cluster.start()
    engine = make_engine(cluster.url())
    try:
        migrate(engine)
        yield cluster.url(), engine, root
    finally:
        engine.dispose()
        cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)


def measure_load(clients: int, seconds: float) -> dict:
    """A whole run on a throwaway database: the summary with ``incidents_stored``."""
    with _throwaway_database() as (url, engine, root):
        load_district(engine)
        token = dispatcher_token(engine)
        with serve(url, root) as base:
            result = asyncio.run(run_load(base, token, clients=clients, seconds=seconds))
        return result.summary(count_incidents(engine, "load-test"))


def run(quick: bool = False) -> list[dict]:
    from bench.common import row

    clients, seconds = (50, 10.0) if quick else (50, 60.0)
    s = measure_load(clients, seconds)
    return [row("load_dispatchers", clients, "gridgis", s["seconds"], None,
                requests=s["requests"], rps=s["rps"], p50_ms=s["p50_ms"], p99_ms=s["p99_ms"],
                errors=s["errors"], posted=s["incidents_posted"],
                stored=s["incidents_stored"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    print(json.dumps(measure_load(args.clients, args.seconds), indent=2))


if __name__ == "__main__":
    main()
