"""The incident closed loop (闭环): states, actions, time limits and overdue rules.

Pure: no database, no settings. The store applies these rules to rows; the API shows
:func:`allowed_actions` when a transition is refused.

The main line is report (上报) → accept (受理) → dispatch (分拨) → handle (处置) →
feedback (反馈) → verify (核查) → close (结案). Two side moves:

* ``return`` (退回) sends an incident one step back: a report that cannot be accepted goes
  back to the reporter (status ``returned``, who may ``report`` it again); a refused
  dispatch goes back to the dispatcher (``accepted``); a verification that fails sends it
  back to handling; an escalated incident that the upper centre returns goes back down
  one level, to be handled there (``accepted``).
* ``escalate`` (上报上级) hands it to the centre above, community → township → county;
  the upper centre then ``accept``\\ s it (or escalates it further, or returns it).

Time limits run from the report: the 3必到 categories (disputes and safety hazards, which a
grid worker must attend in person) get the shortest. Escalation does not stop the clock:
the citizen waits as long whichever centre handles the case.

Examples
--------
>>> next_state("reported", "community", "accept")
('accepted', 'community')
>>> next_state("handling", "community", "escalate")
('escalated', 'township')
>>> allowed_actions("feedback", "community")
['verify', 'return']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from gis.errors import Conflict, InputError
from gis.vocabulary import ADMIN_LEVELS, INCIDENT_CATEGORIES

# status -> {action: next status}; the level changes only on escalate and on a return of
# an escalated incident (see :func:`next_state`).
TRANSITIONS: dict[str, dict[str, str]] = {
    "reported": {"accept": "accepted", "escalate": "escalated", "return": "returned"},
    "returned": {"report": "reported"},
    "accepted": {"dispatch": "dispatched", "escalate": "escalated", "return": "returned"},
    "dispatched": {"handle": "handling", "escalate": "escalated", "return": "accepted"},
    "handling": {"feedback": "feedback", "escalate": "escalated", "return": "dispatched"},
    "feedback": {"verify": "verified", "return": "handling"},
    "verified": {"close": "closed", "return": "feedback"},
    "escalated": {"accept": "accepted", "escalate": "escalated", "return": "accepted"},
    "closed": {},
}
ACTIONS = ("report", "accept", "dispatch", "handle", "feedback", "verify", "close", "return",
           "escalate")
OPEN_STATUSES = tuple(s for s in TRANSITIONS if s != "closed")

# Hours from the report: (accept within, close within). 3必到 categories are shortest.
TIME_LIMITS_H: dict[str, tuple[float, float]] = {
    "dispute": (0.5, 24.0),           # 矛盾纠纷: must attend in person
    "safety_hazard": (0.5, 24.0),     # 安全隐患: must attend in person
    "security_hazard": (1.0, 48.0),
    "public_facility": (2.0, 72.0),
    "environment": (2.0, 72.0),
    "population": (4.0, 168.0),
    "other": (4.0, 120.0),
}
MUST_ATTEND = ("dispute", "safety_hazard")  # 3必到
# 4必报: instability (治安隐患 in the catalogue), safety hazards, incoming population and
# damaged public facilities: category -> the subcategories that count (None: all of them).
MUST_REPORT: dict[str, tuple[str, ...] | None] = {
    "security_hazard": None, "safety_hazard": None, "population": ("move_in", "rental"),
    "public_facility": None}


def validate_category(category: str | None, subcategory: str | None) -> tuple[str, str | None]:
    """Check ``category`` and ``subcategory`` against :data:`gis.vocabulary.INCIDENT_CATEGORIES`.

    Raises :class:`~gis.errors.InputError` naming the field; returns the pair, trimmed.
    """
    cat = (category or "").strip()
    if cat not in INCIDENT_CATEGORIES:
        raise InputError(f"unknown category {category!r} (one of "
                         f"{', '.join(INCIDENT_CATEGORIES)})", field="category")
    sub = (subcategory or "").strip() or None
    if sub is not None and sub not in INCIDENT_CATEGORIES[cat]:
        raise InputError(f"subcategory {subcategory!r} does not belong to {cat!r} (one of "
                         f"{', '.join(INCIDENT_CATEGORIES[cat])})", field="subcategory")
    return cat, sub


def allowed_actions(status: str, level: str) -> list[str]:
    """Actions allowed from ``status`` at ``level`` (escalation stops at the county)."""
    actions = list(TRANSITIONS.get(status, {}))
    if level == ADMIN_LEVELS[0]:
        actions = [a for a in actions if a != "escalate"]
    return actions


def _level_step(level: str, step: int) -> str:
    i = ADMIN_LEVELS.index(level) - step  # ADMIN_LEVELS runs county -> community
    return ADMIN_LEVELS[max(0, min(i, len(ADMIN_LEVELS) - 1))]


def next_state(status: str, level: str, action: str) -> tuple[str, str]:
    """``(status, level)`` after ``action``.

    Raises :class:`~gis.errors.Conflict` with the allowed actions when ``action`` is not
    allowed (an unknown action is an :class:`~gis.errors.InputError` on ``action``).
    """
    if action not in ACTIONS:
        raise InputError(f"unknown action {action!r} (one of {', '.join(ACTIONS)})",
                         field="action")
    allowed = allowed_actions(status, level)
    if action not in allowed:
        listed = ", ".join(allowed) or "none: the incident is closed"
        raise Conflict(f"cannot {action} an incident that is {status} at {level} level "
                       f"(allowed: {listed})", allowed=allowed)
    new_status = TRANSITIONS[status][action]
    if action == "escalate":
        return new_status, _level_step(level, +1)
    if action == "return" and status == "escalated":
        return new_status, _level_step(level, -1)
    return new_status, level


def due_at(category: str, reported_at: datetime) -> datetime:
    """When an incident of ``category`` reported at ``reported_at`` must be closed."""
    return reported_at + timedelta(hours=TIME_LIMITS_H[category][1])


def accept_due_at(category: str, reported_at: datetime) -> datetime:
    """When an incident of ``category`` must have been accepted."""
    return reported_at + timedelta(hours=TIME_LIMITS_H[category][0])


@dataclass(frozen=True)
class OverdueCase:
    """One way to be overdue. It applies to closed incidents (``closed``) or to open ones,
    optionally only in ``statuses``; the incident is overdue when its moment (the closing
    time if closed, else now) is past its deadline: ``"close"`` is the due time (from
    :func:`due_at` when none is stored), ``"accept"`` the accept limit, and a key of
    :data:`PART_DEADLINES` the deadline of any of its departments' parts."""

    reason: str
    closed: bool
    deadline: str  # "close" | "accept" | a key of PART_DEADLINES
    statuses: tuple[str, ...] | None = None


