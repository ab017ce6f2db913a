"""The whole gateway app (its own schema on the real PostgreSQL, API keys, the circuit
breaker) in front of a stand-in credit service that fails one tenant's requests: a
downstream 500 is that request's 502, a 4xx is relayed, and neither opens the breaker, so
another tenant's credit checks and credit reads still work. The breaker trips only when
the service is down (its 503s here)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from aiohttp import web

from gateway.api.app import create_app
from gateway.config import Settings
from gateway.domain.keys import generate_key
from gateway.store import tenants
from huikuan_dev.testing import database_url, migrated_schema
from huikuan_runtime.http import TENANT_HEADER
from huikuan_runtime.migrations import package_migrations
from huikuan_runtime.problems import PROBLEM_CONTENT_TYPE, problem_body

pytestmark = pytest.mark.integration

MIGRATIONS = package_migrations("gateway")
FAILURES = 3  # the breaker's threshold here
CHECK = {"customer_id": "C-1", "order_id": "SO-1", "currency": "CNY", "amount": "10.00"}


class Credit:
    """A stand-in credit service: the tenant "bad" gets `status`, every other tenant 200."""

    def __init__(self) -> None:
        self.status = 500
        self.calls: list[str] = []

    async def answer(self, request: web.Request) -> web.Response:
        tenant = request.headers[TENANT_HEADER]
        self.calls.append(tenant)
        if tenant != "bad":
            body = {"tenant": tenant, "path": request.path, "decision": "approve"}
            return web.json_response(body)
        problem = problem_body(self.status, "internal", "Failed", f"answered {self.status}")
        return web.Response(
            status=self.status, text=json.dumps(problem), content_type=PROBLEM_CONTENT_TYPE
        )


@dataclass
class Gateway:
    credit: Credit
    http: httpx.AsyncClient
    keys: dict[str, str]

    async def check(self, tenant: str) -> httpx.Response:
        return await self.http.post("/v1/credit-checks", json=CHECK, headers=self._auth(tenant))

    async def read(self, tenant: str) -> httpx.Response:
        return await self.http.get("/v1/customers/C-1/credit", headers=self._auth(tenant))

    def _auth(self, tenant: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[tenant]}"}


@pytest.fixture
async def credit_url() -> AsyncIterator[tuple[Credit, str]]:
    credit = Credit()
    app = web.Application()
    app.router.add_route("*", "/{rest:.*}", credit.answer)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield credit, f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def gateway(credit_url: tuple[Credit, str]) -> AsyncIterator[Gateway]:
    url = database_url()
    if url is None:
        pytest.skip("needs DATABASE_URL (make test sets it)")
    credit, base = credit_url
    async with migrated_schema(url, MIGRATIONS, "gateway_it") as schema:
        settings = Settings(
            db_schema=schema,
            credit_url=base,
            breaker_failures=FAILURES,
            breaker_cooldown_seconds=3600,
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            keys: dict[str, str] = {}
            now = datetime.now(UTC)
            async with app.state.pool.acquire() as conn:
                for tenant in ("bad", "good"):
                    key = generate_key(uuid.uuid4())
                    await tenants.insert_tenant(conn, tenant, tenant, now)
                    scopes = ["credit:read", "credit:check"]
                    await tenants.insert_key(conn, tenant, "k", key, scopes, now)
                    keys[tenant] = key.secret
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as http:
                yield Gateway(credit, http, keys)


async def test_downstream_500s_are_502s_and_leave_other_tenants_served(
    gateway: Gateway,
) -> None:
    for _ in range(4 * FAILURES):
        r = await gateway.check("bad")
        assert r.status_code == 502, r.text
        assert r.headers["content-type"].startswith(PROBLEM_CONTENT_TYPE)
        problem = r.json()
        assert problem["type"].endswith("/upstream-failed"), problem
        assert problem["status"] == 502 and "credit" in problem["detail"], problem
        assert problem["instance"] == "/v1/credit-checks"
    assert gateway.credit.calls == ["bad"] * 4 * FAILURES  # every one was asked: no breaker

    checked = await gateway.check("good")
    assert checked.status_code == 200, checked.text
    assert checked.json() == {"tenant": "good", "path": "/credit-checks", "decision": "approve"}
    read = await gateway.read("good")
    assert read.status_code == 200, read.text
    assert read.json()["path"] == "/customers/C-1/credit"


@pytest.mark.parametrize("status", [404, 409, 422])
async def test_downstream_4xx_are_relayed_and_leave_other_tenants_served(
    gateway: Gateway, status: int
) -> None:
    gateway.credit.status = status
    for _ in range(4 * FAILURES):
        r = await gateway.read("bad")
        assert r.status_code == status, r.text
        assert r.json()["detail"] == f"answered {status}"
    assert (await gateway.read("good")).status_code == 200
    assert (await gateway.check("good")).status_code == 200


async def test_downstream_503s_open_the_breaker_for_every_tenant(gateway: Gateway) -> None:
    gateway.credit.status = 503
    for _ in range(FAILURES):
        r = await gateway.check("bad")
        assert r.status_code == 503, r.text
        assert r.json()["type"].endswith("/upstream-unavailable")
    r = await gateway.check("good")
    assert r.status_code == 503, r.text
    assert "circuit open" in r.json()["detail"]
    assert gateway.credit.calls == ["bad"] * FAILURES
