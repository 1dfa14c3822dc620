"""Whistle and report-in (吹哨·报到), joint handling (联合处置) and supervision (督办).

Pure: plain values in and out; due times from :mod:`gis.clocks`. A *summons* is one
department's part in one incident: summoned (吹哨) → acknowledged (报到) → fed back (反馈).
An incident with summonses can be verified only when every summoned department has fed
back. A summons past its acknowledge or handle due time *lapses*; each lapse raises a
supervision notice (督办) to the department and to the level above the incident's place;
when a notice's grace period also runs out with the step still not done, the notice is
escalated one level (a second notice, up to the county).

Examples
--------
>>> s = [Summons("zj", "acknowledged"), Summons("police", "fed_back")]
>>> waiting_for(s)
['zj']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from gis.clocks import Calendar, Limit, due_at
from gis.errors import Conflict, InputError

STATES = ("summoned", "acknowledged", "fed_back")
# action -> (state it needs, state it gives)
MOVES = {"acknowledge": ("summoned", "acknowledged"), "feedback": ("acknowledged", "fed_back")}
KINDS = ("acknowledge", "handle")   # which limit lapsed
MAX_LEVEL = 2                       # 1: the department and the level above; 2: escalated
GRACE = Limit(1, "working_days")    # time a notice gives before it escalates


@dataclass(frozen=True)
class Summons:
    department_code: str
    state: str = "summoned"
    ack_due_at: datetime | None = None
    handle_due_at: datetime | None = None
    id: int | None = None


@dataclass(frozen=True)
class Notice:
    """A supervision notice: ``kind`` lapsed for the summons; ``level`` 1 or 2."""

    summons_id: int | None
    department_code: str
    kind: str
    level: int
    raised_at: datetime
    recipients: tuple[str, ...] = ()   # admin codes above the department (level 1: one up)


def check_departments(codes: Sequence[str], known: Iterable[str],
                      already: Iterable[str] = ()) -> list[str]:
    """The department codes of a whistle, deduplicated in order; unknown ones or none at all
    are an input error on ``departments``, ones already summoned a conflict."""
    wanted = list(dict.fromkeys(c.strip() for c in codes if c and c.strip()))
    if not wanted:
        raise InputError("name at least one department", field="departments")
    unknown = [c for c in wanted if c not in set(known)]
    if unknown:
        raise InputError(f"unknown department(s): {', '.join(unknown)}", field="departments")
    again = [c for c in wanted if c in set(already)]
    if again:
        raise Conflict(f"already summoned for this incident: {', '.join(again)}")
    return wanted


def next_state(state: str, action: str) -> str:
    """A summons' state after a department's ``action`` (``acknowledge`` or ``feedback``)."""
    if action not in MOVES:
        raise InputError(f"a department may acknowledge or feedback, not {action!r}",
                         field="action")
    needs, gives = MOVES[action]
    if state != needs:
        raise Conflict(f"cannot {action} a summons that is {state} (needs {needs})",
                       allowed=[a for a, (n, _) in MOVES.items() if n == state])
    return gives


def waiting_for(summonses: Iterable[Summons]) -> list[str]:
    """Departments whose feedback the incident still waits for (joint handling)."""
    return [s.department_code for s in summonses if s.state != "fed_back"]


def check_can_verify(summonses: Iterable[Summons]) -> None:
    """Refuse verify or close while a summoned department has not fed back."""
    waiting = waiting_for(summonses)
    if waiting:
        raise Conflict(f"waiting for feedback from {', '.join(waiting)} (联合处置: every "
                       "summoned department must feed back first)")


def due_times(summoned_at: datetime, ack: Limit, handle: Limit,
              calendar: Calendar) -> tuple[datetime | None, datetime | None]:
    """``(acknowledge by, feed back by)`` for a summons made at ``summoned_at``."""
    return due_at(summoned_at, ack, calendar), due_at(summoned_at, handle, calendar)


def lapsed(summons: Summons, now: datetime) -> str | None:
    """Which limit the summons has let lapse at ``now``, or None."""
    if summons.state == "summoned" and summons.ack_due_at and now > summons.ack_due_at:
        return "acknowledge"
    if summons.state != "fed_back" and summons.handle_due_at and now > summons.handle_due_at:
        return "handle"
    return None


def above(area_code: str) -> str | None:
    """The admin code one level above a 12-digit code (community → township → county)."""
    if area_code.endswith("000000"):
        return None
    if area_code.endswith("000"):
        return area_code[:6] + "000000"
    return area_code[:9] + "000"


def _recipients(place_code: str, level: int) -> tuple[str, ...]:
    out, code = [], place_code[:12]
    for _ in range(level):
        code = above(code) if code else None
        if code is None:
            break
        out.append(code)
    return tuple(out)


def notices_due(summonses: Iterable[Summons], existing: Iterable[Notice], *, now: datetime,
                place_code: str, calendar: Calendar, grace: Limit = GRACE) -> list[Notice]:
    """The notices to raise now: a first one for each new lapse, and an escalation for each
    notice whose grace ran out with the step still not done. Never the same twice."""
    existing = list(existing)
    raised = []
    for summons in summonses:
        kind = lapsed(summons, now)
        if kind is None:
            continue
        mine = [n for n in existing if n.summons_id == summons.id and n.kind == kind]
        top = max(mine, key=lambda n: n.level, default=None)
        if top is None:
            level = 1
        elif top.level < MAX_LEVEL and (due_at(top.raised_at, grace, calendar) or now) < now:
            level = top.level + 1
        else:
            continue
        raised.append(Notice(summons.id, summons.department_code, kind, level, now,
                             _recipients(place_code, level)))
    return raised
