"""Rate limits per API key and scope: a gateway with a tiny bucket answers 429 with
Retry-After once the bucket is spent, per key."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from huikuan_runtime.stack import Stack, free_port
from tests.conftest import Tenant
from tests.support import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture
def strict_gateway(stack: Stack) -> Iterator[str]:
    """A second gateway process on the same services with 3 calls per key, refilled hourly."""
    port = free_port()
    env = {**stack.env, "GATEWAY_PORT": str(port), "GATEWAY_RATE_PER_SECOND": "0.0003",
           "GATEWAY_RATE_BURST": "3"}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "api"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: _ready(url), timeout=60, what="the strict gateway is ready")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz").status_code == 200
    except httpx.HTTPError:
        return False


def test_a_spent_bucket_is_a_429_with_retry_after(
    stack: Stack, tenant: Tenant, strict_gateway: str
) -> None:
    headers = {"Authorization": f"Bearer {tenant.key}"}
    answers = [httpx.get(f"{strict_gateway}/v1/customers/C-1", headers=headers)
               for _ in range(4)]  # fmt: skip
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
