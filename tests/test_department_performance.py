"""Department performance from events: received, acknowledged and closed on time against the
clocks, reopened and returned, median hours, a merged incident counted once, worst first."""

from __future__ import annotations

import pandas as pd
import pytest

from gis.clocks import Calendar, Extension, Limit
from gis.department_performance import assignments, performance, ranking

MON = pd.Timestamp("2026-09-07 09:00", tz="Asia/Shanghai")   # a Monday
H = pd.Timedelta(hours=1)
D = pd.Timedelta(days=1)
SEPTEMBER = (pd.Timestamp("2026-09-01", tz="Asia/Shanghai"),
             pd.Timestamp("2026-10-01", tz="Asia/Shanghai"))

INCIDENTS = pd.DataFrame({
    "id": [1, 2, 3, 4, 5, 6, 7],
    "category": ["environment", "environment", "environment", "public_facility",
                 "public_facility", "dispute", "environment"],
    "merged_into": [None, None, None, None, 4, None, None],
})


def ev(incident, dept, action, at):
    return {"incident_id": incident, "department_code": dept, "action": action, "at": at}


EVENTS = pd.DataFrame([
    # environment: acknowledge within 1 working day, handle within 5 (due Monday 14th 09:00)
    ev(1, "zj", "dispatch", MON), ev(1, "zj", "acknowledge", MON + 2 * H),
    ev(1, "zj", "feedback", MON + 3 * D),                                   # 72 h, on time
    ev(2, "zj", "dispatch", MON), ev(2, "zj", "acknowledge", MON + 25 * H),  # late
    ev(2, "zj", "feedback", MON + 8 * D),                                   # 192 h, late
    ev(3, "zj", "dispatch", MON + 4 * D),                                   # Friday
    ev(3, "zj", "acknowledge", MON + 6 * D + 20 * H),   # Sunday: within 1 working day
    ev(3, "zj", "reopen", MON + 9 * D),
    ev(4, "cg", "dispatch", MON), ev(4, "cg", "acknowledge", MON + H),
    ev(4, "cg", "feedback", MON + D),                                        # 24 h
    ev(5, "cg", "dispatch", MON), ev(5, "cg", "acknowledge", MON + 30 * H),  # merged: ignored
    # dispute: acknowledge within 2 h, handle within 1 working day; summoned, not dispatched
    ev(6, "police", "whistle", MON), ev(6, "police", "acknowledge", MON + H),
    ev(6, "police", "return", MON + 2 * H), ev(6, "police", "feedback", MON + 20 * H),
    ev(6, "zj", "whistle", MON), ev(6, "zj", "acknowledge", MON + 3 * H),   # late for a dispute
    ev(6, None, "verify", MON + 30 * H),                                    # not a department's
    ev(7, "zj", "dispatch", pd.Timestamp("2026-10-09 09:00", tz="Asia/Shanghai")),  # October
])


@pytest.fixture
def assigned():
    return assignments(EVENTS, INCIDENTS)


def test_assignments_one_row_per_incident_and_department(assigned):
    pairs = set(zip(assigned["incident_id"], assigned["department_code"]))
    assert pairs == {(1, "zj"), (2, "zj"), (3, "zj"), (4, "cg"), (6, "police"), (6, "zj"),
                     (7, "zj")}
    one = assigned.set_index(["incident_id", "department_code"]).loc[(1, "zj")]
    assert one["ack_due_at"] == MON + D and one["handle_due_at"] == MON + 7 * D
    friday = assigned.set_index(["incident_id", "department_code"]).loc[(3, "zj")]
    assert friday["ack_due_at"] == MON + 7 * D     # Friday 09:00 + 1 working day = Monday


