"""Department time limits of one deployment (issue 16 items 4 and 10): how long a department
has to acknowledge (报到) and to handle (办结) a case, per category (optionally one
subcategory) and per area, in hours or working days.

Pure: no database. A rule says "for ``step`` of an incident of this category (and
subcategory) in this admin area, the limit is ``amount`` ``unit``". For an incident, the
rules of the step whose category matches, whose subcategory is empty or matches, and whose
area contains the incident's place (its community or grid code starts with the area's code
prefix) compete as routing rules do (:mod:`gis.routing`):

1. the most specific area wins (community, then township, then county);
2. within one area, a rule naming the subcategory beats the category-only rule.

With no rule the built-in table :data:`gis.clocks.DEFAULT_LIMITS` applies. The limit in
force is fixed on a department's part when it is dispatched or summoned, so editing the
rules later never moves a deadline already set.

Examples
--------
>>> rules = [LimitRule.checked("handle", "environment", None, "430199000000", 3, "working_days"),
...          LimitRule.checked("handle", "environment", "noise", "430199101000", 8, "hours")]
>>> resolve_limit(rules, "handle", "environment", "noise", "430199101002")[0]
Limit(amount=8.0, unit='hours')
>>> resolve_limit(rules, "handle", "environment", "noise", "430199001002")[0]
Limit(amount=3.0, unit='working_days')
>>> resolve_limit(rules, "acknowledge", "environment", None, "430199001002")
(Limit(amount=1, unit='working_days'), None)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gis.clocks import DEFAULT_LIMITS, UNITS, Limit, limit_for
from gis.csv_tables import read_rows
from gis.errors import InputError
from gis.incidents import validate_category
from gis.routing import _checked_rows, area_prefix, check_area_code

STEPS = ("acknowledge", "handle")   # a department's two clocks (报到, 办结)
# The longest limit we accept per unit: a year. Longer is a typing error, not a rule.
MAX_AMOUNT = {"hours": 8760.0, "working_days": 365.0}
CSV_COLUMNS = ("step", "category", "subcategory", "area_code", "amount", "unit")


def check_step(step) -> str:
    text = str(step or "").strip().lower()
    if text not in STEPS:
        raise InputError(f"step must be one of {', '.join(STEPS)}, not {step!r}", field="step")
    return text


def check_limit(amount, unit) -> Limit:
    """A :class:`~gis.clocks.Limit` from text or numbers; errors name ``amount`` or
    ``unit``."""
    unit_text = str(unit or "").strip().lower()
    if unit_text not in UNITS:
        raise InputError(f"unit must be one of {', '.join(UNITS)}, not {unit!r}", field="unit")
    try:
        value = float(amount)
    except (TypeError, ValueError):
        raise InputError(f"amount must be a number, not {amount!r}", field="amount") from None
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"amount must be a positive number, not {amount!r}", field="amount")
    if value > MAX_AMOUNT[unit_text]:
        raise InputError(f"amount must be at most {MAX_AMOUNT[unit_text]:g} {unit_text}, "
                         f"not {value:g}", field="amount")
    return Limit(value, unit_text)


@dataclass(frozen=True)
class LimitRule:
    """(step, category, subcategory or any) × area → a limit."""

    step: str
    category: str
    subcategory: str | None
    area_code: str
    limit: Limit
    id: int | None = None

    @classmethod
    def checked(cls, step, category, subcategory, area_code, amount, unit,
                id: int | None = None) -> LimitRule:
        """A rule with every field validated (errors name the field)."""
        cat, sub = validate_category(category, subcategory)
        return cls(check_step(step), cat, sub, check_area_code(area_code),
                   check_limit(amount, unit), id)

    @property
    def key(self) -> tuple[str, str, str | None, str]:
        """Two rules with the same key would set the same limit: one key, one rule."""
        return self.step, self.category, self.subcategory, self.area_code

    def matches(self, step: str, category: str, subcategory: str | None,
                place_code: str) -> bool:
        return (self.step == step and self.category == category
                and (self.subcategory is None or self.subcategory == subcategory)
                and place_code.startswith(area_prefix(self.area_code)))

    def specificity(self) -> tuple[int, int]:
        return len(area_prefix(self.area_code)), int(self.subcategory is not None)


def resolve_limit(rules: Iterable[LimitRule], step: str, category: str,
                  subcategory: str | None, place_code: str | None,
                  level: str | None = None) -> tuple[Limit, LimitRule | None]:
    """``(limit, rule)`` for ``step`` of an incident at ``place_code``: the most specific
    matching rule, or the built-in default with rule None. Keys are unique, so two equally
    specific rules never match one incident."""
    step = check_step(step)
    matching = [r for r in rules if r.matches(step, category, subcategory, place_code or "")]
    if matching:
        best = max(matching, key=LimitRule.specificity)
        return best.limit, best
    return limit_for(step, category, level, DEFAULT_LIMITS), None


def read_limit_rules(source, *, file: str | None = None,
                     check_area: Callable[[str], None] | None = None
                     ) -> list[tuple[int, LimitRule]]:
    """``(row number, rule)`` from a CSV with ``step``, ``category``, ``subcategory`` (may be
    empty), ``area_code``, ``amount`` and ``unit``. ``check_area`` raises an
    :class:`~gis.errors.InputError` for an area the caller may not use (unknown, outside
    its scope). Refuses the whole file on any bad row or a key given twice, naming every
    row and field at once."""
    name, rows = read_rows(source, required=[c for c in CSV_COLUMNS if c != "subcategory"],
                           optional=["subcategory"], file=file)

    def check(row) -> LimitRule:
        rule = LimitRule.checked(row["step"], row["category"], row.get("subcategory"),
                                 row["area_code"], row["amount"], row["unit"])
        if check_area is not None:
            check_area(rule.area_code)
        return rule

    return _checked_rows(
        name, rows, check,
        lambda rule: rule.key,
        lambda rule, first: InputError(f"the same step, category, subcategory and area as "
                                       f"row {first}", field="area_code"))
