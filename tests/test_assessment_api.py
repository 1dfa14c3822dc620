"""GET /workers/assessment over the real PostGIS: the hand-built month of
tests/assessment_fixtures.py stored in the tables (grids, staff, fixes, incidents, key
households, visits) gives the same figures as the library on the same data; each caller
sees their own area only, another community's staff get 404, and every read of the key
households is audited."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from sqlalchemy import text

import assessment_fixtures as F
from gis.assessment import COLUMNS, assess
from gis.services import assessment as service
from gis.store.users import Principal
from grid_fixtures import COMM1, COMM2, COUNTY, A, B, C, insert_units_and_grids, square

CODES = {"G-A": A, "G-B": B, "G-C": C, "G-Z": COMM1 + "0099"}  # G-Z: no such grid
BUILDING_IDS = {name: i + 1 for i, name in enumerate(F.BUILDINGS)}
ADMIN = Principal(user_id=0, username="loader", role="admin", scope_code=None)
MONTH = {"month": F.MONTH}


def _insert(engine, sql: str, rows: list[dict]) -> None:
    with engine.begin() as conn:
        conn.execute(text(sql), rows)


def _aware(values) -> list:
    return [t.to_pydatetime() for t in
            pd.to_datetime(pd.Series(values), format="mixed").dt.tz_localize(F.TZ)]


def _v(x):
    """A file's missing value (NaN) is NULL in the database, never the text 'NaN'."""
    return None if x is None or (isinstance(x, float) and pd.isna(x)) else x


def load_month(engine) -> None:
    insert_units_and_grids(engine)
    _insert(engine, "INSERT INTO buildings (id, community_code, geom) VALUES (:i, :c, ST_GeomFromEWKT(:g))",
            [{"i": BUILDING_IDS[b], "c": COMM1, "g": square(x - 4e-5, y - 4e-5, x + 4e-5, y + 4e-5)}
             for b, (x, y) in F.BUILDINGS.items()])
    _insert(engine, "INSERT INTO grid_staff (name, role, grid_code, worker_id) "
                    "VALUES (:w, 'fulltime_worker', :g, :w)",
            [{"w": r.worker, "g": CODES[r.grid]} for r in F.staff().itertuples()])
    t = F.tracks()
    _insert(engine, "INSERT INTO patrol_points (worker, time, geom) "
                    "VALUES (:w, :t, ST_SetSRID(ST_MakePoint(:x, :y), 4326))",
            [{"w": w, "t": tt, "x": x, "y": y} for w, tt, x, y in
             zip(t["worker"], _aware(t["time"]), t["lon"], t["lat"])])
    inc = F.incidents()
    inc = inc[inc["merged_into"].isna()]  # no merge in this schema: a duplicate is not stored
    grid = {"D1": A, "D2": A, "D3": A, "D4": B}
    _insert(engine, "INSERT INTO incidents (external_id, category, subcategory, reporter, "
                    "reported_at, status, grid_code, geom) VALUES (:e, :c, :s, :r, :t, :st, :g, "
                    "ST_SetSRID(ST_MakePoint(:x, :y), 4326))",
            [{"e": r.id, "c": r.category, "s": _v(r.subcategory), "r": r.reporter, "t": t_,
              "st": r.status, "g": grid.get(r.id), "x": r.lon, "y": r.lat}
             for r, t_ in zip(inc.itertuples(), _aware(inc["reported_at"]))])
    for r in F.key_households().itertuples():
        service.add_key_household(engine, ADMIN, {
            "household_ref": r.household, "kind": r.kind, "community_code": COMM1,
            "building_id": BUILDING_IDS.get(r.building), "lon": _v(r.lon), "lat": _v(r.lat)})
    v = F.visits()
    for r, when in zip(v.itertuples(), _aware(v["time"])):
        service.add_visit(engine, ADMIN, {
            "worker": r.worker, "time": when, "household_ref": _v(r.household),
            "building_id": BUILDING_IDS.get(r.building), "community_code": COMM1,
            "lon": _v(r.lon), "lat": _v(r.lat)})


@pytest.fixture
def month_db(db):
    load_month(db)
    return db


def table(res) -> pd.DataFrame:
    assert res.status_code == 200, res.text
    return pd.DataFrame(res.json()["workers"]).set_index("worker")


