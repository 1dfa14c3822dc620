"""Department figures over HTTP (issue 16): `GET /incidents/stats?by=department` counts
what each department received, acknowledged and closed on time, worst first, and the
figures equal a direct SQL count over the summons on the same data; a department account
sees its own line only."""

from __future__ import annotations

import grid_fixtures as fx
from helpers import department_headers as dept
import pytest
from sqlalchemy import text

SQL = """
SELECT department_code, count(*) AS received,
       count(*) FILTER (WHERE acknowledged_at <= ack_due_at) AS acknowledged_on_time,
       count(*) FILTER (WHERE fed_back_at IS NOT NULL) AS closed,
       count(*) FILTER (WHERE fed_back_at <= handle_due_at) AS closed_on_time,
       sum((SELECT count(*) FROM incident_events e WHERE e.incident_id = summons.incident_id
            AND e.department_code = summons.department_code AND e.action = 'reopen'))::int
         AS reopened
FROM summons GROUP BY department_code ORDER BY department_code"""


@pytest.fixture
def area(grid_area):
    with grid_area.begin() as conn:
        conn.execute(text("INSERT INTO departments (code, name, area_code) VALUES "
                          "('zhujian', '县住建局', :c), ('chengguan', '县城管局', :c), "
                          "('minzheng', '县民政局', :c)"), {"c": fx.COUNTY})
    return grid_area


def report(client, h):
    resp = client.post("/incidents", headers=h, json={
        "lon": 113.005, "lat": fx.MID_LAT, "category": "environment", "subcategory": "noise"})
    assert resp.status_code == 201, resp.text
    return resp.json()


def step(client, h, inc, action, **extra):
    fresh = client.get(f"/incidents/{inc['id']}", headers=h).json()
    resp = client.post(f"/incidents/{inc['id']}/transitions", headers=h, json={
        "action": action, "version": fresh["properties"]["version"], **extra})
    assert resp.status_code == 200, resp.text
    return resp.json()


def backdate(db, incident_id, days=7):
    """Move a case's receipt a whole number of weeks back (the working-day structure and so
    the due times shift with it), so that acting now is late."""
    with db.begin() as conn:
        conn.execute(text("UPDATE incident_events SET at = at - make_interval(days => :d) "
                          "WHERE incident_id = :i AND action IN ('dispatch', 'whistle')"),
                     {"d": days, "i": incident_id})
        conn.execute(text("UPDATE summons SET summoned_at = summoned_at - make_interval("
                          "days => :d), ack_due_at = ack_due_at - make_interval(days => :d), "
                          "handle_due_at = handle_due_at - make_interval(days => :d) "
                          "WHERE incident_id = :i"), {"d": days, "i": incident_id})


def test_department_figures_equal_a_direct_count_and_rank_worst_first(client, make_user,
                                                                       area):
    centre = make_user("dispatcher", fx.COUNTY, username="centre")
    zj, cg = dept(area, "zhujian"), dept(area, "chengguan")
    one = step(client, centre, report(client, centre), "accept")
    step(client, centre, one, "dispatch", department_code="zhujian")
    step(client, zj, one, "acknowledge")
    step(client, zj, one, "feedback", note="done")                   # zj: on time
    two = report(client, centre)
    assert client.post(f"/incidents/{two['id']}/whistle", headers=centre,
                       json={"departments": ["zhujian", "chengguan"]}).status_code == 200
    backdate(area, two["id"])
    step(client, cg, two, "acknowledge")                             # cg: late
    step(client, cg, two, "feedback")                                # cg: late
    three = step(client, centre, report(client, centre), "accept")
    step(client, centre, three, "dispatch", department_code="chengguan")
    step(client, cg, three, "acknowledge")                           # cg: on time, open

    got = client.get("/incidents/stats", headers=centre, params={"by": "department"})
    assert got.status_code == 200, got.text
    rows = {r["department_code"]: r for r in got.json()["departments"]}
    with area.connect() as conn:
        direct = conn.execute(text(SQL)).mappings().all()
    for d in direct:
        mine = rows[d["department_code"]]
        assert {k: mine[k] for k in d if k != "department_code"} == {
            k: d[k] for k in d if k != "department_code"}, d["department_code"]
    assert (rows["zhujian"]["received"], rows["zhujian"]["closed_on_time"]) == (2, 1)
    assert (rows["chengguan"]["received"], rows["chengguan"]["acknowledged_on_time"]) == (2, 1)
    assert rows["minzheng"]["received"] == 0 and rows["minzheng"]["rank"] is None
    order = [r["department_code"] for r in got.json()["departments"]]
    assert order == ["chengguan", "zhujian", "minzheng"]            # 0 % first, quiet last
    # a department account sees its own line, and only its cases count
    own = client.get("/incidents/stats", headers=cg, params={"by": "department"}).json()
    assert [r["department_code"] for r in own["departments"]] == ["chengguan"]
    assert own["departments"][0]["received"] == 2


