"""Rate limits per API key and scope: a gateway with a tiny bucket answers 429 with
Retry-After once the bucket is spent, per key."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from huikuan_dev.stack import Stack
from tests.conftest import Tenant
from tests.support import extra_gateway

pytestmark = pytest.mark.e2e


@pytest.fixture
def strict_gateway(stack: Stack) -> Iterator[str]:
    """A second gateway process on the same services with 3 calls per key, refilled hourly."""
    with extra_gateway(stack, rate_per_second="0.0003", burst="3") as url:
        yield url


def test_a_spent_bucket_is_a_429_with_retry_after(
    stack: Stack, tenant: Tenant, strict_gateway: str
) -> None:
    headers = {"Authorization": f"Bearer {tenant.key}"}
    answers = [httpx.get(f"{strict_gateway}/v1/customers/C-1", headers=headers) for _ in range(4)]
    assert [a.status_code for a in answers] == [404, 404, 404, 429]
    limited = answers[-1]
    assert limited.headers["content-type"].startswith("application/problem+json")
    assert int(limited.headers["retry-after"]) >= 1
    assert "ledger:read" in limited.json()["detail"]
    # Another scope has its own bucket; another key too.
    assert (
        httpx.put(
            f"{strict_gateway}/v1/customers/C-1",
            headers=headers,
            json={"name": "x", "currency": "CNY"},
        ).status_code
        == 201
    )
    other = {"Authorization": f"Bearer {stack.create_tenant_key(tenant.id, 'second key')}"}
    assert httpx.get(f"{strict_gateway}/v1/customers/C-1", headers=other).status_code == 200
