"""Incidents end to end through HTTP against the real PostGIS: the closed loop, escalation,
refused transitions, overdue flags, re-assignment on republish, boundary cases, scope,
GCJ-02 input, locate, statistics, hot spots and bulk import."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import grid_fixtures as fx
import pytest
from sqlalchemy import text

from gis.crs import wgs84_to_gcj02
from gis.store.assignment import reassign_open_incidents
from gis.store.db import transaction

LOOP = ["accept", "dispatch", "handle", "feedback", "verify", "close"]


@pytest.fixture
def dispatcher(make_user, grid_area):
    return make_user("dispatcher", fx.COUNTY, username="county-dispatcher")


def _report(client, headers, lon=113.005, lat=fx.MID_LAT, **extra) -> dict:
    body = {"lon": lon, "lat": lat, "category": "environment", "subcategory": "garbage",
            "description": "rubbish on the pavement", "reporter": "resident", **extra}
    resp = client.post("/incidents", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


def _act(client, headers, feature, action, note=None, expect=200) -> dict:
    props = feature["properties"]
    resp = client.post(f"/incidents/{props['id']}/transitions", headers=headers,
                       json={"action": action, "version": props["version"], "note": note})
    assert resp.status_code == expect, resp.text
    return resp.json()


def test_closed_loop_records_who_when_and_grid(client, dispatcher):
    inc = _report(client, dispatcher)
    assert inc["properties"]["grid_code"] == fx.A and inc["properties"]["status"] == "reported"
    for action in LOOP:
        inc = _act(client, dispatcher, inc, action, note=f"{action} done")
    props = client.get(f"/incidents/{inc['id']}", headers=dispatcher).json()["properties"]
    assert props["status"] == "closed" and props["closed_at"] and props["allowed"] == []
    assert props["version"] == 1 + len(LOOP)
    events = props["events"]
    assert [e["action"] for e in events] == ["report", *LOOP]
    assert all(e["actor"] == "county-dispatcher" and e["grid_code"] == fx.A and e["at"]
               for e in events)
    assert events[-1]["from_status"] == "verified" and events[-1]["note"] == "close done"


def test_invalid_transition_is_409_with_the_allowed_steps(client, dispatcher):
    inc = _report(client, dispatcher)
    resp = client.post(f"/incidents/{inc['id']}/transitions", headers=dispatcher,
                       json={"action": "close", "version": 1})
    assert resp.status_code == 409
    assert resp.json()["allowed"] == ["accept", "escalate", "return"]
    accepted = _act(client, dispatcher, inc, "accept")
    stale = client.post(f"/incidents/{inc['id']}/transitions", headers=dispatcher,
                        json={"action": "dispatch", "version": 1})
    assert stale.status_code == 409 and stale.json()["current_version"] == 2
    _act(client, dispatcher, accepted, "dispatch")
    unknown = client.post(f"/incidents/{inc['id']}/transitions", headers=dispatcher,
                          json={"action": "teleport", "version": 3})
    assert unknown.status_code == 422 and unknown.json()["field"] == "action"


def test_escalation_climbs_to_the_county_and_returns_down(client, dispatcher):
    inc = _act(client, dispatcher, _report(client, dispatcher), "accept")
    inc = _act(client, dispatcher, inc, "escalate", note="needs the street office")
    assert (inc["properties"]["status"], inc["properties"]["level"]) == ("escalated", "township")
    inc = _act(client, dispatcher, inc, "escalate")
    assert inc["properties"]["level"] == "county"
    assert "escalate" not in inc["properties"]["allowed"]
    _act(client, dispatcher, inc, "escalate", expect=409)
    inc = _act(client, dispatcher, inc, "return", note="handle it at the street office")
    assert (inc["properties"]["status"], inc["properties"]["level"]) == ("accepted", "township")
    notes = [e["note"] for e in client.get(f"/incidents/{inc['id']}", headers=dispatcher)
             .json()["properties"]["events"]]
    assert notes[2] == "community -> township: needs the street office"
    assert notes[-1].startswith("county -> township")


def test_return_sends_a_report_back_to_the_reporter(client, dispatcher):
    inc = _act(client, dispatcher, _report(client, dispatcher), "return", note="no address")
    assert inc["properties"]["status"] == "returned"
    assert inc["properties"]["allowed"] == ["report"]
    assert _act(client, dispatcher, inc, "report")["properties"]["status"] == "reported"


def test_overdue_flags_follow_the_category_limits(client, dispatcher):
    now = datetime.now(timezone.utc)
    late = _report(client, dispatcher, category="dispute", subcategory="neighbour",
                   reported_at=(now - timedelta(hours=25)).isoformat())
    unaccepted = _report(client, dispatcher, category="safety_hazard", subcategory="gas",
                         reported_at=(now - timedelta(hours=1)).isoformat())
    fresh = _report(client, dispatcher, category="environment",
                    reported_at=(now - timedelta(hours=1)).isoformat())
    props = {f["id"]: f["properties"]["overdue"] for f in
             client.get("/incidents", headers=dispatcher).json()["features"]}
    assert props == {late["id"]: "not closed in time", unaccepted["id"]: "not accepted in time",
                     fresh["id"]: None}
    listed = client.get("/incidents?overdue=true", headers=dispatcher).json()
    assert {f["id"] for f in listed["features"]} == {late["id"], unaccepted["id"]}
    stats = client.get("/incidents/stats", headers=dispatcher).json()
    row = next(g for g in stats["grids"] if g["grid_code"] == fx.A)
    assert (row["incidents"], row["overdue"], row["closed"]) == (3, 2, 0)


def test_republish_moves_open_incidents_and_keeps_history(client, dispatcher, grid_area):
    point = {"lon": 113.0075, "lat": fx.MID_LAT}
    open_inc = _report(client, dispatcher, **point)
    closed = _report(client, dispatcher, **point)
    for action in LOOP:
        closed = _act(client, dispatcher, closed, action)
    new_code = fx.COMM1 + "0003"
    with grid_area.begin() as conn:
        conn.execute(text("UPDATE grids SET valid_to = now() WHERE code = :a"), {"a": fx.A})
        conn.execute(text("INSERT INTO grids (code, community_code, geom, version) VALUES "
                          "(:a, :m, ST_GeomFromEWKT(:g1), 2), (:d, :m, ST_GeomFromEWKT(:g2), 2)"),
                     {"a": fx.A, "d": new_code, "m": fx.COMM1,
                      "g1": fx.square(113.0, 28.0, 113.005, 28.01),
                      "g2": fx.square(113.005, 28.0, 113.01, 28.01)})
    with transaction(grid_area) as session:
        assert reassign_open_incidents(session)["moved"] == 1
    moved = client.get(f"/incidents/{open_inc['id']}", headers=dispatcher).json()["properties"]
    assert (moved["grid_code"], moved["grid_code_at_report"]) == (new_code, fx.A)
    assert [(e["action"], e["grid_code"]) for e in moved["events"]] == \
        [("report", fx.A), ("reassign", new_code)]
    kept = client.get(f"/incidents/{closed['id']}", headers=dispatcher).json()["properties"]
    assert kept["grid_code"] == fx.A and len(kept["events"]) == 1 + len(LOOP)


@pytest.mark.parametrize("name", list(fx.CASES))
def test_boundary_cases_through_http(client, dispatcher, name):
    lon, lat, grid, flag, candidates = fx.CASES[name]
    props = _report(client, dispatcher, lon=lon, lat=lat)["properties"]
    assert (props["grid_code"], props["boundary"], props["candidates"]) == \
        (grid, flag, candidates)


def test_points_outside_every_grid_are_kept_unassigned(client, dispatcher):
    far = _report(client, dispatcher, lon=113.035, lat=28.015)  # in the county, no grid
    assert far["properties"]["grid_code"] is None
    listed = client.get("/incidents?unassigned=true", headers=dispatcher).json()
    assert [f["id"] for f in listed["features"]] == [far["id"]]
    assert client.get("/incidents/stats", headers=dispatcher).json()["unassigned"] == 1


def test_a_township_dispatcher_cannot_see_another_township(client, dispatcher, make_user):
    mine = _report(client, dispatcher, lon=113.025)  # grid C, township 2
    other = _report(client, dispatcher)              # grid A, township 1
    town2 = make_user("dispatcher", fx.TOWN2, username="town2")
    assert client.get(f"/incidents/{other['id']}", headers=town2).status_code == 404
    assert client.get(f"/incidents/{mine['id']}", headers=town2).status_code == 200
    resp = client.post(f"/incidents/{other['id']}/transitions", headers=town2,
                       json={"action": "accept", "version": 1})
    assert resp.status_code == 404
    listed = client.get("/incidents", headers=town2).json()
    assert [f["id"] for f in listed["features"]] == [mine["id"]]
    assert client.get(f"/locate?lon=113.005&lat={fx.MID_LAT}", headers=town2).status_code == 404
    viewer = make_user("viewer", fx.TOWN1, username="viewer1")
    assert client.post("/incidents", headers=viewer, json={
        "lon": 113.005, "lat": fx.MID_LAT, "category": "other"}).status_code == 403


def test_gcj02_input_lands_in_the_right_grid(client, dispatcher):
    lon, lat = fx.offset(fx.EDGE_LON, fx.MID_LAT, 270, 100.0)  # in A, 100 m from B
    glon, glat = (float(v) for v in wgs84_to_gcj02(lon, lat))   # ~560 m east: inside B
    props = _report(client, dispatcher, lon=glon, lat=glat, crs="gcj02")["properties"]
    assert props["grid_code"] == fx.A and props["boundary"] is False
    assert (props["src_crs"], props["src_x"], props["src_y"]) == ("gcj02", glon, glat)
    raw = _report(client, dispatcher, lon=glon, lat=glat)["properties"]  # offset not removed
    assert raw["grid_code"] == fx.B


@pytest.mark.parametrize("change, field", [
    ({"subcategory": "noise"}, "subcategory"),    # noise is environment, not dispute
    ({"category": "alien"}, "category"),
    ({"lat": 95}, "lat"),
    ({"crs": "epsg:3857"}, "crs"),
    ({"colour": "red"}, "colour"),
    ({"reported_at": "2099-01-01T00:00:00+08:00"}, "reported_at"),
])
def test_bad_input_is_422_naming_the_field(client, dispatcher, change, field):
    body = {"lon": 113.005, "lat": fx.MID_LAT, "category": "dispute", **change}
    resp = client.post("/incidents", json=body, headers=dispatcher)
    assert resp.status_code == 422 and resp.json()["field"] == field, resp.text


def test_locate_gives_grid_staff_and_the_nearest_patrolling_worker(client, dispatcher, grid_area):
    now = datetime.now(timezone.utc)
    with grid_area.begin() as conn:
        conn.execute(text("INSERT INTO grid_staff (name, role, grid_code, worker_id) VALUES "
                          "('Li', 'grid_leader', :a, 'w1'), ('Wang', 'fulltime_worker', :a, 'w2')"),
                     {"a": fx.A})
        for worker, lon, minutes in (("w1", 113.009, 90), ("w1", 113.0001, 5),
                                     ("w2", 113.006, 10), ("w3", 113.0051, 60 * 30)):
            conn.execute(text("INSERT INTO patrol_points (worker, time, geom) VALUES "
                              "(:w, :t, ST_SetSRID(ST_MakePoint(:x, :y), 4326))"),
                         {"w": worker, "t": now - timedelta(minutes=minutes), "x": lon,
                          "y": fx.MID_LAT})
    got = client.get(f"/locate?lon=113.005&lat={fx.MID_LAT}", headers=dispatcher).json()
    assert got["grid"] == fx.A
    assert (got["community"]["code"], got["township"]["code"]) == (fx.COMM1, fx.TOWN1)
    assert {s["name"] for s in got["staff"]} == {"Li", "Wang"}
    # w1's last position is far west now; w3 is closest but was last seen 30 h ago
    assert got["nearest_worker"]["worker"] == "w2"
    assert got["nearest_worker"]["name"] == "Wang"
    assert 80 < got["nearest_worker"]["distance_m"] < 110


def test_hotspots_count_each_incident_once(client, dispatcher):
    for _ in range(3):
        _report(client, dispatcher)
    _report(client, dispatcher, lon=113.025)
    hot = client.get("/incidents/hotspots?size_m=200", headers=dispatcher).json()
    counts = [f["properties"]["incidents"] for f in hot["features"]]
    assert counts == [3, 1] and hot["total"] == 4
    assert hot["features"][0]["geometry"]["type"] == "Polygon"


def test_stats_give_resolution_rate_and_median_time_to_close(client, dispatcher):
    done = _report(client, dispatcher,
                   reported_at=(datetime.now(timezone.utc) - timedelta(hours=4)).isoformat())
    for action in LOOP:
        done = _act(client, dispatcher, done, action)
    _report(client, dispatcher)
    row = next(g for g in client.get("/incidents/stats", headers=dispatcher).json()["grids"]
               if g["grid_code"] == fx.A)
    assert (row["incidents"], row["closed"], row["resolution_rate"]) == (2, 1, 0.5)
    assert 3.9 < row["median_hours_to_close"] < 4.1


def test_bulk_import_assigns_every_row(client, dispatcher, tmp_path):
    csv = tmp_path / "events.csv"
    csv.write_text("event_id,lon,lat,category,subcategory,reported_at\n"
                   f"E1,113.005,{fx.MID_LAT},dispute,neighbour,2024-05-01T08:00:00+08:00\n"
                   f"E2,{fx.EDGE_LON},{fx.MID_LAT},environment,noise,2024-05-01T09:00:00+08:00\n"
                   "E3,113.1,28.5,other,other,2024-05-01T10:00:00+08:00\n")
    with open(csv, "rb") as fh:
        resp = client.post("/incidents/import", headers=dispatcher,
                           files={"file": ("events.csv", fh, "text/csv")})
    assert resp.status_code == 200, resp.text
    assert resp.json()["assignment"]["assigned"] == 2
    feats = client.get("/incidents", headers=dispatcher).json()["features"]
    by_ext = {f["properties"]["external_id"]: f["properties"] for f in feats}
    assert by_ext["E1"]["grid_code"] == fx.A and by_ext["E1"]["due_at"]
    assert by_ext["E2"]["boundary"] is True and by_ext["E2"]["candidates"] == [fx.A, fx.B]
    assert "E3" not in by_ext  # outside the county: kept, but only an admin sees it


def test_the_loop_reaches_every_status_and_closed_is_final():
    from gis import incidents as loop
    from gis.vocabulary import INCIDENT_STATUSES

    seen, todo = {("reported", "community")}, [("reported", "community")]
    while todo:
        status, level = todo.pop()
        for action in loop.allowed_actions(status, level):
            nxt = loop.next_state(status, level, action)
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert {s for s, _ in seen} == set(INCIDENT_STATUSES)
    assert {lvl for _, lvl in seen} == {"community", "township", "county"}
    assert all(loop.allowed_actions("closed", lvl) == [] for lvl in ("community", "county"))


def test_pure_overdue_rule_matches_the_limits():
    from gis import incidents as loop

    t0 = datetime(2024, 5, 1, 8, tzinfo=timezone.utc)
    due = loop.due_at("dispute", t0)
    assert due - t0 == timedelta(hours=24)
    assert loop.due_at("population", t0) - t0 > due - t0  # 3必到 categories are shortest
    assert loop.overdue("reported", "dispute", t0, due, None, t0 + timedelta(minutes=20)) is None
    assert loop.overdue("reported", "dispute", t0, due, None, t0 + timedelta(hours=1)) == \
        "not accepted in time"
    assert loop.overdue("handling", "dispute", t0, due, None, t0 + timedelta(hours=1)) is None
    assert loop.overdue("closed", "dispute", t0, due, t0 + timedelta(hours=30),
                        t0 + timedelta(days=9)) == "closed late"


def test_command_line_import_assigns_grids_too(grid_area, pg_url, tmp_path, monkeypatch):
    """`gridgis import incidents` takes the same path as the HTTP upload: every row lands
    in its grid (or is kept unassigned) in the same transaction."""
    from typer.testing import CliRunner

    import gis.cli  # noqa: F401  (registers the commands)
    from gis.cli.app import app

    csv = tmp_path / "reports.csv"
    csv.write_text("lon,lat,category,reported_at\n"
                   f"113.015,{fx.MID_LAT},dispute,2026-10-01T08:00:00+08:00\n"
                   "113.5,28.5,other,2026-10-01T09:00:00+08:00\n")
    monkeypatch.setenv("GRIDGIS_DATABASE_URL", pg_url)
    result = CliRunner().invoke(app, ["import", "incidents", str(csv), "--json"])
    assert result.exit_code == 0, result.output
    with grid_area.connect() as conn:
        rows = conn.execute(text("SELECT grid_code, community_code FROM incidents "
                                 "ORDER BY id")).all()
        events = conn.execute(text("SELECT count(*) FROM incident_events "
                                   "WHERE action = 'report'")).scalar()
    assert rows == [(fx.B, fx.COMM1), (None, None)] and events == 2


def test_large_import_builds_the_indexes_after_the_load(grid_area, tmp_path, monkeypatch):
    """An import at least as large as the table goes in without the secondary indexes
    and builds them afterwards (REBUILD_FROM lowered so a small file takes that path):
    every index is back, used, and the rows are assigned as by the per-row path."""
    from gis.services.imports import import_file
    from gis.store import incident_loader

    with grid_area.connect() as conn:
        before = dict(conn.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'incidents'")).all())
    monkeypatch.setattr(incident_loader, "REBUILD_FROM", 2)
    csv = tmp_path / "events.csv"
    csv.write_text("event_id,lon,lat,category,reported_at\n"
                   f"E1,113.005,{fx.MID_LAT},dispute,2024-05-01T08:00:00+08:00\n"
                   f"E2,{fx.EDGE_LON},{fx.MID_LAT},environment,2024-05-01T09:00:00+08:00\n"
                   "E3,113.1,28.5,other,2024-05-01T10:00:00+08:00\n")
    rep = import_file(grid_area, "incidents", csv)
    assert rep.rows_loaded == 3 and rep.assignment["assigned"] == 2
    with grid_area.connect() as conn:
        after = dict(conn.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'incidents'")).all())
        conn.execute(text("SET enable_seqscan = off"))
        rows = conn.execute(text("SELECT external_id, grid_code, boundary, candidates, due_at, "
                                 "channel FROM incidents WHERE grid_code IS NOT NULL "
                                 "ORDER BY external_id")).all()
    assert after == before
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("E1", fx.A, False, [fx.A]), ("E2", fx.A, True, [fx.A, fx.B])]
    assert all(r[4] is not None and r[5] == "import" for r in rows)