def test_a_period_without_cases_lists_the_departments_with_zeros(client, make_user, area):
    centre = make_user("dispatcher", fx.COUNTY, username="centre")
    got = client.get("/incidents/stats", headers=centre,
                     params={"by": "department", "start": "2020-01-01T00:00:00+08:00",
                             "end": "2020-02-01T00:00:00+08:00"}).json()
    assert [(r["department_code"], r["received"]) for r in got["departments"]] == [
        ("chengguan", 0), ("minzheng", 0), ("zhujian", 0)]
    assert client.get("/incidents/stats", headers=centre,
                      params={"by": "street"}).status_code == 422


def test_the_monthly_report_ranks_the_departments_as_the_stats_do(client, make_user, area,
                                                                  settings):
    from datetime import datetime

    from gis.clocks import CHINA
    from gis.report import render_html
    from gis.services import overview

    centre = make_user("dispatcher", fx.COUNTY, username="centre")
    zj = dept(area, "zhujian")
    one = step(client, centre, report(client, centre), "accept")
    step(client, centre, one, "dispatch", department_code="zhujian")
    step(client, zj, one, "acknowledge")
    two = report(client, centre)
    client.post(f"/incidents/{two['id']}/whistle", headers=centre,
                json={"departments": ["chengguan"]})
    backdate(area, two["id"], days=0)
    month = datetime.now(CHINA).strftime("%Y-%m")     # the report's months are local
    data = overview.monthly_report(area, settings, fx.COUNTY, month)
    stats = client.get("/incidents/stats", headers=centre, params={
        "by": "department", "start": f"{month}-01T00:00:00+08:00"}).json()["departments"]
    assert [(d["department_code"], d["received"], d["acknowledged_on_time"])
            for d in data.departments] == [
        (d["department_code"], d["received"], d["acknowledged_on_time"]) for d in stats]
    assert [d["department_code"] for d in data.departments][:2] == ["chengguan", "zhujian"]
    html = render_html(data, charts=False)
    assert "部门逆排名" in html and 'data-code="chengguan"' in html


def test_the_overview_shows_the_departments_last_30_days(client, make_user, area):
    centre = make_user("dispatcher", fx.COUNTY, username="centre")
    zj = dept(area, "zhujian")
    one = step(client, centre, report(client, centre), "accept")
    step(client, centre, one, "dispatch", department_code="zhujian")
    step(client, zj, one, "acknowledge")
    got = client.get(f"/overview/{fx.COUNTY}", headers=centre)
    assert got.status_code == 200, got.text
    rows = {d["department_code"]: d for d in got.json()["departments"]}
    assert (rows["zhujian"]["received"], rows["zhujian"]["acknowledged_on_time"]) == (1, 1)
    assert rows["minzheng"]["received"] == 0
    # a department account sees its own line only
    own = client.get(f"/overview/{fx.COUNTY}", headers=zj)
    if own.status_code == 200:
        assert [d["department_code"] for d in own.json()["departments"]] == ["zhujian"]
