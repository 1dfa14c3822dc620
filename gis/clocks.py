"""Time limits that match the rules: hours or working days, holidays, extensions, pauses.

Pure: no database, no settings. A limit is counted from a start time on a *clock*:

* a limit in ``hours`` runs on the wall clock, every hour of every day;
* a limit in ``working_days`` runs only on working days of the county's calendar: Monday to
  Friday, less public holidays (法定节假日), plus the weekend days worked in exchange
  (调休上班). One working day is 24 hours of working-day time, so a case received on Friday
  at 10:00 with one working day is due on Monday at 10:00, and a case received on a Saturday
  is due at the end of the next working day.

Approved pauses (暂停) stop the clock while they last; an approved extension (延期) adds its
amount to the limit; requested or refused ones change nothing. The due time is the instant
when the counted time reaches the limit plus approved extensions.

Examples
--------
>>> from datetime import date, datetime
>>> cal = Calendar(holidays={date(2026, 10, 1)})
>>> start = datetime(2026, 9, 30, 10, 0, tzinfo=CHINA)          # a Wednesday
>>> due_at(start, Limit(1, "working_days"), cal).isoformat()   # 1 October is a holiday
'2026-10-02T10:00:00+08:00'
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo

from gis.csv_tables import raise_if_any, read_rows
from gis.errors import InputError, RowProblem

CHINA = timezone(timedelta(hours=8), "CST")  # no daylight saving: a fixed offset is exact
UNITS = ("hours", "working_days")
STEPS = ("accept", "dispatch", "acknowledge", "handle")
DAY_KINDS = ("holiday", "workday")  # workday: a weekend day worked in exchange (调休)
APPROVAL = ("requested", "approved", "refused")
_DAY = 86400.0
_HORIZON_DAYS = 3660  # no limit of ours runs ten years: past that the calendar is broken


@dataclass(frozen=True)
class Calendar:
    """Working days of one county: weekends and holidays off, make-up days on."""

    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)
    tz: tzinfo = CHINA
    weekend: tuple[int, ...] = (5, 6)  # Saturday, Sunday

    def __post_init__(self):
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "workdays", frozenset(self.workdays))
        both = self.holidays & self.workdays
        if both:
            raise InputError(f"{min(both)} is both a holiday and a working day", field="date")

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day not in self.holidays and day.weekday() not in self.weekend


@dataclass(frozen=True)
class Limit:
    """A time limit: ``amount`` of ``unit`` (``hours`` or ``working_days``)."""

    amount: float
    unit: str = "hours"

    def __post_init__(self):
        if self.unit not in UNITS:
            raise InputError(f"unknown unit {self.unit!r} (one of {', '.join(UNITS)})",
                             field="unit")
        if not self.amount > 0:
            raise InputError(f"a limit must be positive, not {self.amount}", field="amount")

    @property
    def seconds(self) -> float:
        """Counted seconds: an hour is 3600, a working day 24 hours of working-day time."""
        return self.amount * (_DAY if self.unit == "working_days" else 3600.0)


@dataclass(frozen=True)
class Extension:
    """A request for more time (延期申请): counts only once approved."""

    extra: Limit
    status: str = "requested"

    def __post_init__(self):
        _check_status(self.status)


@dataclass(frozen=True)
class Pause:
    """A request to stop the clock from ``start`` until ``end`` (None: still paused)."""

    start: datetime
    end: datetime | None = None
    status: str = "requested"

    def __post_init__(self):
        _check_status(self.status)
        _aware(self.start, "start")
        if self.end is not None and _aware(self.end, "end") < self.start:
            raise InputError("a pause cannot end before it starts", field="end")


def _check_status(status: str) -> None:
    if status not in APPROVAL:
        raise InputError(f"unknown status {status!r} (one of {', '.join(APPROVAL)})",
                         field="status")


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError(f"{name} has no time zone: {moment.isoformat()}", field=name)
    return moment


def _day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tzinfo=tz).astimezone(timezone.utc)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz).astimezone(timezone.utc)
    return start, end


def _minus(piece: tuple[datetime, datetime], cuts: list[tuple[datetime, datetime]]):
    """The parts of ``piece`` outside the sorted intervals ``cuts``."""
    lo, hi = piece
    for c_lo, c_hi in cuts:
        if c_hi <= lo or c_lo >= hi:
            continue
        if c_lo > lo:
            yield lo, c_lo
        lo = max(lo, c_hi)
        if lo >= hi:
            return
    if lo < hi:
        yield lo, hi


def _counted(start: datetime, unit: str, calendar: Calendar, pauses: Iterable[Pause],
             until: datetime | None = None) -> Iterator[tuple[datetime, datetime]]:
    """The intervals of counted time from ``start`` (UTC), in order, up to ``until``."""
    far = datetime.max.replace(tzinfo=timezone.utc)
    cuts = sorted((p.start.astimezone(timezone.utc),
                   p.end.astimezone(timezone.utc) if p.end else far)
                  for p in pauses if p.status == "approved")
    start = start.astimezone(timezone.utc)
    day = start.astimezone(calendar.tz).date()
    for _ in range(_HORIZON_DAYS):
        lo, hi = _day_bounds(day, calendar.tz)
        if until is not None and lo >= until:
            return
        if unit == "hours" or calendar.is_working_day(day):
            piece = (max(lo, start), min(hi, until) if until is not None else hi)
            if piece[0] < piece[1]:
                yield from _minus(piece, cuts)
        day += timedelta(days=1)


def counted_seconds(start: datetime, end: datetime, calendar: Calendar, *,
                    unit: str = "working_days", pauses: Iterable[Pause] = ()) -> float:
    """Seconds between ``start`` and ``end`` that count on the ``unit``'s clock."""
    _aware(start, "start"), _aware(end, "end")
    if end <= start:
        return 0.0
    return sum((hi - lo).total_seconds()
               for lo, hi in _counted(start, unit, calendar, pauses, end.astimezone(timezone.utc)))