@dataclass(frozen=True)
class DepartmentPart:
    """One department's part in an incident (a dispatch to it or a whistle), as the overdue
    rule reads it: the store's ``summons`` rows have these attributes. The due times
    already hold approved extensions, and a running approved pause leaves no handle due
    time (the clock is stopped: :mod:`gis.clocks`)."""

    department_code: str
    summoned_at: datetime
    ack_due_at: datetime | None = None
    handle_due_at: datetime | None = None
    acknowledged_at: datetime | None = None
    fed_back_at: datetime | None = None


# A part's deadline: (its due time, the time its step was done). The part has let it lapse
# at a moment when it was summoned by then, the step was not done by then, and the moment
# is past the due time. Read by time stamps, not states, so the rule also holds "as of" a
# past instant (the overview and the monthly report).
PART_DEADLINES: dict[str, tuple[str, str]] = {
    "department_acknowledge": ("ack_due_at", "acknowledged_at"),   # 部门报到
    "department_handle": ("handle_due_at", "fed_back_at"),         # 部门反馈
}
PART_SEPARATOR = ", "  # between department codes in a reason


# The overdue rule, written once: the first case that holds gives the reason. Python reads
# it in :func:`overdue`; the SQL that lists, counts, serves and tiles incidents is generated
# from it (gis/store/overdue.py), so every view marks the same incidents. A department case
# names the departments that let the deadline lapse: "department_handle: police, zj".
OVERDUE_CASES = (
    OverdueCase("closed late", closed=True, deadline="close"),
    OverdueCase("not closed in time", closed=False, deadline="close"),
    OverdueCase("not accepted in time", closed=False, deadline="accept", statuses=("reported",)),
    OverdueCase("department_acknowledge", closed=False, deadline="department_acknowledge"),
    OverdueCase("department_handle", closed=False, deadline="department_handle"),
)


def lapsed_parts(parts: Iterable, deadline: str, moment: datetime) -> list[str]:
    """The department codes (sorted) of ``parts`` that let ``deadline`` lapse at
    ``moment`` (see :data:`PART_DEADLINES`)."""
    due_name, done_name = PART_DEADLINES[deadline]
    out = set()
    for part in parts:
        due, done = getattr(part, due_name), getattr(part, done_name)
        if (part.summoned_at <= moment and (done is None or done > moment)
                and due is not None and moment > due):
            out.add(part.department_code)
    return sorted(out)


def overdue(status: str, category: str, reported_at: datetime, due: datetime | None,
            closed_at: datetime | None, now: datetime,
            parts: Iterable[DepartmentPart] = ()) -> str | None:
    """Why an incident is overdue, or None (the first of :data:`OVERDUE_CASES` that holds).

    ``"not accepted in time"``: still ``reported`` after the accept limit;
    ``"not closed in time"``: open after its due time; ``"closed late"``: closed after it;
    ``"department_acknowledge: CODE"`` / ``"department_handle: CODE"``: open while one of its
    departments' ``parts`` is past its acknowledge / handle due time.

    Examples
    --------
    >>> t0 = datetime(2025, 5, 1, 8, 0)
    >>> overdue("reported", "dispute", t0, None, None, t0 + timedelta(hours=1))
    'not accepted in time'
    >>> overdue("handling", "dispute", t0, None, None, t0 + timedelta(hours=25))
    'not closed in time'
    >>> overdue("closed", "dispute", t0, None, t0 + timedelta(hours=2), t0 + timedelta(days=9))
    >>> zj = DepartmentPart("zj", t0, ack_due_at=t0 + timedelta(hours=2))
    >>> overdue("dispatched", "dispute", t0, None, None, t0 + timedelta(hours=3), [zj])
    'department_acknowledge: zj'
    """
    parts = tuple(parts)
    deadlines = {"close": due or due_at(category, reported_at),
                 "accept": accept_due_at(category, reported_at)}
    for case in OVERDUE_CASES:
        if case.closed != (closed_at is not None):
            continue
        if case.statuses is not None and status not in case.statuses:
            continue
        moment = closed_at if case.closed else now
        if case.deadline in PART_DEADLINES:
            late = lapsed_parts(parts, case.deadline, moment)
            if late:
                return f"{case.reason}: {PART_SEPARATOR.join(late)}"
        elif moment > deadlines[case.deadline]:
            return case.reason
    return None