def test_measures_per_department(assigned):
    perf = performance(assigned, *SEPTEMBER, departments=["minzheng", "zj"]).set_index(
        "department_code")
    zj = perf.loc["zj"]
    assert zj["received"] == 4                         # 1, 2, 3 and the summons on 6
    assert zj["acknowledged_on_time"] == 2             # 1 and 3; 2 late; 6 late for a dispute
    assert zj["closed"] == 2 and zj["closed_on_time"] == 1
    assert zj["on_time_rate"] == 0.25 and zj["ack_on_time_rate"] == 0.5
    assert zj["reopened"] == 1 and zj["returned"] == 0
    assert zj["median_hours_to_close"] == 132.0        # median of 72 and 192
    cg = perf.loc["cg"]
    assert (cg["received"], cg["closed_on_time"], cg["acknowledged_on_time"]) == (1, 1, 1)
    police = perf.loc["police"]
    assert (police["received"], police["returned"], police["closed_on_time"]) == (1, 1, 1)
    assert police["median_hours_to_close"] == 20.0
    quiet = perf.loc["minzheng"]
    assert quiet["received"] == 0 and pd.isna(quiet["on_time_rate"])


def test_a_merged_incident_counts_once(assigned):
    assert 5 not in set(assigned["incident_id"])
    assert performance(assigned, *SEPTEMBER).set_index("department_code").loc[
        "cg", "received"] == 1


def test_the_period_bounds_what_is_counted(assigned):
    october = performance(assigned, SEPTEMBER[1], SEPTEMBER[1] + 31 * D)
    assert october[["department_code", "received", "closed"]].values.tolist() == [["zj", 1, 0]]


def test_an_approved_extension_turns_a_late_close_on_time():
    longer = {(2, "zj"): [Extension(Limit(2, "working_days"), "approved")]}
    refused = {(2, "zj"): [Extension(Limit(2, "working_days"), "refused")]}
    for ext, expected in ((longer, 2), (refused, 1)):
        perf = performance(assignments(EVENTS, INCIDENTS, extensions=ext), *SEPTEMBER)
        assert perf.set_index("department_code").loc["zj", "closed_on_time"] == expected


def test_holidays_give_more_time():
    # with the whole week off, incident 2's feedback (8 days on) is within 5 working days
    week_off = Calendar(holidays={(MON + i * D).date() for i in range(5)})
    perf = performance(assignments(EVENTS, INCIDENTS, calendar=week_off), *SEPTEMBER)
    assert perf.set_index("department_code").loc["zj", "closed_on_time"] == 2


def test_ranking_is_worst_first_and_quiet_departments_last(assigned):
    ranked = ranking(performance(assigned, *SEPTEMBER, departments=["minzheng"]))
    assert ranked["department_code"].tolist() == ["zj", "police", "cg", "minzheng"]
    assert ranked["rank"].tolist()[:3] == [1, 2, 3] and pd.isna(ranked["rank"].iloc[3])


def test_ties_on_rates_go_to_more_reopened_and_returned(assigned):
    # cg and police both 100 %: police returned one case, so it ranks worse
    ranked = ranking(performance(assigned, *SEPTEMBER))
    order = ranked[ranked["department_code"].isin(["cg", "police"])]["department_code"].tolist()
    assert order == ["police", "cg"]


def test_events_without_the_needed_columns_are_refused():
    from gis.errors import InputError
    with pytest.raises(InputError) as err:
        assignments(EVENTS.drop(columns="at"), INCIDENTS)
    assert err.value.field == "at"


def test_a_part_reopened_after_its_feedback_is_not_closed_until_it_feeds_back_again():
    events = pd.DataFrame([
        ev(1, "zj", "dispatch", MON), ev(1, "zj", "acknowledge", MON + H),
        ev(1, "zj", "feedback", MON + D), ev(1, "zj", "reopen", MON + 2 * D),    # 重办
        ev(2, "zj", "dispatch", MON), ev(2, "zj", "acknowledge", MON + H),
        ev(2, "zj", "feedback", MON + D), ev(2, "zj", "reopen", MON + 2 * D),
        ev(2, "zj", "feedback", MON + 3 * D)])                                # fed back again
    perf = performance(assignments(events, INCIDENTS), *SEPTEMBER).set_index("department_code")
    assert perf.loc["zj", ["received", "closed", "closed_on_time", "reopened"]].tolist() == [
        2, 1, 1, 2]
    assert perf.loc["zj", "median_hours_to_close"] == 72.0