def working_days_between(start: datetime, end: datetime, calendar: Calendar, *,
                         pauses: Iterable[Pause] = ()) -> float:
    """Working days elapsed between ``start`` and ``end`` (fractions of a day included)."""
    return counted_seconds(start, end, calendar, pauses=pauses) / _DAY


def due_at(start: datetime, limit: Limit, calendar: Calendar, *,
           extensions: Iterable[Extension] = (), pauses: Iterable[Pause] = ()) -> datetime | None:
    """When ``limit`` counted from ``start`` runs out, in ``start``'s time zone.

    Approved extensions add to the limit; approved pauses stop the clock. None while an
    approved pause that started before the due time has no end: the clock is stopped.
    """
    _aware(start, "start")
    pauses = list(pauses)
    left = limit.seconds + sum(e.extra.seconds for e in extensions if e.status == "approved")
    for lo, hi in _counted(start, limit.unit, calendar, pauses):
        span = (hi - lo).total_seconds()
        if left <= span:
            return (lo + timedelta(seconds=left)).astimezone(start.tzinfo)
        left -= span
    return None  # stopped by an open pause (or a calendar with no working day for years)


def is_overdue(start: datetime, limit: Limit, calendar: Calendar, *, now: datetime,
               done_at: datetime | None = None, extensions: Iterable[Extension] = (),
               pauses: Iterable[Pause] = ()) -> bool:
    """True when the step was done after its due time, or is not done and ``now`` is past it."""
    due = due_at(start, limit, calendar, extensions=extensions, pauses=pauses)
    if due is None:
        return False
    return (done_at if done_at is not None else now) > due


# -- limits per step, category and level ----------------------------------------------------

# (step, category or None, level or None) -> Limit; the most specific key wins.
LimitTable = Mapping[tuple[str, str | None, str | None], Limit]

DEFAULT_LIMITS: dict[tuple[str, str | None, str | None], Limit] = {
    ("accept", None, None): Limit(4, "hours"),
    ("dispatch", None, None): Limit(8, "hours"),
    ("acknowledge", None, None): Limit(1, "working_days"),   # 部门报到
    ("handle", None, None): Limit(5, "working_days"),        # 部门办结
    # 3必到: disputes and safety hazards are attended at once
    ("accept", "dispute", None): Limit(0.5, "hours"),
    ("accept", "safety_hazard", None): Limit(0.5, "hours"),
    ("acknowledge", "dispute", None): Limit(2, "hours"),
    ("acknowledge", "safety_hazard", None): Limit(2, "hours"),
    ("handle", "dispute", None): Limit(1, "working_days"),
    ("handle", "safety_hazard", None): Limit(1, "working_days"),
}


def limit_for(step: str, category: str, level: str | None = None,
              table: LimitTable = DEFAULT_LIMITS) -> Limit:
    """The limit of ``step`` for ``category`` at ``level``: category × level, then category,
    then level, then the step's default."""
    if step not in STEPS:
        raise InputError(f"unknown step {step!r} (one of {', '.join(STEPS)})", field="step")
    for key in ((step, category, level), (step, category, None), (step, None, level),
                (step, None, None)):
        if key in table:
            return table[key]
    raise InputError(f"no time limit for step {step!r}", field="step")


# -- holiday calendars from CSV -------------------------------------------------------------

def read_calendars(source, *, county: str | None = None, file: str | None = None,
                   tz: tzinfo = CHINA) -> dict[str, Calendar]:
    """Holiday calendars per county from a CSV with ``date`` (YYYY-MM-DD) and ``kind``
    (``holiday`` or ``workday``), and ``county`` (6 or 12 digits) unless ``county`` is given;
    ``name`` is optional (国庆节). Refuses the whole file on any bad row, naming each."""
    name, rows = read_rows(source, required=["date", "kind"], optional=["county", "name"],
                           file=file)
    days: dict[str, dict[date, str]] = {}
    problems: list[RowProblem] = []
    for number, row in rows:
        try:
            code = _county(row.get("county") or county)
            day = _date(row["date"])
            kind = row["kind"].lower()
            if kind not in DAY_KINDS:
                raise InputError(f"kind must be one of {', '.join(DAY_KINDS)}, not "
                                 f"{row['kind']!r}", field="kind")
            seen = days.setdefault(code, {})
            if day in seen:
                raise InputError(f"{day} is listed twice for county {code}", field="date")
            seen[day] = kind
        except InputError as err:
            problems.append(RowProblem(number, err.field, err.problem.reason, name))
    raise_if_any(problems, name)
    return {code: Calendar(holidays={d for d, k in seen.items() if k == "holiday"},
                           workdays={d for d, k in seen.items() if k == "workday"}, tz=tz)
            for code, seen in days.items()}


def _county(code: str | None) -> str:
    code = (code or "").strip()
    if not code:
        raise InputError("no county: add a county column or name the county", field="county")
    if not code.isdigit() or len(code) not in (6, 12) or (len(code) == 12
                                                            and code[6:] != "000000"):
        raise InputError(f"county must be a 6-digit code (or 12 ending in 000000), not {code!r}",
                         field="county")
    return code[:6]


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"date must be YYYY-MM-DD, not {text!r}", field="date") from None
