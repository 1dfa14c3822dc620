"""One overdue rule everywhere: the pure rule (gis.incidents.OVERDUE_CASES) and its SQL
generated from it (gis/store/overdue.py) agree on a table of cases, and on one district
the list, the features, the vector tiles, the overview, the monthly report data and the
statistics mark the same incidents overdue at the same instant, with the same reason.

The HTTP views evaluate at the request's clock, so the fixture's times are set relative to
now with margins of minutes. One incident per grid: the per-grid counts of the overview,
the monthly report and the statistics then name the incidents exactly."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import mapbox_vector_tile
import pytest
from shapely import MultiPolygon, box
from sqlalchemy import select, text

from gis import incidents as loop
from gis.store.db import transaction
from gis.store.models import AdminUnit, Grid, Incident
from gis.store.monthly import monthly_data
from gis.store.overdue import overdue_case, overdue_sql
from layers_data import tiles_covering

COUNTY, STREET = "330102000000", "330102001000"
COMMS = ("330102001001", "330102001002")
X0, Y0, STEP = 120.10, 30.25, 0.005
M = timedelta(minutes=1)

# (status, category, reported minutes ago, due minutes from now or None, closed minutes ago)
CASES = [
    ("reported", "dispute", 10, None, None),          # inside the 30 min accept limit
    ("reported", "dispute", 40, None, None),          # not accepted in time
    ("accepted", "dispute", 40, None, None),          # accepted: the accept limit is met
    ("dispatched", "environment", 30, -5, None),      # not closed in time (stored due)
    ("handling", "environment", 30, 2880, None),
    ("closed", "dispute", 40, -20, 10),               # closed late
    ("closed", "dispute", 40, 1380, 10),              # closed in time
    ("reported", "population", 45, None, None),       # 4 h to accept
    ("returned", "dispute", 40, None, None),          # back with the reporter: not waiting
    ("escalated", "security_hazard", 40, -1, None),   # escalation does not stop the clock
    ("reported", "dispute", 40, -3, None),            # past due wins over not accepted
    ("feedback", "other", 20, 600, None),
    ("verified", "public_facility", 30, -2, None),
    ("reported", "safety_hazard", 35, None, None),    # not accepted in time
    ("closed", "environment", 30, -15, 15),           # closed exactly at the due time
    ("dispatched", "dispute", 40, None, None),        # no stored due time: 24 h from the report
]


def _square(k: int):
    col, row = k % 8, k // 8
    return box(X0 + col * STEP, Y0 + row * STEP, X0 + (col + 1) * STEP, Y0 + (row + 1) * STEP)


def _mp(geom) -> str:
    return f"SRID=4326;{MultiPolygon([geom]).wkt}"


def _load(engine, now: datetime) -> dict[str, int]:
    """Two communities of eight grids (a 8x2 strip), one incident per grid; returns the
    grid code of each incident id."""
    whole = box(X0, Y0, X0 + 8 * STEP, Y0 + 2 * STEP)
    halves = [box(X0, Y0, X0 + 8 * STEP, Y0 + STEP), box(X0, Y0 + STEP, X0 + 8 * STEP,
                                                           Y0 + 2 * STEP)]
    with transaction(engine) as s:
        s.add(AdminUnit(code=COUNTY, name="County", level="county", kind="county",
                        geom=_mp(whole)))
        s.flush()
        s.add(AdminUnit(code=STREET, name="Street", level="township", kind="street",
                        parent_code=COUNTY, geom=_mp(whole)))
        s.flush()
        for comm, half in zip(COMMS, halves):
            s.add(AdminUnit(code=comm, name=comm, level="community", kind="community",
                            parent_code=STREET, geom=_mp(half)))
        s.flush()
        grid_of = {}
        for k, (status, category, ago, due, closed) in enumerate(CASES):
            comm = COMMS[k // 8]
            code = f"{comm}{k % 8 + 1:04d}"
            s.add(Grid(code=code, kind="basic", community_code=comm, households=400,
                       geom=_mp(_square(k))))
            s.flush()
            reported = now - ago * M
            inc = Incident(category=category, status=status, reported_at=reported,
                           due_at=None if due is None else now + due * M,
                           closed_at=None if closed is None else now - closed * M,
                           grid_code=code, community_code=comm, township_code=STREET,
                           geom=f"SRID=4326;{_square(k).centroid.wkt}")
            s.add(inc)
            s.flush()
            grid_of[inc.id] = code
    return grid_of


def _pure(engine, now: datetime) -> dict[int, str]:
    with engine.connect() as conn:
        rows = conn.execute(select(Incident.id, Incident.status, Incident.category,
                                   Incident.reported_at, Incident.due_at,
                                   Incident.closed_at)).all()
    out = {r.id: loop.overdue(r.status, r.category, r.reported_at, r.due_at, r.closed_at, now)
           for r in rows}
    return {i: why for i, why in out.items() if why}


def test_python_and_sql_renderings_agree_on_the_table_of_cases(db):
    now = datetime.now(timezone.utc)
    _load(db, now)
    with db.connect() as conn:
        by_sql = dict(conn.execute(select(Incident.id, overdue_case(Incident, now))).all())
        by_text = dict(conn.execute(text(
            f"SELECT id, {overdue_sql('t.', ':now')} FROM incidents t"), {"now": now}).all())
    pure = _pure(db, now)
    assert {i: r for i, r in by_sql.items() if r} == pure == \
        {i: r for i, r in by_text.items() if r}
    assert set(pure.values()) == {"not accepted in time", "not closed in time", "closed late"}


def _tile_reasons(client, headers) -> dict[int, str | None]:
    out = {}
    bounds = (X0, Y0, X0 + 8 * STEP, Y0 + 2 * STEP)
    for z, x, y in tiles_covering(bounds, 16):
        r = client.get(f"/collections/incidents/tiles/WebMercatorQuad/{z}/{x}/{y}",
                       headers=headers)
        assert r.status_code in (200, 204), r.text
        if r.status_code == 200 and r.content:
            for f in mapbox_vector_tile.decode(r.content)["incidents"]["features"]:
                assert "cluster" not in f["properties"]
                out[f["id"]] = f["properties"].get("overdue")
    return out


def _per_grid(rows, key="code") -> set[str]:
    return {r[key] for r in rows if r["overdue"]}


def test_every_view_marks_the_same_incidents_overdue(db, client, make_user):
    now = datetime.now(timezone.utc)
    grid_of = _load(db, now)
    headers = make_user("admin")
    expected = _pure(db, now)
    assert 0 < len(expected) < len(CASES)

    listed = client.get("/incidents?overdue=true&limit=100", headers=headers).json()
    by_list = {f["id"]: f["properties"]["overdue"] for f in listed["features"]}
    items = client.get("/collections/incidents/items?limit=100", headers=headers).json()
    by_features = {f["id"]: f["properties"]["overdue"] for f in items["features"]}
    assert len(by_features) == len(CASES)
    by_tiles = _tile_reasons(client, headers)
    assert len(by_tiles) == len(CASES)
    filtered = client.get("/collections/incidents/items?overdue=true&limit=100",
                          headers=headers).json()

    assert by_list == expected  # same ids, same reasons
    assert {i: r for i, r in by_features.items() if r} == expected
    assert {i: r for i, r in by_tiles.items() if r} == expected
    assert {f["id"] for f in filtered["features"]} == set(expected)

    overdue_grids = {grid_of[i] for i in expected}  # one incident per grid
    stats = client.get("/incidents/stats", headers=headers).json()
    assert all(r["overdue"] in (0, 1) for r in stats["grids"])
    assert _per_grid(stats["grids"], "grid_code") == overdue_grids
    overview = [client.get(f"/overview/{c}", headers=headers).json() for c in COMMS]
    assert _per_grid([row for o in overview for row in o["children"]]) == overdue_grids
    assert sum(o["figures"]["overdue"] for o in overview) == len(expected)
    month = now.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    with transaction(db) as s:  # the month so far, cut at the same instant
        report = monthly_data(s, STREET, month, now=now)
    assert _per_grid(report.grids.to_dict("records")) == overdue_grids
    assert report.total["overdue"] == len(expected)


@pytest.mark.parametrize("case", loop.OVERDUE_CASES, ids=lambda c: c.reason)
def test_each_case_of_the_rule_is_reached_by_the_fixture(db, case):
    now = datetime.now(timezone.utc)
    _load(db, now)
    assert case.reason in _pure(db, now).values()
