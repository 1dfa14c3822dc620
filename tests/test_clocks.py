"""Clocks: working-day limits over weekends, holidays and make-up days (调休), extensions
and pauses, limits per step × category × level, and holiday calendars read from CSV."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from gis.clocks import (CHINA, Calendar, Extension, Limit, Pause, counted_seconds, due_at,
                        is_overdue, limit_for, read_calendars, working_days_between)
from gis.errors import InputError, InvalidRows

# 2026: National Day week 1–7 October (Thu–Wed), with Saturday 10 October worked in exchange
NATIONAL_DAY = Calendar(holidays={date(2026, 10, d) for d in range(1, 8)},
                        workdays={date(2026, 10, 10)})


def at(month, day, hour=0, minute=0, tz=CHINA) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=tz)


def test_working_days_skip_a_weekend():
    friday = at(9, 25, 10)
    assert due_at(friday, Limit(1, "working_days"), Calendar()) == at(9, 28, 10)   # Monday
    assert due_at(friday, Limit(3, "working_days"), Calendar()) == at(9, 30, 10)


def test_working_days_across_a_weekend_and_a_holiday_week():
    # Tuesday 29 Sep 15:00 + 3 working days: 29th (9 h), 30th (24 h), then 1–7 Oct are the
    # holiday (4–5 Oct also a weekend), 8th (24 h), 9th until 15:00
    start = at(9, 29, 15)
    assert due_at(start, Limit(3, "working_days"), NATIONAL_DAY) == at(10, 9, 15)
    # the same limit without the holiday would end on Friday 2 October
    assert due_at(start, Limit(3, "working_days"), Calendar()) == at(10, 2, 15)


def test_a_make_up_saturday_counts_as_a_working_day():
    friday = at(10, 9, 12)
    # Saturday 10 October is worked (调休): one working day from Friday noon ends Saturday noon
    assert due_at(friday, Limit(1, "working_days"), NATIONAL_DAY) == at(10, 10, 12)
    assert NATIONAL_DAY.is_working_day(date(2026, 10, 10))
    assert not NATIONAL_DAY.is_working_day(date(2026, 10, 11))
    # without the exchange the same Friday runs to Monday
    assert due_at(friday, Limit(1, "working_days"), Calendar()) == at(10, 12, 12)


def test_a_case_received_on_a_holiday_starts_on_the_next_working_day():
    assert due_at(at(10, 3, 9), Limit(1, "working_days"), NATIONAL_DAY) == at(10, 9)


def test_hours_run_on_the_wall_clock_whatever_the_calendar():
    assert due_at(at(10, 3, 9), Limit(30, "hours"), NATIONAL_DAY) == at(10, 4, 15)


def test_due_time_keeps_the_start_time_zone_and_agrees_across_zones():
    utc_start = at(9, 25, 10).astimezone(timezone.utc)
    due = due_at(utc_start, Limit(1, "working_days"), Calendar())
    assert due.tzinfo == timezone.utc and due == at(9, 28, 10)


def test_an_approved_extension_moves_the_due_time_and_a_refused_one_does_not():
    start, limit = at(9, 21, 9), Limit(2, "working_days")       # Monday
    plain = due_at(start, limit, Calendar())
    assert plain == at(9, 23, 9)
    approved = [Extension(Limit(2, "working_days"), "approved")]
    refused = [Extension(Limit(2, "working_days"), "refused")]
    requested = [Extension(Limit(2, "working_days"), "requested")]
    assert due_at(start, limit, Calendar(), extensions=approved) == at(9, 25, 9)
    assert due_at(start, limit, Calendar(), extensions=refused) == plain
    assert due_at(start, limit, Calendar(), extensions=requested) == plain
    now = at(9, 24, 9)
    assert is_overdue(start, limit, Calendar(), now=now, extensions=refused)
    assert not is_overdue(start, limit, Calendar(), now=now, extensions=approved)


def test_an_approved_pause_stops_the_clock():
    start, limit = at(9, 21, 9), Limit(8, "hours")
    pause = Pause(at(9, 21, 10), at(9, 21, 14), "approved")
    assert due_at(start, limit, Calendar(), pauses=[pause]) == at(9, 21, 21)
    refused = Pause(at(9, 21, 10), at(9, 21, 14), "refused")
    assert due_at(start, limit, Calendar(), pauses=[refused]) == at(9, 21, 17)
    # a pause still running stops the clock: no due time, never overdue meanwhile
    open_pause = Pause(at(9, 21, 10), None, "approved")
    assert due_at(start, limit, Calendar(), pauses=[open_pause]) is None
    assert not is_overdue(start, limit, Calendar(), now=at(12, 1), pauses=[open_pause])
    # one that starts after the due time changes nothing
    late = Pause(at(9, 22, 10), None, "approved")
    assert due_at(start, limit, Calendar(), pauses=[late]) == at(9, 21, 17)


def test_a_pause_over_a_weekend_costs_no_working_time():
    start = at(9, 25, 10)   # Friday
    pause = Pause(at(9, 26, 8), at(9, 27, 20), "approved")      # Saturday to Sunday
    assert due_at(start, Limit(1, "working_days"), Calendar(), pauses=[pause]) == at(9, 28, 10)


def test_elapsed_working_time():
    cal = NATIONAL_DAY
    # Wednesday 30 Sep 12:00 to Friday 9 Oct 12:00: half of the 30th, the 8th, half the 9th
    assert working_days_between(at(9, 30, 12), at(10, 9, 12), cal) == pytest.approx(2.0)
    assert counted_seconds(at(9, 30, 12), at(10, 9, 12), cal, unit="hours") == 9 * 86400
    assert counted_seconds(at(10, 9), at(10, 8), cal) == 0.0


def test_overdue_compares_done_time_with_due_time():
    start, limit = at(9, 21, 9), Limit(2, "hours")
    assert is_overdue(start, limit, Calendar(), now=at(9, 21, 12))
    assert not is_overdue(start, limit, Calendar(), now=at(9, 22), done_at=at(9, 21, 10))
    assert is_overdue(start, limit, Calendar(), now=at(9, 22), done_at=at(9, 21, 11, 30))


@pytest.mark.parametrize("step, category, level, expected", [
    ("acknowledge", "environment", None, Limit(1, "working_days")),
    ("acknowledge", "dispute", "township", Limit(2, "hours")),
    ("handle", "safety_hazard", None, Limit(1, "working_days")),
    ("accept", "population", "county", Limit(4, "hours")),
])
def test_limit_per_step_and_category(step, category, level, expected):
    assert limit_for(step, category, level) == expected


def test_category_and_level_beats_category_beats_level_beats_default():
    table = {("handle", None, None): Limit(5, "working_days"),
             ("handle", None, "county"): Limit(10, "working_days"),
             ("handle", "environment", None): Limit(3, "working_days"),
             ("handle", "environment", "county"): Limit(48, "hours")}
    assert limit_for("handle", "environment", "county", table) == Limit(48, "hours")
    assert limit_for("handle", "environment", "township", table) == Limit(3, "working_days")
    assert limit_for("handle", "dispute", "county", table) == Limit(10, "working_days")
    assert limit_for("handle", "dispute", "township", table) == Limit(5, "working_days")


@pytest.mark.parametrize("make, field", [
    (lambda: Limit(0, "hours"), "amount"),
    (lambda: Limit(2, "weeks"), "unit"),
    (lambda: limit_for("sleep", "dispute"), "step"),
    (lambda: Extension(Limit(1), "maybe"), "status"),
    (lambda: Pause(datetime(2026, 1, 1), None, "approved"), "start"),
    (lambda: Pause(at(1, 2), at(1, 1), "approved"), "end"),
    (lambda: Calendar(holidays={date(2026, 1, 1)}, workdays={date(2026, 1, 1)}), "date"),
    (lambda: due_at(datetime(2026, 1, 1), Limit(1), Calendar()), "start"),
])
def test_bad_values_name_the_field(make, field):
    with pytest.raises(InputError) as err:
        make()
    assert err.value.field == field


def test_calendars_from_csv_per_county(tmp_path):
    path = tmp_path / "holidays.csv"
    path.write_text("\ufeffCounty,date,kind,name\n"
                    "430199,2026-10-01,holiday,国庆节\n430199,2026-10-10,workday,调休\n"
                    "430102000000,2026-10-01,Holiday,\n\n", encoding="utf-8")
    cals = read_calendars(path)
    assert set(cals) == {"430199", "430102"}
    assert cals["430199"].holidays == {date(2026, 10, 1)}
    assert cals["430199"].workdays == {date(2026, 10, 10)}
    assert cals["430102"].is_working_day(date(2026, 10, 10)) is False


def test_a_calendar_without_county_column_takes_the_named_county(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("date,kind\n2026-01-01,holiday\n")
    assert read_calendars(path, county="430199")["430199"].holidays == {date(2026, 1, 1)}
    with pytest.raises(InvalidRows) as err:
        read_calendars(path)
    assert err.value.problems[0].field == "county"


def test_a_bad_calendar_file_names_every_bad_row_and_field(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("county,date,kind\n430199,2026-10-01,holiday\n430199,2026-13-01,holiday\n"
                    "430199,2026-10-02,day off\n4301,2026-10-03,holiday\n"
                    "430199,2026-10-01,workday\n")
    with pytest.raises(InvalidRows) as err:
        read_calendars(path)
    found = [(p.row, p.field) for p in err.value.problems]
    assert found == [(3, "date"), (4, "kind"), (5, "county"), (6, "date")]
    assert all(p.file == str(path) for p in err.value.problems)
    assert "nothing written" in str(err.value) and "row 3" in str(err.value)


def test_a_calendar_with_a_missing_or_unknown_column_is_refused(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("day,kind\n2026-10-01,holiday\n")
    with pytest.raises(InputError, match="missing column"):
        read_calendars(path, county="430199")
    path.write_text("date,kind,note\n2026-10-01,holiday,x\n")
    with pytest.raises(InputError, match="unknown column"):
        read_calendars(path, county="430199")


def test_a_long_stretch_without_working_days_is_not_an_endless_loop():
    no_work = Calendar(weekend=tuple(range(7)))
    assert due_at(at(1, 1), Limit(1, "working_days"), no_work) is None
    assert due_at(at(1, 1), Limit(1, "hours"), no_work) == at(1, 1, 1)
    assert at(1, 1) + timedelta(hours=1) == at(1, 1, 1)
