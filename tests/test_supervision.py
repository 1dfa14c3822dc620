"""Whistle, report-in and supervision rules: known departments only, acknowledge before
feedback, no verify until every summoned department fed back, a lapse raises a notice to
the department and the level above, a second lapse escalates, never the same notice twice."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from gis.clocks import CHINA, Calendar, Limit
from gis.errors import Conflict, InputError
from gis.supervision import (Notice, Summons, above, check_can_verify, check_departments,
                             due_times, lapsed, next_state, notices_due, waiting_for)

MON = datetime(2026, 9, 7, 9, 0, tzinfo=CHINA)
H = timedelta(hours=1)
PLACE = "430199101002"          # a village of town 101
TOWN, COUNTY = "430199101000", "430199000000"


def test_whistle_names_known_departments_once():
    assert check_departments(["zj", " police", "zj"], {"zj", "police"}) == ["zj", "police"]
    with pytest.raises(InputError, match="unknown department.*nobody") as err:
        check_departments(["zj", "nobody"], {"zj"})
    assert err.value.field == "departments"
    with pytest.raises(InputError, match="at least one"):
        check_departments([" ", ""], {"zj"})
    with pytest.raises(Conflict, match="already summoned.*zj"):
        check_departments(["zj", "police"], {"zj", "police"}, already=["zj"])


def test_acknowledge_then_feedback():
    assert next_state("summoned", "acknowledge") == "acknowledged"
    assert next_state("acknowledged", "feedback") == "fed_back"
    with pytest.raises(Conflict, match="needs acknowledged") as err:
        next_state("summoned", "feedback")
    assert err.value.allowed == ["acknowledge"]
    with pytest.raises(Conflict):
        next_state("fed_back", "feedback")
    with pytest.raises(InputError):
        next_state("summoned", "close")


def test_verify_waits_for_every_summoned_department():
    summonses = [Summons("zj", "fed_back"), Summons("police", "acknowledged"),
                 Summons("minzheng", "summoned")]
    assert waiting_for(summonses) == ["police", "minzheng"]
    with pytest.raises(Conflict, match="police, minzheng"):
        check_can_verify(summonses)
    check_can_verify([Summons("zj", "fed_back"), Summons("police", "fed_back")])
    check_can_verify([])    # no summons: the grid's own loop


def test_due_times_follow_the_clocks():
    ack, handle = due_times(datetime(2026, 9, 11, 9, tzinfo=CHINA), Limit(2, "hours"),
                            Limit(1, "working_days"), Calendar())
    assert ack == datetime(2026, 9, 11, 11, tzinfo=CHINA)
    assert handle == datetime(2026, 9, 14, 9, tzinfo=CHINA)        # over the weekend


def test_lapses():
    s = Summons("zj", "summoned", MON + 2 * H, MON + 48 * H, id=1)
    assert lapsed(s, MON + H) is None
    assert lapsed(s, MON + 3 * H) == "acknowledge"
    assert lapsed(Summons("zj", "acknowledged", MON + 2 * H, MON + 48 * H), MON + 3 * H) is None
    assert lapsed(Summons("zj", "acknowledged", MON + 2 * H, MON + 48 * H), MON + 49 * H) == \
        "handle"
    assert lapsed(Summons("zj", "fed_back", MON + 2 * H, MON + 48 * H), MON + 99 * H) is None


def test_above():
    assert above(PLACE) == TOWN and above(TOWN) == COUNTY and above(COUNTY) is None


def test_a_lapse_raises_one_notice_then_escalates_once_after_the_grace():
    summons = [Summons("zj", "summoned", MON + 2 * H, MON + 48 * H, id=7)]
    cal = Calendar()
    first = notices_due(summons, [], now=MON + 3 * H, place_code=PLACE, calendar=cal)
    assert [(n.summons_id, n.kind, n.level, n.recipients) for n in first] == [
        (7, "acknowledge", 1, (TOWN,))]
    # the same lapse seen again within the grace: nothing new
    assert notices_due(summons, first, now=MON + 20 * H, place_code=PLACE, calendar=cal) == []
    # grace (one working day) over: escalated to level 2, up to the county
    second = notices_due(summons, first, now=MON + 28 * H, place_code=PLACE, calendar=cal)
    assert [(n.level, n.recipients) for n in second] == [(2, (TOWN, COUNTY))]
    # level 2 is the top: no third notice
    assert notices_due(summons, first + second, now=MON + 200 * H, place_code=PLACE,
                       calendar=cal) == []


def test_a_handle_lapse_is_a_new_notice_even_after_an_acknowledge_one():
    acked = [Summons("zj", "acknowledged", MON + 2 * H, MON + 48 * H, id=7)]
    old = [Notice(7, "zj", "acknowledge", 1, MON + 3 * H, (TOWN,))]
    got = notices_due(acked, old, now=MON + 49 * H, place_code=PLACE, calendar=Calendar())
    assert [(n.kind, n.level) for n in got] == [("handle", 1)]


def test_each_department_lapses_on_its_own():
    summonses = [Summons("zj", "summoned", MON + 2 * H, MON + 48 * H, id=1),
                 Summons("police", "acknowledged", MON + 2 * H, MON + 48 * H, id=2)]
    got = notices_due(summonses, [], now=MON + 3 * H, place_code=PLACE, calendar=Calendar())
    assert [n.department_code for n in got] == ["zj"]
