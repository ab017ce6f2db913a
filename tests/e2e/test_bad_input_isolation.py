"""One tenant's bad input is that tenant's 422, not everyone's outage: a run of credit limits
with more decimals than their currency has is refused with problem+json and nothing is
written, and meanwhile another tenant's credit checks and credit reads are still answered
(they once opened the gateway's circuit breaker to credit for every tenant)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from huikuan_dev.stack import Stack
from tests.conftest import Tenant
from tests.support import Api, eventually, query

pytestmark = pytest.mark.e2e

BAD_LIMIT = {"currency": "USD", "limit": "100.005", "reason": "trusted", "set_by": "cfo"}


def _known_to_credit(api: Api) -> dict[str, Any]:
    """Put customer C-1 and wait until credit has scored it."""
    assert api.put_customer("C-1", currency="USD").status_code == 201

    def scored() -> dict[str, Any] | None:
        r = api.get("/customers/C-1/credit")
        body: dict[str, Any] = r.json()
        return body if r.status_code == 200 else None

    return eventually(scored, what="credit has scored C-1")


def test_a_tenants_bad_limits_are_its_422s_and_other_tenants_keep_credit(
    stack: Stack, tenant: Tenant
) -> None:
    other_id = f"t-{secrets.token_hex(4)}"
    other = Api(stack.gateway_url, stack.create_tenant_key(other_id, f"Tenant {other_id}"))
    _known_to_credit(tenant.api)
    _known_to_credit(other)

    refused = [
        tenant.api.http.put("/customers/C-1/credit/limit", json=BAD_LIMIT) for _ in range(10)
    ]
    check = other.http.post(
        "/credit-checks",
        json={"customer_id": "C-1", "order_id": "SO-1", "currency": "USD", "amount": "10.00"},
    )
    read = other.get("/customers/C-1/credit")

    assert check.status_code == 200, check.text
    assert check.json()["decision"] in ("approve", "review", "reject")
    assert read.status_code == 200, read.text
    assert read.json()["customer_id"] == "C-1"
    for r in refused:
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "USD allows at most 2" in r.json()["detail"], r.text
        assert [e["field"] for e in r.json()["errors"]] == ["limit"], r.text
    manual = query(
        stack.env["DATABASE_URL"],
        "SELECT * FROM credit.credit_limit WHERE tenant = $1 AND manual_minor IS NOT NULL",
        tenant.id,
    )
    assert manual == []
    after = tenant.api.get("/customers/C-1/credit").json()
    assert all(line["limit_source"] != "manual" for line in after["exposure"]), after
