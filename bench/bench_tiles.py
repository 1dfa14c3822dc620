"""Benchmark: vector tiles of the grid and incident layers, gridgis vs TiPg (issue 7).

One throwaway embedded PostGIS cluster (fsync off) holds a synthetic district: 2,000
grid polygons (a 50 x 40 block of ~400 m grids in 25 communities) and 200,000 incidents
(half around a few hot spots, half spread out), then ``gridgis db optimize``, the step a
deployment runs after a bulk import (incidents rewritten in place order; docs/speed.md).
Both servers run as one uvicorn process each on that database and are asked for the same
WebMercatorQuad tiles, zooms 12–15:

* ``cold``: a sequential pass over tiles never asked before (gridgis' cache cannot help);
* ``8 clients``: another set of new tiles fetched by 8 concurrent clients;
* ``warm``: that set again with 8 clients, three times, the median pass reported
  (gridgis answers from its tile cache; TiPg has no cache and rebuilds);
* ``304``: that set once more sending If-None-Match with the ETags served (a browser
  revalidating); counted apart (``rps_8_304``, ``share_304``), never in the 200 figures.

The load generator shares the 2 cores with both servers and PostgreSQL, so it is kept
cheap: one asyncio loop driving raw HTTP/1.1 keep-alive sockets (one per client), no
HTTP library (:func:`fetch_all`).

Quality: the largest tile (bytes) and points dropped, i.e. incidents in the tile
(PostGIS count) minus the points the tile accounts for (features, or the cluster counts
for gridgis). Run: ``.venv/bin/python -m bench.bench_tiles [--quick]``.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import row

BOUNDS = (120.05, 30.20, 120.25, 30.35)  # ~19 x 17 km
GRID_COLS, GRID_ROWS, COMMUNITIES = 50, 40, 25  # two grid columns per community
SIZES = {False: (200_000, 150), True: (20_000, 30)}  # incidents, tiles per pass
ZOOMS = (12, 13, 14, 15)
WARM_ROUNDS = 3  # warm passes; the median one is reported (the machine is shared)
TCP_PORT = 5432  # the embedded cluster's port (it also names its socket)


def load(url: str, incidents: int) -> None:
    from sqlalchemy import text

    from gis.store.db import make_engine, migrate

    engine = make_engine(url)
    migrate(engine)
    minx, miny, maxx, maxy = BOUNDS
    dx, dy = (maxx - minx) / GRID_COLS, (maxy - miny) / GRID_ROWS
    per = GRID_COLS // COMMUNITIES
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO admin_units (code, name, level, kind, geom) VALUES "
            "('330102000000', 'county', 'county', 'county', "
            " ST_Multi(ST_MakeEnvelope(:a, :b, :c, :d, 4326))),"
            "('330102001000', 'street', 'township', 'street', "
            " ST_Multi(ST_MakeEnvelope(:a, :b, :c, :d, 4326)))"),
            dict(a=minx, b=miny, c=maxx, d=maxy))
        conn.execute(text(
            "INSERT INTO admin_units (code, name, level, kind, parent_code, geom) "
            "SELECT '330102001' || lpad(k::text, 3, '0'), 'c' || k, 'community', 'community', "
            "'330102001000', ST_Multi(ST_MakeEnvelope(:x0 + (k - 1) * :w, :y0, "
            ":x0 + k * :w, :y1, 4326)) FROM generate_series(1, :n) k"),
            dict(x0=minx, y0=miny, y1=maxy, w=dx * per, n=COMMUNITIES))
        conn.execute(text(
            "INSERT INTO grids (code, community_code, households, geom) "
            "SELECT '330102001' || lpad((i / :per + 1)::text, 3, '0') "
            "       || lpad((i % :per * :rows + j + 1)::text, 4, '0'), "
            "       '330102001' || lpad((i / :per + 1)::text, 3, '0'), 300 + (i * 7 + j) % 200, "
            "       ST_Multi(ST_MakeEnvelope(:x0 + i * :dx, :y0 + j * :dy, "
            "                                :x0 + (i + 1) * :dx, :y0 + (j + 1) * :dy, 4326)) "
            "FROM generate_series(0, :cols - 1) i, generate_series(0, :rows - 1) j"),
            dict(per=per, rows=GRID_ROWS, cols=GRID_COLS, x0=minx, y0=miny, dx=dx, dy=dy))
        # Half uniform, half around 8 hot spots (sum of uniforms ~ normal, sd ~300 m).
        conn.execute(text(
            "INSERT INTO incidents (category, status, reported_at, due_at, geom) "
            "SELECT (ARRAY['dispute','environment','safety_hazard','public_facility'])"
            "       [1 + n % 4], (ARRAY['reported','dispatched','handling','closed'])[1 + n % 4],"
            "       now() - (n % 90) * interval '1 day', now() + ((n % 7) - 2) * interval '1 day',"
            "       ST_SetSRID(ST_MakePoint(x, y), 4326) "
            "FROM (SELECT n, CASE WHEN n % 2 = 0 THEN :x0 + random() * :w "
            "        ELSE :x0 + :w * (0.15 + 0.1 * (n % 8)) + (random() + random() + random()"
            "             - 1.5) * 0.006 END AS x, "
            "      CASE WHEN n % 2 = 0 THEN :y0 + random() * :h "
            "        ELSE :y0 + :h * (0.2 + 0.08 * (n % 8)) + (random() + random() + random()"
            "             - 1.5) * 0.006 END AS y "
            "      FROM generate_series(1, :n) n) s"),
            dict(x0=minx, y0=miny, w=maxx - minx, h=maxy - miny, n=incidents))
        conn.execute(text("ANALYZE"))
    engine.dispose()


def optimize(url: str) -> None:
    """The deployment step after a bulk import (docs/speed.md): ``gridgis db optimize``
    writes the incidents in place order. Both servers read the same tables afterwards."""
    env = {**os.environ, "GRIDGIS_DATABASE_URL": url}
    subprocess.run([sys.executable, "-m", "gis.cli", "db", "optimize", "--json"], env=env,
                   check=True, stdout=subprocess.DEVNULL)


def tiles_for(zooms, count: int, seed: int) -> list[tuple[int, int, int]]:
    """``count`` distinct tiles over the district, spread over ``zooms``."""
    import math

    def tile(lon, lat, z):
        n, r = 2 ** z, math.radians(lat)
        return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(r)) / math.pi) / 2 * n)

    every = []
    for z in zooms:
        x0, y0 = tile(BOUNDS[0], BOUNDS[3], z)
        x1, y1 = tile(BOUNDS[2], BOUNDS[1], z)
        every += [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    random.Random(seed).shuffle(every)
    return every[:count]


def start_server(code: str, env: dict, log: Path) -> tuple[subprocess.Popen, str]:
    import socket
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", code.format(port=port)],
                            env={**os.environ, **env}, stdout=open(log, "wb"),
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{base}/conformance", timeout=1).read()
            return proc, base
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(log.read_text()[-3000:])
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def fetch_all(base: str, paths: list[str], headers: dict, clients: int,
              etags: list[bytes] | None = None) -> tuple[list[float], float, list, list]:
    """GET ``base + path`` for every path with ``clients`` keep-alive connections.

    The client is cheap on purpose (it shares the 2 cores with the servers): one asyncio
    loop, raw HTTP/1.1 on ``clients`` sockets, each taking the next path when free. With
    ``etags`` every request sends If-None-Match. Returns latencies (s), wall seconds,
    statuses and bodies, in the order of ``paths``; any status but 200/304 raises."""
    import asyncio

    return asyncio.run(_fetch(base, paths, headers, clients, etags))


async def _fetch(base, paths, headers, clients, etags):
    import asyncio
    from urllib.parse import urlsplit

    url = urlsplit(base)
    common = f"Host: {url.netloc}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    requests = [(f"GET {p} HTTP/1.1\r\n{common}"
                 + (f"If-None-Match: {etags[i].decode()}\r\n" if etags else "")
                 + "\r\n").encode() for i, p in enumerate(paths)]
    todo, out = iter(enumerate(requests)), []

    async def worker():
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        for i, request in todo:
            t0 = time.perf_counter()
            writer.write(request)
            status, head, body = await _response(reader)
            out.append((i, time.perf_counter() - t0, status, head.get(b"etag"), body))
            if status not in (200, 304):
                raise RuntimeError(f"{paths[i]}: HTTP {status} {body[:200]!r}")
        writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    wall = time.perf_counter() - t0
    out.sort(key=lambda item: item[0])
    return ([o[1] for o in out], wall, [(o[2], o[3]) for o in out], [o[4] for o in out])


async def _response(reader) -> tuple[int, dict, bytes]:
    """One HTTP/1.1 response: Content-Length or chunked body."""
    lines = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
    head = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        head[name.strip().lower()] = value.strip()
    if b"chunked" in head.get(b"transfer-encoding", b"").lower():
        parts = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append((await reader.readexactly(size + 2))[:-2])
        await reader.readuntil(b"\r\n")
        body = b"".join(parts)
    else:
        body = await reader.readexactly(int(head.get(b"content-length", 0)))
    return int(lines[0].split(b" ", 2)[1]), head, body


def dropped(engine, bodies: list[bytes], tiles, layer: str) -> int:
    """The most incidents missing from any tile (PostGIS count minus what the tile shows)."""
    import mapbox_vector_tile
    from sqlalchemy import text

    worst = 0
    with engine.connect() as conn:
        for body, (z, x, y) in zip(bodies, tiles):
            feats = mapbox_vector_tile.decode(body).get(layer, {}).get("features", []) \
                if body else []
            shown = sum(int(f["properties"].get("count", 1)) for f in feats)
            truth = conn.execute(text(
                "SELECT count(*) FROM incidents WHERE geom && ST_Transform("
                "ST_TileEnvelope(:z, :x, :y), 4326) AND ST_Intersects(geom, "
                "ST_Transform(ST_TileEnvelope(:z, :x, :y), 4326))"), dict(z=z, x=x, y=y)).scalar()
            worst = max(worst, truth - shown)
    return worst


def _stats(lat: list[float]) -> tuple[float, float]:
    lat = sorted(lat)
    return statistics.median(lat) * 1000, lat[int(0.95 * (len(lat) - 1))] * 1000


def run_impl(impl, base, path, headers, sets, engine, layer, n_inc):
    cold, conc = sets
    lat, wall, _, bodies = fetch_all(base, [path.format(*t) for t in cold], headers, 1)
    med, p95 = _stats(lat)
    paths8 = [path.format(*t) for t in conc]
    lat8, wall8, _, bodies8 = fetch_all(base, paths8, headers, 8)
    warm = [fetch_all(base, paths8, headers, 8) for _ in range(WARM_ROUNDS)]
    lat_w, wall_w, status_w, _ = sorted(warm, key=lambda w: w[1])[WARM_ROUNDS // 2]  # median
    assert all(s == 200 for s, _ in status_w)
    # Revalidation (If-None-Match with the ETags just served): 304s, counted apart.
    etags = [etag for _, etag in status_w]
    if all(etags):
        _, wall_304, status_304, _ = fetch_all(base, paths8, headers, 8, etags)
        n304 = sum(s == 304 for s, _ in status_304)
    metrics = dict(median_ms=round(med, 1), p95_ms=round(p95, 1),
                   rps_seq=round(len(cold) / wall, 1),
                   p95_ms_8=round(_stats(lat8)[1], 1), rps_8=round(len(conc) / wall8, 1),
                   rps_8_warm=round(len(conc) / wall_w, 1),
                   p95_ms_8_warm=round(_stats(lat_w)[1], 1),
                   rps_8_304=round(len(conc) / wall_304, 1) if all(etags) else None,
                   share_304=round(n304 / len(conc), 2) if all(etags) else None,
                   largest_kb=round(max(len(b) for b in bodies + bodies8) / 1024, 1))
    if layer == "incidents":
        metrics["max_dropped"] = dropped(engine, bodies + bodies8, cold + conc, layer)
    return row(f"tiles_{layer}", n_inc, impl, wall, None, tiles=len(cold), **metrics)


def run(quick: bool = False) -> list[dict]:
    from gis.store.db import make_engine

    n_inc, n_tiles = SIZES[quick]
    root = Path(tempfile.mkdtemp(prefix="gg-bench-tiles-"))
    os.chmod(root, 0o755)
    cluster = _tcp_cluster(root)
    procs = []
    try:
        # Both servers reach PostgreSQL the same way: TCP on loopback (TiPg's asyncpg
        # settings cannot name a Unix socket directory).
        url = f"postgresql+psycopg://gridgis@127.0.0.1:{TCP_PORT}/gridgis"
        load(url, n_inc)
        optimize(url)
        engine = make_engine(url)
        token = _admin_token(engine)
        ours, ours_base = start_server(
            "import uvicorn; from api.app import create_app; "
            "uvicorn.run(create_app(), host='127.0.0.1', port={port}, log_level='warning')",
            {"GRIDGIS_DATABASE_URL": url, "GRIDGIS_DATA_DIR": str(root / "data")},
            root / "gridgis.log")
        procs.append(ours)
        tipg, tipg_base = start_server(
            "import uvicorn; uvicorn.run('tipg.main:app', host='127.0.0.1', port={port}, "
            "log_level='warning')",
            {"DATABASE_URL": url.replace("postgresql+psycopg://", "postgresql://"),
             "TIPG_DB_SCHEMAS": '["public"]'}, root / "tipg.log")
        procs.append(tipg)
        rows = []
        for k, layer in enumerate(("grids", "incidents")):
            tiles = tiles_for(ZOOMS, 2 * n_tiles, seed=k)
            sets = (tiles[:n_tiles], tiles[n_tiles:])
            tms = "/tiles/WebMercatorQuad/{}/{}/{}"
            rows.append(run_impl("gridgis", ours_base, f"/collections/{layer}" + tms,
                                 {"Authorization": f"Bearer {token}"}, sets, engine, layer,
                                 n_inc))
            rows.append(run_impl("tipg", tipg_base, f"/collections/public.{layer}" + tms, {},
                                 sets, engine, layer, n_inc))
        engine.dispose()
        return rows
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
        cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)


def _tcp_cluster(root: Path):
    """A throwaway cluster that also listens on loopback TCP (trust, bench only)."""
    from gis.store.embedded import EmbeddedCluster

    cluster = EmbeddedCluster(root, durable=False)
    cluster.init()
    with open(cluster.pgdata / "postgresql.auto.conf", "a") as conf:
        conf.write("listen_addresses = '127.0.0.1'\n")
    hba = cluster.pgdata / "pg_hba.conf"  # first match wins: before initdb's "reject"
    hba.write_text("host all all 127.0.0.1/32 trust\n" + hba.read_text())
    cluster.start()
    return cluster


def _admin_token(engine) -> str:
    from gis.store.db import transaction
    from gis.store.users import add_user, issue_token

    with transaction(engine) as session:
        return issue_token(session, add_user(session, "bench-admin", "admin"))


if __name__ == "__main__":
    import json

    for result in run(quick="--quick" in sys.argv):
        print(json.dumps(result))
