"""The overdue rule of :mod:`gis.incidents` as SQL, generated from its table of cases
(:data:`gis.incidents.OVERDUE_CASES`) and its time limits, never written again by hand.

:func:`overdue_case` builds the expression over any columns (the ORM model for the list
and the statistics, ``t.``-prefixed text for the served catalogue and the tiles, an
incident "as of" a past instant for the overview and the monthly report);
:func:`overdue_sql` renders it as SQL text for the queries kept in .sql files or strings.
"""

from __future__ import annotations

from itertools import groupby
from types import SimpleNamespace

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, literal_column, or_
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import aggregate_order_by

from gis import incidents as loop
from gis.store.models import Summons

COLUMNS = ("id", "status", "category", "reported_at", "due_at", "closed_at", "has_parts")


def _hours(category, which: int) -> ColumnElement:
    """The category's limit in hours (0: accept, 1: close) as a CASE over ``category``."""
    return case({c: literal(limits[which]) for c, limits in loop.TIME_LIMITS_H.items()},
                value=category, else_=literal(0.0))


def default_due(cols) -> ColumnElement:
    """:func:`gis.incidents.due_at` in SQL: the report time plus the category's limit."""
    return cols.reported_at + _hours(cols.category, 1) * text("interval '1 hour'")


def overdue_case(cols, now) -> ColumnElement:
    """The reason an incident is overdue at ``now``, or NULL: :func:`gis.incidents.overdue`.

    ``cols`` has the attributes of :data:`COLUMNS` (e.g. the ``Incident`` model)."""
    hour = text("interval '1 hour'")
    deadlines = {
        "close": func.coalesce(cols.due_at, default_due(cols)),
        "accept": cols.reported_at + _hours(cols.category, 0) * hour,
    }
    whens = []
    for (part, closed, statuses), rules in groupby(loop.OVERDUE_CASES, key=_group):
        cond = [cols.closed_at.is_not(None) if closed else cols.closed_at.is_(None)]
        if statuses is not None:
            cond.append(cols.status.in_(statuses))
        moment = cols.closed_at if closed else now
        if part:   # consecutive department cases: one look at the parts for all of them
            whens.append(_part_when(cols, list(rules), cond, moment))
            continue
        for rule in rules:
            whens.append((and_(*cond, moment > deadlines[rule.deadline]), literal(rule.reason)))
    return case(*whens)


def _group(rule: loop.OverdueCase) -> tuple:
    return rule.deadline in loop.PART_DEADLINES, rule.closed, rule.statuses


_PART = Summons.__table__.alias("dpart")  # its own name: the outer query may use summons


def _lapsed(deadline: str, moment) -> ColumnElement[bool]:
    """:func:`gis.incidents.lapsed_parts` in SQL: a part that let ``deadline`` lapse at
    ``moment``."""
    due_name, done_name = loop.PART_DEADLINES[deadline]
    due, done = _PART.c[due_name], _PART.c[done_name]
    return and_(_PART.c.summoned_at <= moment, or_(done.is_(None), done > moment),
                moment > due)


def _may_lapse() -> ColumnElement[bool]:
    """The predicate of the partial index ``ix_summons_may_lapse``
    (:func:`gis.store.models.summons_may_lapse_sql`): a part not done, or done after its
    due. Every lapsed part satisfies it (done after ``moment`` after due), so adding it
    changes no answer; written out in the EXISTS, it lets the planner prove the index's
    predicate and probe the small index, index-only, instead of every part."""
    return or_(*[c for due, done in loop.PART_DEADLINES.values()
                 for c in (_PART.c[done].is_(None), _PART.c[done] > _PART.c[due])])


def _part_when(cols, rules, cond, moment):
    """``(condition, reason)`` of consecutive department cases: the incident has a part
    that let one of their deadlines lapse (one index probe per incident); the reason is the
    first case's that holds, ``reason: code, code`` with the codes in byte order (as Python
    sorts them)."""
    lapses = [_lapsed(rule.deadline, moment) for rule in rules]
    mine = and_(_PART.c.incident_id == cols.id, _may_lapse(), or_(*lapses))
    order = aggregate_order_by(literal(loop.PART_SEPARATOR), _PART.c.department_code.collate("C"))
    reason = case(*[(func.bool_or(lapse), literal(f"{rule.reason}: ")
                     + func.string_agg(_PART.c.department_code, order).filter(lapse))
                    for rule, lapse in zip(rules, lapses)])
    # has_parts first: most incidents never had a part, and the flag (never cleared, a
    # part is only deleted with its incident) spares them the probe at any instant
    return (and_(*cond, cols.has_parts, exists(select(literal(1)).where(mine))),
            select(reason).where(mine).scalar_subquery())


def text_columns(prefix: str, **override: str) -> SimpleNamespace:
    """Columns as SQL text (``prefix`` + name, or the given expression)."""
    return SimpleNamespace(**{c: literal_column(override.get(c, f"{prefix}{c}"))
                              for c in COLUMNS})


def default_due_sql(prefix: str = "t.") -> str:
    """:func:`default_due` as SQL text over ``prefix``-ed columns (trusted text)."""
    expr = default_due(text_columns(prefix))
    return f"({expr.compile(dialect=postgresql.dialect(), compile_kwargs={'literal_binds': True})})"


def overdue_sql(prefix: str = "t.", now: str = "now()", **override: str) -> str:
    """:func:`overdue_case` as SQL text over ``prefix``-ed columns at the SQL instant
    ``now`` (``now()`` or a bind parameter such as ``:b``); trusted text, no user input.

    Examples
    --------
    >>> sql = overdue_sql("t.", "now()")
    >>> "'not accepted in time'" in sql and "t.status IN ('reported')" in sql
    True
    """
    expr = overdue_case(text_columns(prefix, **override), literal_column(now))
    compiled = expr.compile(dialect=postgresql.dialect(),
                            compile_kwargs={"literal_binds": True})
    return f"({compiled})"