def test_http_gives_the_figures_of_the_library_on_the_same_data(client, month_db, make_user):
    got = table(client.get("/workers/assessment", params=MONTH,
                           headers=make_user("dispatcher", COUNTY)))
    staff = F.staff().assign(grid=F.staff()["grid"].map(CODES))
    grids = F.grids().assign(code=F.grids()["code"].map(CODES))
    lib = assess(F.tracks(), staff, grids, F.incidents(), F.visits(), F.key_households(),
                 F.MONTH, F.TZ, buildings=F.buildings(), building_key="id").workers
    lib = lib.set_index("worker")
    assert list(got.reset_index().columns) == list(COLUMNS)
    ints = [c for c in COLUMNS if c not in ("worker", "patrol_rate", "notes")]
    pd.testing.assert_frame_equal(got[ints], lib[ints], check_dtype=False)
    # the known figures; no roster in the database: w1's days off count (62 windows, 26 done)
    expected = {**F.EXPECTED["w1"], "patrol_windows_required": 62, "patrol_windows_done": 26}
    assert got.loc["w1", ints[:-1]].to_dict() == expected
    for worker in ("w2", "w3", "w4"):
        assert got.loc[worker, list(F.EXPECTED[worker])].to_dict() == F.EXPECTED[worker]
    assert got.loc["w4", "stars"] == 5
    cases = {c["incident"]: c for c in client.get(
        "/workers/assessment", params=MONTH, headers=make_user("analyst", COUNTY)).json()["cases"]}
    assert cases["D1"]["verified"] and cases["D1"]["proof_time"].startswith("2026-10-07 09:20:00")
    assert not cases["D2"]["verified"] and cases["D2"]["proof_time"] is None


def test_csv_has_the_columns_and_neutralised_cells(client, month_db, make_user):
    res = client.get("/workers/assessment", params={**MONTH, "f": "csv"},
                     headers=make_user("dispatcher", COUNTY))
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/csv")
    df = pd.read_csv(io.StringIO(res.text))
    assert list(df.columns) == list(COLUMNS) and sorted(df["worker"]) == ["w1", "w2", "w3", "w4"]


def test_scope_another_communitys_staff_get_404(client, month_db, make_user):
    comm2 = make_user("dispatcher", COMM2, username="comm2")
    assert client.get("/workers/assessment", params={**MONTH, "area": COMM1},
                      headers=comm2).status_code == 404
    assert client.get("/workers/assessment", params={**MONTH, "area": A},
                      headers=comm2).status_code == 404
    assert list(table(client.get("/workers/assessment", params=MONTH, headers=comm2)).index) == ["w4"]
    comm1 = make_user("dispatcher", COMM1, username="comm1")
    assert list(table(client.get("/workers/assessment", params=MONTH, headers=comm1)).index) == \
        ["w1", "w2", "w3"]
    one = table(client.get("/workers/assessment", params={**MONTH, "area": A}, headers=comm1))
    assert list(one.index) == ["w1"]


@pytest.mark.parametrize("role, status", [("viewer", 403), ("planner", 403), ("analyst", 200),
                                          ("dispatcher", 200), ("admin", 200)])
def test_roles(client, month_db, make_user, role, status):
    res = client.get("/workers/assessment", params=MONTH, headers=make_user(role, COMM1))
    assert res.status_code == status, res.text


def test_a_grid_worker_sees_their_own_month_only(client, month_db, make_user):
    w1 = make_user("grid_worker", COMM1, username="w1")
    got = table(client.get("/workers/assessment", params=MONTH, headers=w1))
    assert list(got.index) == ["w1"] and got.loc["w1", "must_attend_verified"] == 1
    other = make_user("grid_worker", COMM2, username="w4")
    assert client.get("/workers/assessment", params={**MONTH, "area": COMM1},
                      headers=other).status_code == 404


def test_every_read_of_key_households_is_audited(client, month_db, make_user):
    client.get("/workers/assessment", params=MONTH, headers=make_user("analyst", COMM1, username="ana"))
    client.get("/workers/assessment", params={**MONTH, "area": A},
               headers=make_user("dispatcher", COUNTY, username="boss"))
    with month_db.connect() as conn:
        reads = conn.execute(text(
            "SELECT actor, entity_id, after FROM audit_log WHERE entity = 'key_households' "
            "AND action = 'read' ORDER BY id")).all()
    assert [(r.actor, r.entity_id) for r in reads] == [("ana", COMM1), ("boss", A)]
    assert reads[0].after["households"] == 3 and reads[0].after["month"] == F.MONTH


def test_bad_month_is_422(client, month_db, make_user):
    res = client.get("/workers/assessment", params={"month": "2026-13"},
                     headers=make_user("dispatcher", COUNTY))
    assert res.status_code == 422 and "month" in res.text
