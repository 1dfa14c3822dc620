"""Routing (集中受理、统一分流): which department owns an incident, by category and place.

Pure: no database. A rule says "(category, optional subcategory) in this admin area goes to
this department". For an incident, the rules whose category matches, whose subcategory is
empty or matches, and whose area contains the incident's place (its community or grid code
starts with the area's code prefix) compete:

1. the most specific area wins (the longest code prefix: community, then township, then
   county), so a township may take over a category for itself;
2. within one area, a rule naming the subcategory beats the category-only rule.

Admin codes are the 12-digit statistical codes; a county is ``XXXXXX000000`` (prefix 6
digits), a township ``XXXXXXXXX000`` (9), a community all 12.

Examples
--------
>>> rules = [Rule("public_facility", None, "430199000000", "chengguan"),
...          Rule("public_facility", "streetlight", "430199000000", "power"),
...          Rule("public_facility", None, "430199101000", "town101")]
>>> resolve(rules, "public_facility", "streetlight", "430199001002").department_code
'power'
>>> resolve(rules, "public_facility", "streetlight", "430199101002").department_code
'town101'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from gis.csv_tables import raise_if_any, read_rows
from gis.errors import Conflict, InputError, RowProblem
from gis.incidents import validate_category

_DEPARTMENT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


def area_prefix(code: str) -> str:
    """The significant digits of a 12-digit admin code: 6, 9 or 12.

    >>> area_prefix("430199000000"), area_prefix("430199101000"), area_prefix("430199101002")
    ('430199', '430199101', '430199101002')
    """
    code = check_area_code(code)
    if code.endswith("000000"):
        return code[:6]
    if code.endswith("000"):
        return code[:9]
    return code


def check_area_code(code, field: str = "area_code") -> str:
    text = str(code or "").strip()
    if not (len(text) == 12 and text.isdigit()) or text.startswith("000000"):
        raise InputError(f"{field} must be a 12-digit admin code, not {code!r}", field=field)
    return text


def check_department_code(code, field: str = "department_code") -> str:
    text = str(code or "").strip()
    if not _DEPARTMENT_CODE.match(text):
        raise InputError(f"{field} must be 1-32 letters, digits, '_', '.' or '-' starting "
                         f"with a letter or digit, not {code!r}", field=field)
    return text


@dataclass(frozen=True)
class Rule:
    """(category, subcategory or None) × area → department."""

    category: str
    subcategory: str | None
    area_code: str
    department_code: str

    @classmethod
    def checked(cls, category, subcategory, area_code, department_code) -> Rule:
        """A rule with every field validated (errors name the field)."""
        cat, sub = validate_category(category, subcategory)
        return cls(cat, sub, check_area_code(area_code), check_department_code(department_code))

    @property
    def key(self) -> tuple[str, str | None, str]:
        """Two rules with the same key would route the same incidents: one key, one rule."""
        return self.category, self.subcategory, self.area_code

    def matches(self, category: str, subcategory: str | None, place_code: str) -> bool:
        return (self.category == category
                and (self.subcategory is None or self.subcategory == subcategory)
                and place_code.startswith(area_prefix(self.area_code)))

    def specificity(self) -> tuple[int, int]:
        return len(area_prefix(self.area_code)), int(self.subcategory is not None)


def resolve(rules: Iterable[Rule], category: str, subcategory: str | None,
            place_code: str) -> Rule | None:
    """The rule that routes an incident of ``category``/``subcategory`` at ``place_code``
    (its community or grid code), or None when no rule covers it (the grid's own staff).

    Raises :class:`~gis.errors.Conflict` when two equally specific rules disagree.
    """
    matching = [r for r in rules if r.matches(category, subcategory, place_code or "")]
    if not matching:
        return None
    best = max(r.specificity() for r in matching)
    winners = {r.department_code: r for r in matching if r.specificity() == best}
    if len(winners) > 1:
        raise Conflict(f"rules disagree for {category}/{subcategory or '*'} at {place_code}: "
                       f"{', '.join(sorted(winners))}")
    return next(iter(winners.values()))


def duplicate_keys(rules: Iterable[Rule]) -> list[tuple[Rule, Rule]]:
    """Pairs of rules with the same key (the later one would silently lose)."""
    seen: dict[tuple, Rule] = {}
    pairs = []
    for rule in rules:
        if rule.key in seen:
            pairs.append((seen[rule.key], rule))
        else:
            seen[rule.key] = rule
    return pairs


def read_rules(source, *, departments: Iterable[str] | None = None,
               file: str | None = None, with_rows: bool = False) -> list:
    """Routing rules from a CSV with ``category``, ``subcategory`` (may be empty),
    ``area_code`` and ``department_code``. With ``departments`` given, a rule naming an
    unknown department is a bad row. Refuses the whole file on any bad row, naming each.
    ``with_rows``: ``(row number, rule)`` pairs, for checks made later against the store."""
    name, rows = read_rows(source, required=["category", "area_code", "department_code"],
                           optional=["subcategory"], file=file)
    known = set(departments) if departments is not None else None

    def check(row) -> Rule:
        rule = Rule.checked(row["category"], row.get("subcategory"), row["area_code"],
                            row["department_code"])
        if known is not None and rule.department_code not in known:
            raise InputError(f"unknown department {rule.department_code!r}",
                             field="department_code")
        return rule

    def clash(rule: Rule, first: int) -> InputError:
        return InputError(f"the same category, subcategory and area as row {first}",
                          field="area_code")

    rules = _checked_rows(name, rows, check, lambda r: r.key, clash)
    return rules if with_rows else [r for _, r in rules]


def _checked_rows(name: str, rows, check, key, clash) -> list[tuple[int, object]]:
    """``(row number, check(row))`` for every row, a repeated ``key`` refused as
    ``clash(item, first row number)``; every bad row is gathered and the whole file
    refused at once (:func:`raise_if_any`), so nothing half-read is returned."""
    out, problems, first_row = [], [], {}
    for number, row in rows:
        try:
            item = check(row)
            if key(item) in first_row:
                raise clash(item, first_row[key(item)])
            first_row[key(item)] = number
            out.append((number, item))
        except InputError as err:
            problems.append(RowProblem(number, err.field, err.problem.reason, name))
    raise_if_any(problems, name)
    return out


@dataclass(frozen=True)
class Department:
    """A functional department (职能部门) serving one admin area (county or township)."""

    code: str
    name: str
    area_code: str
    contact: str | None = None
    phone: str | None = None
    email: str | None = None  # where its notices are mailed (when SMTP is configured)

    @classmethod
    def checked(cls, code, name, area_code, contact=None, phone=None,
                email=None) -> Department:
        name = str(name or "").strip()
        if not name or len(name) > 100:
            raise InputError("name must be 1-100 characters", field="name")
        area = check_area_code(area_code)
        if len(area_prefix(area)) == 12:
            raise InputError("a department serves a county or a township, not a community "
                             f"({area})", field="area_code")
        return cls(check_department_code(code, "code"), name, area,
                   str(contact or "").strip() or None, str(phone or "").strip() or None,
                   check_email(email))


# one address, no display name: what an SMTP server takes in RCPT TO
EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*")


def check_email(value) -> str | None:
    """An e-mail address (``name@host``, at most 254 characters), or None when empty."""
    text = str(value or "").strip()
    if not text:
        return None
    if len(text) > 254 or not EMAIL.fullmatch(text):
        raise InputError(f"not an e-mail address: {text[:60]!r} (expected name@host)",
                         field="email")
    return text


def read_departments(source, *, file: str | None = None, with_rows: bool = False) -> list:
    """Departments from a CSV with ``code``, ``name``, ``area_code`` and optional
    ``contact``, ``phone`` and ``email``. Refuses the whole file on any bad row, naming each.
    ``with_rows``: ``(row number, department)`` pairs."""
    name, rows = read_rows(source, required=["code", "name", "area_code"],
                           optional=["contact", "phone", "email"], file=file)
    out = _checked_rows(
        name, rows,
        lambda row: Department.checked(row["code"], row["name"], row["area_code"],
                                       row.get("contact"), row.get("phone"),
                                       row.get("email")),
        lambda dept: dept.code,
        lambda dept, first: InputError(f"code {dept.code!r} already on row {first}",
                                       field="code"))
    return out if with_rows else [d for _, d in out]
