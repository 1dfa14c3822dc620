"""One overdue rule everywhere: the pure rule (gis.incidents.OVERDUE_CASES) and its SQL
generated from it (gis/store/overdue.py) agree on a table of cases, and on one district
the list, the features, the vector tiles, the overview, the monthly report data and the
statistics mark the same incidents overdue at the same instant, with the same reason.
Some incidents are overdue only through a department's part (a dispatch to a department or
a whistle): past its acknowledge or handle due time; an approved extension or a running
approved pause takes a part out of it, a refused extension does not.

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
from gis.services import deadlines
from gis.store.db import transaction
from gis.store.models import AdminUnit, Department, Grid, Incident, Summons
from gis.store.monthly import monthly_data
from gis.store.overdue import overdue_case, overdue_sql
from layers_data import tiles_covering

COUNTY, STREET = "330102000000", "330102001000"
COMMS = ("330102001001", "330102001002")
X0, Y0, STEP = 120.10, 30.25, 0.005
COLS = 12  # grids per community (a row of the strip)
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
    # 16-23: the incident's own clock is met; overdue or not by its departments' parts
    ("dispatched", "environment", 30, 2880, None),    # zj has not acknowledged in time
    ("handling", "environment", 30, 2880, None),      # zj late to hand back, cg and zj2 to ack
    ("handling", "environment", 30, 2880, None),      # zj acknowledged late, not overdue now
    ("feedback", "environment", 30, 2880, None),      # zj fed back after its due: done
    ("handling", "environment", 12000, 2880, None),   # zj's extension approved: not overdue
    ("handling", "environment", 12000, 2880, None),   # zj's extension refused: overdue
    ("handling", "environment", 30, 2880, None),      # zj's pause approved and running
    ("closed", "environment", 30, 2880, 5),           # closed: an open part no longer counts
]
# Department parts: case -> [(department, summoned, ack due, handle due, acknowledged,
# fed back)], minutes relative to now (None: not yet / no due time).
PARTS = {
    16: [("zj", -30, -20, 2000, None, None)],
    17: [("zj", -30, -25, -5, -26, None), ("zj2", -20, -2, 600, None, None),
         ("cg", -20, -1, 600, None, None), ("police", -20, 30, 600, None, None)],
    18: [("zj", -30, -20, 600, -10, None)],
    19: [("zj", -30, -20, -5, -25, -2)],
    20: [("zj", -12000, -11000, -100, -11500, None)],
    21: [("zj", -12000, -11000, -100, -11500, None)],
    22: [("zj", -30, -20, -5, -25, None)],  # a stale due time: approval recomputes it
    23: [("zj", -30, -20, -10, None, None)],
}
# (case, kind, decision): the department asks, the admin decides through the services
DECISIONS = [(20, "extension", True), (21, "extension", False), (22, "pause", True)]
EXPECTED_DEPARTMENT_REASONS = {16: "department_acknowledge: zj",
                               17: "department_acknowledge: cg, zj2",
                               21: "department_handle: zj"}


def _square(k: int):
    col, row = k % COLS, k // COLS
    return box(X0 + col * STEP, Y0 + row * STEP, X0 + (col + 1) * STEP, Y0 + (row + 1) * STEP)


def _mp(geom) -> str:
    return f"SRID=4326;{MultiPolygon([geom]).wkt}"


def _load(engine, now: datetime) -> dict[str, int]:
    """Two communities of twelve grids (a 12x2 strip), one incident per grid, with their
    departments' parts; returns the grid code of each incident id."""
    whole = box(X0, Y0, X0 + COLS * STEP, Y0 + 2 * STEP)
    halves = [box(X0, Y0, X0 + COLS * STEP, Y0 + STEP),
              box(X0, Y0 + STEP, X0 + COLS * STEP, Y0 + 2 * STEP)]
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
        for dept in ("zj", "zj2", "cg", "police"):
            s.add(Department(code=dept, name=dept, area_code=COUNTY))
        s.flush()
        grid_of, case_ids = {}, {}
        for k, (status, category, ago, due, closed) in enumerate(CASES):
            comm = COMMS[k // COLS]
            code = f"{comm}{k % COLS + 1:04d}"
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
            grid_of[inc.id], case_ids[k] = code, inc.id
            s.add_all(_parts(inc.id, PARTS.get(k, ()), now))
    _decide(engine, case_ids)
    return grid_of


def _parts(incident_id: int, parts, now: datetime) -> list[Summons]:
    def at(minutes):
        return None if minutes is None else now + minutes * M

    out = []
    for dept, summoned, ack_due, handle_due, acked, fed in parts:
        state = "fed_back" if fed is not None else "acknowledged" if acked else "summoned"
        out.append(Summons(incident_id=incident_id, department_code=dept, kind="whistle",
                           state=state, summoned_at=at(summoned), ack_due_at=at(ack_due),
                           handle_due_at=at(handle_due), acknowledged_at=at(acked),
                           fed_back_at=at(fed)))
    return out


def _decide(engine, case_ids: dict[int, int]) -> None:
    """The department asks for 10 more working days (or a pause) on its part; the admin
    approves or refuses: the services recompute the part's handle due time."""
    from gis.store.users import Principal

    clerk = Principal(0, "zj-clerk", "department", None, department_code="zj")
    admin = Principal(0, "admin", "admin", None)
    for k, kind, approve in DECISIONS:
        asked = deadlines.request(engine, clerk, case_ids[k], amount=10,
                                  unit="working_days", reason="waiting for a contractor",
                                  kind=kind)
        deadlines.decide(engine, admin, asked["id"], approve=approve)


def _pure(engine, now: datetime) -> dict[int, str]:
    with engine.connect() as conn:
        rows = conn.execute(select(Incident.id, Incident.status, Incident.category,
                                   Incident.reported_at, Incident.due_at,
                                   Incident.closed_at)).all()
        parts: dict[int, list] = {}
        for p in conn.execute(select(Summons)).all():
            parts.setdefault(p.incident_id, []).append(p)
    out = {r.id: loop.overdue(r.status, r.category, r.reported_at, r.due_at, r.closed_at, now,
                              parts.get(r.id, ())) for r in rows}
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
    assert set(pure.values()) == {"not accepted in time", "not closed in time", "closed late",
                                  *EXPECTED_DEPARTMENT_REASONS.values()}


def test_department_parts_make_exactly_the_expected_incidents_overdue(db):
    now = datetime.now(timezone.utc)
    grid_of = _load(db, now)
    ids = sorted(grid_of)   # in the order of CASES
    pure = _pure(db, now)
    by_parts = {k: pure.get(ids[k]) for k in PARTS}
    assert by_parts == {k: EXPECTED_DEPARTMENT_REASONS.get(k) for k in PARTS}
    with db.connect() as conn:  # the services moved the handle due time only on approval
        due = dict(conn.execute(select(Summons.incident_id, Summons.handle_due_at)).all())
    assert due[ids[20]] > now + timedelta(days=5)
    assert due[ids[21]] == now - 100 * M
    assert due[ids[22]] is None   # paused: the clock is stopped


def _tile_reasons(client, headers) -> dict[int, str | None]:
    out = {}
    bounds = (X0, Y0, X0 + COLS * STEP, Y0 + 2 * STEP)
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
    assert {expected[i] for i in expected if expected[i].startswith("department_")} == \
        set(EXPECTED_DEPARTMENT_REASONS.values())

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


@pytest.mark.parametrize("z", [12, 13])
def test_cluster_tiles_count_the_same_overdue_incidents(db, client, make_user, z):
    """Cluster tiles count overdue incidents by the same rule: the counts over the
    district's tiles are the pure rule's, incidents overdue only through a department's
    part included."""
    now = datetime.now(timezone.utc)
    _load(db, now)
    headers = make_user("admin")
    expected = _pure(db, now)
    assert any(why.startswith("department_") for why in expected.values())
    counts = {"count": 0, "overdue": 0}
    bounds = (X0, Y0, X0 + COLS * STEP, Y0 + 2 * STEP)
    for tz, x, y in tiles_covering(bounds, z):
        r = client.get(f"/collections/incidents/tiles/WebMercatorQuad/{tz}/{x}/{y}",
                       headers=headers)
        assert r.status_code in (200, 204), r.text
        if r.status_code == 200 and r.content:
            for f in mapbox_vector_tile.decode(r.content)["incidents"]["features"]:
                assert f["properties"]["cluster"]
                for key in counts:
                    counts[key] += f["properties"][key]
    assert counts == {"count": len(CASES), "overdue": len(expected)}


@pytest.mark.parametrize("case", loop.OVERDUE_CASES, ids=lambda c: c.reason)
def test_each_case_of_the_rule_is_reached_by_the_fixture(db, case):
    now = datetime.now(timezone.utc)
    _load(db, now)
    assert any(why == case.reason or why.startswith(f"{case.reason}: ")
               for why in _pure(db, now).values())


def test_the_rule_agrees_with_python_at_past_instants_through_the_lapse_index(db):
    """The EXISTS repeats the predicate of ``ix_summons_may_lapse`` (parts not done, or done
    after due): it must drop no part that lapsed at any instant, including parts done in time
    later than the instant asked about (the overview and the monthly report look back)."""
    now = datetime.now(timezone.utc)
    _load(db, now)
    with db.connect() as conn:
        parts: dict[int, list] = {}
        for p in conn.execute(select(Summons)).all():
            parts.setdefault(p.incident_id, []).append(p)
        rows = conn.execute(select(Incident.id, Incident.status, Incident.category,
                                   Incident.reported_at, Incident.due_at,
                                   Incident.closed_at)).all()
        for back in range(0, 60, 3):
            at = now - back * M
            by_text = dict(conn.execute(text(
                f"SELECT id, {overdue_sql('t.', ':now')} FROM incidents t"), {"now": at}).all())
            pure = {r.id: loop.overdue(r.status, r.category, r.reported_at, r.due_at,
                                       r.closed_at, at, parts.get(r.id, ())) for r in rows}
            assert {i: r for i, r in by_text.items() if r} == \
                {i: r for i, r in pure.items() if r}, f"{back} minutes ago"
            assert set(pure.values()) - {None}, "the fixture makes incidents overdue"


def test_the_part_lookup_is_an_index_only_scan_of_the_lapse_index(db):
    now = datetime.now(timezone.utc)
    _load(db, now)
    with db.begin() as conn:
        conn.execute(text("ANALYZE summons"))
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(r[0] for r in conn.execute(text(
            f"EXPLAIN SELECT id, {overdue_sql('t.', 'now()')} FROM incidents t")))
    assert "Index Only Scan using ix_summons_may_lapse" in plan, plan
