"""What the grid worker's app reads and writes, over HTTP against the real PostGIS: my grids
with this half day's patrol status, the incidents dispatched to me (overdue first) and the
two steps I may take (a stale version is a 409 that names the current one), the nearest
buildings, likely duplicates, and visits (by building, or matched to the nearest building
within 30 m; key households; today's count against the norm).

District: tests/layers_data.py (four grids; the worker staffs community A's two)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from shapely import MultiPolygon, Point, box
from sqlalchemy import text

from gis.store.db import transaction
from gis.store.models import Building, GridStaff, Incident, KeyHousehold
from layers_data import COMM_A, COMM_B, STREET, ewkt, load_district

MINE = (f"{COMM_A}0001", f"{COMM_A}0002")
NOW = datetime.now(timezone.utc)
# The district's building (layers_data) is 120.105-120.106 x 30.262-30.263: its centre
HOUSE = (120.1055, 30.2625)


@pytest.fixture
def field(db, make_user):
    load_district(db, incidents=0)
    with transaction(db) as session:
        for code in MINE:
            session.add(GridStaff(name="张三", role="fulltime_worker", grid_code=code,
                                  worker_id="w-zhang"))
        session.add(Building(households=12, kind="lowrise", community_code=COMM_A,
                             geom=ewkt(MultiPolygon([box(120.1070, 30.2620, 120.1075, 30.2625)]))))
        session.flush()
        bid = session.execute(text("SELECT min(id) FROM buildings")).scalar()
        session.add(KeyHousehold(household_ref="KH-001", kind="elderly_alone", building_id=bid,
                                 community_code=COMM_A))
        rows = [_incident(MINE[0], "dispatched", due=NOW + timedelta(hours=5)),
                _incident(MINE[1], "handling", due=NOW - timedelta(hours=1)),   # overdue
                _incident(MINE[0], "reported", due=NOW + timedelta(hours=5)),   # not mine yet
                _incident(f"{COMM_B}0001", "dispatched", due=NOW)]              # other grid
        session.add_all(rows)
    return {"worker": make_user("grid_worker", scope_code=COMM_A, username="w-zhang"),
            "other": make_user("grid_worker", scope_code=COMM_A, username="w-li"),
            "dispatcher": make_user("dispatcher", scope_code=STREET, username="d")}


def _incident(grid: str, status: str, *, due: datetime) -> Incident:
    return Incident(category="environment", subcategory="garbage", status=status,
                    reported_at=NOW - timedelta(hours=2), due_at=due, grid_code=grid,
                    community_code=grid[:12], township_code=STREET,
                    geom=ewkt(Point(120.105 if grid.startswith(COMM_A) else 120.13, 30.261)))


def test_my_grids_and_work_overdue_first(client, field):
    grids = client.get("/field/grids", headers=field["worker"]).json()
    assert [g["code"] for g in grids["grids"]] == list(MINE)
    assert all(g["patrolled"] is False and g["geometry"]["type"] == "MultiPolygon"
               for g in grids["grids"])
    work = client.get("/field/work", headers=field["worker"]).json()["features"]
    assert [f["properties"]["status"] for f in work] == ["handling", "dispatched"]
    assert work[0]["properties"]["overdue"] == "not closed in time"
    assert client.get("/field/work", headers=field["other"]).json()["features"] == []
    buildings = client.get("/field/grids/buildings", headers=field["worker"]).json()["items"]
    assert [b["key_households"] for b in buildings] == [1, 0]
    assert client.get("/field/work", headers=field["dispatcher"]).status_code == 403


def test_handle_then_a_stale_version_is_a_conflict(client, field):
    item = client.get("/field/work", headers=field["worker"]).json()["features"][1]
    iid, version = item["id"], item["properties"]["version"]
    url = f"/field/incidents/{iid}/transitions"
    res = client.post(url, json={"action": "handle", "version": version, "note": "到场"},
                      headers=field["worker"])
    assert res.status_code == 200, res.text
    assert res.json()["properties"]["status"] == "handling"
    stale = client.post(url, json={"action": "feedback", "version": version},
                        headers=field["worker"])
    assert stale.status_code == 409 and stale.json()["current_version"] == version + 1
    assert client.post(url, json={"action": "close", "version": version + 1},
                       headers=field["worker"]).status_code == 403
    # someone else's grid worker cannot act on it
    assert client.post(url, json={"action": "feedback", "version": version + 1},
                       headers=field["other"]).status_code == 404


def test_visits_by_building_or_nearest_within_30m(client, field, db):
    near = client.get("/field/buildings", params={"lon": HOUSE[0], "lat": HOUSE[1]},
                      headers=field["worker"]).json()["items"]
    assert near[0]["metres"] == 0 and near[0]["key_households"] == 1
    assert near[1]["metres"] > 100
    first = client.post("/visits", json={"building_id": near[0]["id"], "note": "走访",
                                         "key_household": True}, headers=field["worker"])
    assert first.status_code == 201, first.text
    assert first.json()["key_household"] is True and first.json()["today"] == 1
    # 20 m east of the second building's edge: matched to it
    second = client.post("/visits", json={"lon": 120.10770, "lat": 30.26225},
                         headers=field["worker"])
    assert second.status_code == 201, second.text
    assert second.json()["building_id"] == near[1]["id"] and second.json()["today"] == 2
    far = client.post("/visits", json={"lon": 120.115, "lat": 30.265}, headers=field["worker"])
    assert far.status_code == 422 and "30 m" in far.json()["detail"]
    today = client.get("/field/visits/today", headers=field["worker"]).json()
    assert today == {**today, "visits": 2, "norm": 5}
    with db.connect() as conn:
        rows = conn.execute(text("SELECT worker, household_ref FROM visits ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [("w-zhang", "KH-001"), ("w-zhang", None)]


def test_nearby_open_incidents_are_likely_duplicates(client, field):
    items = client.get("/field/nearby", params={"lon": 120.105, "lat": 30.2612,
                                                "category": "environment"},
                       headers=field["worker"]).json()["items"]
    assert len(items) == 3 and all(i["metres"] < 30 for i in items)
    assert client.get("/field/nearby", params={"lon": 120.105, "lat": 30.2612,
                                               "category": "dispute"},
                      headers=field["worker"]).json()["items"] == []


def test_a_visit_or_a_step_resent_with_its_key_is_stored_once(client, field, db):
    key = {**field["worker"], "Idempotency-Key": "visit-0001"}
    body = {"lon": HOUSE[0], "lat": HOUSE[1], "note": "走访"}
    first = client.post("/visits", json=body, headers=key)
    again = client.post("/visits", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert client.post("/visits", json={**body, "note": "另一次"}, headers=key).status_code == 422
    item = client.get("/field/work", headers=field["worker"]).json()["features"][1]
    url = f"/field/incidents/{item['id']}/transitions"
    step = {"action": "handle", "version": item["properties"]["version"]}
    key = {**field["worker"], "Idempotency-Key": "step-0001"}
    answers = [client.post(url, json=step, headers=key) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM visits")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM incident_events WHERE action = 'handle'"
                                 )).scalar() == 1


def test_the_app_is_installable_and_its_shell_holds_no_personal_data(client, field):
    assert client.get("/m", follow_redirects=False).headers["location"] == "/m/"
    page = client.get("/m/")  # no login needed: the shell is cached by the service worker
    assert page.status_code == 200 and 'rel="manifest" href="/m/manifest.webmanifest"' in page.text
    assert "w-zhang" not in page.text
    manifest = client.get("/m/manifest.webmanifest").json()
    assert manifest["start_url"] == "/m/" and manifest["scope"] == "/m/"
    assert manifest["display"] == "standalone" and manifest["lang"] == "zh-CN"
    assert any(i["sizes"] == "192x192" for i in manifest["icons"])
    for icon in manifest["icons"]:
        assert client.get(icon["src"]).status_code == 200
    worker = client.get("/m/sw.js")
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["cache-control"] == "no-cache"
    shell = worker.text.split("const SHELL = [")[1].split("];")[0]
    for path in (p.strip().strip('"') for p in shell.split(",")):
        assert client.get(path).status_code == 200, path  # everything the worker keeps exists
