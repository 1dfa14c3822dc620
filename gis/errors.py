"""Domain exceptions. The API maps each class to an HTTP status in one table."""

from __future__ import annotations

from dataclasses import dataclass, field


class GridgisError(Exception):
    """Base class: ``str(err)`` is safe to show to a user."""


@dataclass
class RowProblem:
    """One rejected input row: where it is and why."""

    row: int | None
    field: str | None
    reason: str
    file: str | None = None

    def __str__(self) -> str:
        where = [p for p in (self.file, f"row {self.row}" if self.row is not None else None) if p]
        head = ": ".join(where)
        fld = f"field '{self.field}': " if self.field else ""
        return f"{head}: {fld}{self.reason}" if head else f"{fld}{self.reason}"

    def as_dict(self) -> dict:
        return {"file": self.file, "row": self.row, "field": self.field, "reason": self.reason}


class InputError(GridgisError):
    """Bad input: names the file, row and field where known."""

    def __init__(self, reason: str, *, file: str | None = None, row: int | None = None,
                 field: str | None = None):
        self.problem = RowProblem(row=row, field=field, reason=reason, file=file)
        super().__init__(str(self.problem))

    @property
    def field(self) -> str | None:
        return self.problem.field


class InvalidRows(GridgisError):
    """Several rows were rejected; nothing was written."""

    def __init__(self, problems: list[RowProblem], *, file: str | None = None):
        self.problems = problems
        self.file = file
        first = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"{len(problems)} invalid row(s), nothing written: {first}{more}")


class NotFound(GridgisError):
    """The thing asked for does not exist (or is outside the caller's scope)."""


@dataclass
class Conflict(GridgisError):
    """A concurrent change or a transition that the current state does not allow."""

    message: str
    current_version: int | None = None
    allowed: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message


class Forbidden(GridgisError):
    """The caller's role or scope does not allow this."""


class DatabaseUnavailable(GridgisError):
    """PostgreSQL/PostGIS could not be started or reached."""


class NotStored(GridgisError):
    """A change could not be committed (the database refused it at commit for a reason that
    is not a conflict): nothing was stored. The API answers 5xx, the CLI exits non-zero."""
