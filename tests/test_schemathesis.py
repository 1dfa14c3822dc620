"""Schemathesis over the whole OpenAPI schema, authenticated as an admin, against the
real PostGIS with the role-matrix district loaded (so generated ids sometimes exist):
a bounded number of generated requests per operation (CI budget), and for every
response: no 5xx, and the body matches the schema the service publishes.

Every operation is exercised even after another fails; the failures are reported
together. Generation is derandomised so a failure reproduces."""

from __future__ import annotations

import os
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from roles_fixtures import insert_district

EXAMPLES = int(os.environ.get("GRIDGIS_SCHEMATHESIS_EXAMPLES", "12"))
BUDGET_S = 75.0  # the whole file must stay under 90 s in CI
CHECKS = [not_a_server_error, response_schema_conformance]


@pytest.fixture
def app(db, settings):
    from api.app import create_app

    insert_district(db)
    return create_app(settings, engine=db)


def _run_operation(operation, headers: dict, examples: int) -> str | None:
    """Run ``examples`` generated cases; the first failure's message, or None."""
    failure: list[str] = []

    @given(case=operation.as_strategy())
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    def run(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    try:
        run()
    except Exception as exc:  # noqa: BLE001 - reported with the operation's name
        failure.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:1500]}")
    return failure[0] if failure else None


def test_every_operation_answers_without_5xx_and_within_its_schema(app, admin_headers):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30  # the whole service, not an empty schema
    failures, started = [], time.monotonic()
    for i, operation in enumerate(operations):
        left = BUDGET_S - (time.monotonic() - started)
        # spread what is left over the remaining operations; never fewer than 2 cases
        examples = max(2, min(EXAMPLES, int(left / max(1, len(operations) - i) / 0.25)))
        problem = _run_operation(operation, admin_headers, examples)
        if problem:
            failures.append(problem)
    assert not failures, "\n\n".join(failures)
