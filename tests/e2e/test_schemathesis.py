"""Property-based tests of the public API from its own OpenAPI document (Schemathesis).

Every operation of `GET /v1/openapi.json` gets a bounded number of generated requests —
valid and invalid ones — sent to a running gateway with an API key that has every scope.
Whatever comes back must not be a 5xx, and its status code, content type and body must be
the ones the document declares for that operation.

The requests go to a gateway process of their own, on the session's services, whose rate
limit is out of reach: the document's 429 is real, but a spent bucket would hide every
other answer. The `/v1/admin` routes are left out: they take the operator key, not an API
key (with this key they would only ever answer 401), and tests/e2e/test_auth.py covers them.

Webhook subscriptions and a tenant's webhook and SMS URLs get generated addresses, public
ones among them: the session's stack, like every test stack, confines outbound connections
to this machine (`HUIKUAN_OUTBOUND_ALLOW`), so deliveries to them are refused before any
connection is attempted.

The schema is only known once the stack runs, so each operation is driven here with
`operation.as_strategy(...)`: Schemathesis 4's own lazy loader (`schemathesis.pytest.
from_fixture`) reads `request.node._nodeid`, which pytest 9 no longer has.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Err
from schemathesis.schemas import APIOperation, BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from huikuan_dev.stack import Stack
from huikuan_runtime.addresses import LOOPBACK
from tests.conftest import Tenant
from tests.support import extra_gateway

pytestmark = pytest.mark.e2e

# Per operation and mode (valid, invalid): about 30 s of requests on two cores. Deeper:
# HUIKUAN_FUZZ_EXAMPLES=200 make test PYTEST_ARGS=tests/e2e/test_schemathesis.py
MAX_EXAMPLES = int(os.environ.get("HUIKUAN_FUZZ_EXAMPLES", "8"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def fuzz_gateway(stack: Stack) -> Iterator[str]:
    """A gateway process of its own on the session's services, with a rate limit no
    generated burst reaches."""
    # The generated webhook and channel URLs are delivered to by the session's dispatcher
    # and reminders: its stack must keep them on this machine.
    assert stack.env.get("HUIKUAN_OUTBOUND_ALLOW") == LOOPBACK
    with extra_gateway(stack, rate_per_second="100000", burst="100000") as url:
        yield url


def _seed(tenant: Tenant) -> None:
    """A little of everything, so list and report calls have rows to answer with."""
    assert tenant.api.put_customer("C-1", owner="li", region="east").status_code == 201
    assert tenant.api.post_invoice("INV-1", "C-1").status_code == 201
    paid = {
        "payment_id": "P-1",
        "customer_id": "C-1",
        "received_on": "2026-11-10",
        "method": "bank_transfer",
        "currency": "CNY",
        "amount": "400.00",
    }
    assert tenant.api.http.post("/payments", json=paid).status_code == 201


@pytest.fixture
def api_schema(fuzz_gateway: str, tenant: Tenant) -> BaseSchema:
    _seed(tenant)
    config = SchemathesisConfig.from_dict(
        {"base-url": fuzz_gateway, "headers": {"Authorization": f"Bearer {tenant.key}"}}
    )
    schema = schemathesis.openapi.from_url(f"{fuzz_gateway}/v1/openapi.json", config=config)
    return schema.exclude(path_regex=r"^/v1/admin/")


def _fuzz(operation: APIOperation[Any, Any, Any, Any], mode: GenerationMode) -> None:
    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Case[Any]) -> None:
        case.call_and_validate(checks=CHECKS)

    run()


def test_the_api_keeps_its_documented_promises(api_schema: BaseSchema) -> None:
    failures: list[str] = []
    operations = 0
    for result in api_schema.get_all_operations():
        if isinstance(result, Err):
            failures.append(f"the document has an invalid operation: {result.err()}")
            continue
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, mode)
            except Unsatisfiable:
                # Nothing to make invalid: an operation without parameters or body.
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{operation.label} ({mode.value}):\n{exc}")
    assert operations > 40, "the document lost its operations"
    assert not failures, "\n\n".join(failures)
