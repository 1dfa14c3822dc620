"""The live inbox (issue 16, item 7): N open pages of one department kept up to date by
server-sent events (``GET /notifications/stream``) against the same N pages polling
``GET /notifications`` every 5 s, as they did before. Two figures per N:

* ``live_inbox_idle``: CPU seconds the server process spends over a quiet window with the
  N pages open (SSE: heartbeats only; poll: N/5 requests a second, each a query);
* ``live_inbox_fanout``: seconds from sending a whistle until every one of the N pages has
  the notice.

The real service under uvicorn on a throwaway embedded PostGIS; clients are httpx async
in this process (on the same cores: the figures include them). Times are reported only."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time

import httpx
from sqlalchemy import text

from bench.common import row
from bench.load_test import COUNTY, X0, Y0, _throwaway_database, load_district, serve

SIZES = {True: [50], False: [50, 150]}
POLL_S = 5.0


def _cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server_pid(base: str) -> int:
    port = base.rsplit(":", 1)[1]
    return int(subprocess.check_output(["pgrep", "-f", f"port={port},"]).split()[0])


def _accounts(engine) -> tuple[str, str]:
    from gis.services import accounts

    with engine.begin() as conn:
        conn.execute(text("INSERT INTO departments (code, name, area_code) VALUES "
                          "('zhujian', 'zj', :c)"), {"c": COUNTY})
    clerk = accounts.add_user(engine, "zj-clerk", "department", department_code="zhujian")
    centre = accounts.add_user(engine, "centre", "dispatcher", scope_code=COUNTY)
    return clerk["token"], centre["token"]


async def _whistle(client: httpx.AsyncClient, centre: str) -> float:
    headers = {"Authorization": f"Bearer {centre}"}
    resp = await client.post("/incidents", headers=headers, json={
        "lon": X0 + 0.005, "lat": Y0 + 0.005, "category": "public_facility",
        "subcategory": "road", "description": "bench"})
    resp.raise_for_status()
    sent = time.monotonic()
    (await client.post(f"/incidents/{resp.json()['id']}/whistle", headers=headers,
                       json={"departments": ["zhujian"]})).raise_for_status()
    return sent


async def _sse_page(client, clerk: str, seen: list, i: int, ready: asyncio.Event) -> None:
    async with client.stream("GET", "/notifications/stream",
                             headers={"Authorization": f"Bearer {clerk}"}) as resp:
        resp.raise_for_status()
        events = 0
        async for line in resp.aiter_lines():
            if line.startswith("event: inbox"):
                events += 1
                if events == 1:
                    ready.set()
                else:
                    seen[i] = time.monotonic()
                    return


async def _poll_page(client, clerk: str, seen: list, i: int, n: int, stop: list) -> None:
    await asyncio.sleep(POLL_S * i / n)  # pages opened at different moments
    while not stop:
        resp = await client.get("/notifications?limit=50",
                                headers={"Authorization": f"Bearer {clerk}"})
        if resp.json()["unread"] and seen[i] is None:
            seen[i] = time.monotonic()
            return
        await asyncio.sleep(POLL_S)


async def _measure(base: str, clerk: str, centre: str, n: int, sse: bool,
                   window: float) -> dict:
    pid, seen = _server_pid(base), [None] * n
    limits = httpx.Limits(max_connections=n + 20, max_keepalive_connections=n + 20)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        stop: list = []
        if sse:
            ready = [asyncio.Event() for _ in range(n)]
            pages = [asyncio.create_task(_sse_page(client, clerk, seen, i, ready[i]))
                     for i in range(n)]
            await asyncio.gather(*(r.wait() for r in ready))
        else:
            pages = [asyncio.create_task(_poll_page(client, clerk, seen, i, n, stop))
                     for i in range(n)]
            await asyncio.sleep(POLL_S)
        cpu0 = _cpu_seconds(pid)
        await asyncio.sleep(window)
        idle_cpu = _cpu_seconds(pid) - cpu0
        sent = await _whistle(client, centre)
        await asyncio.wait_for(asyncio.gather(*pages), 60)
        stop.append(True)
    return {"idle_cpu_s": idle_cpu, "fanout_s": max(seen) - sent}


def _clear(engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE notifications SET read_at = now()"))


def run(quick: bool = False) -> list[dict]:
    window = 5.0 if quick else 10.0
    rows = []
    with _throwaway_database() as (url, engine, root):
        load_district(engine)
        clerk, centre = _accounts(engine)
        with serve(url, root) as base:
            for n in SIZES[quick]:
                load = round(os.getloadavg()[0], 1)
                _clear(engine)
                ours = asyncio.run(_measure(base, clerk, centre, n, True, window))
                _clear(engine)
                poll = asyncio.run(_measure(base, clerk, centre, n, False, window))
                rows += [
                    row("live_inbox_idle", n, "gridgis SSE stream", ours["idle_cpu_s"],
                        window_s=window, load=load,
                        cpu_pct=round(100 * ours["idle_cpu_s"] / window, 1)),
                    row("live_inbox_idle", n, "5 s poll of /notifications", poll["idle_cpu_s"],
                        window_s=window, load=load,
                        cpu_pct=round(100 * poll["idle_cpu_s"] / window, 1)),
                    row("live_inbox_fanout", n, "gridgis SSE stream", ours["fanout_s"],
                        load=load),
                    row("live_inbox_fanout", n, "5 s poll of /notifications", poll["fanout_s"],
                        load=load)]
    return rows
