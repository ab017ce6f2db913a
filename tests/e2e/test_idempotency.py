"""`Idempotency-Key` on POST: replayed as first answered, refused for another body, kept
across a gateway restart, and per tenant."""

from __future__ import annotations

import signal

import pytest

from huikuan_dev.stack import Stack
from tests.conftest import Tenant
from tests.support import Api, query

pytestmark = pytest.mark.e2e


def _payment(payment_id: str, amount: str) -> dict[str, str]:
    return {
        "payment_id": payment_id,
        "customer_id": "C-1",
        "currency": "CNY",
        "amount": amount,
        "received_on": "2026-11-01",
        "method": "cash",
    }


def _payments(stack: Stack, tenant: str) -> int:
    rows = query(
        stack.env["DATABASE_URL"],
        "SELECT count(*) AS n FROM ledger.payment WHERE tenant = $1",
        tenant,
    )
    return int(rows[0]["n"])


def test_the_same_key_replays_the_first_answer(stack: Stack, tenant: Tenant) -> None:
    api = tenant.api
    assert api.put_customer("C-1").status_code == 201
    key = {"Idempotency-Key": "pay-001"}
    first = api.http.post("/payments", json=_payment("P-1", "10.00"), headers=key)
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    again = api.http.post("/payments", json=_payment("P-1", "10.00"), headers=key)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert _payments(stack, tenant.id) == 1

    other = api.http.post("/payments", json=_payment("P-2", "10.00"), headers=key)
    assert other.status_code == 422
    assert other.json()["type"].endswith("/idempotency-key-reused")
    assert _payments(stack, tenant.id) == 1

    stranger = Api(stack.gateway_url, stack.create_tenant_key("t-idem", "Another tenant"))
    assert stranger.put_customer("C-1").status_code in (200, 201)
    theirs = stranger.http.post("/payments", json=_payment("P-1", "99.00"), headers=key)
    assert theirs.status_code == 201 and theirs.json()["amount"] == "99.00"


def test_a_refused_request_is_replayed_as_refused(stack: Stack, tenant: Tenant) -> None:
    key = {"Idempotency-Key": "inv-bad"}
    body = {
        "invoice_id": "I-1",
        "customer_id": "C-404",
        "number": "N",
        "currency": "CNY",
        "issue_date": "2026-11-01",
        "amount": "1.00",
    }
    first = tenant.api.http.post("/invoices", json=body, headers=key)
    again = tenant.api.http.post("/invoices", json=body, headers=key)
    assert (first.status_code, again.status_code) == (422, 422)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["content-type"].startswith("application/problem+json")


def test_keys_survive_a_gateway_restart(stack: Stack, tenant: Tenant) -> None:
    api = tenant.api
    assert api.put_customer("C-1").status_code == 201
    key = {"Idempotency-Key": "pay-restart"}
    first = api.http.post("/payments", json=_payment("P-9", "5.00"), headers=key)
    assert first.status_code == 201
    stack.kill("gateway-api", signal.SIGKILL)
    stack.restart("gateway-api")
    stack.wait_ready()
    again = Api(stack.gateway_url, tenant.key).http.post(
        "/payments", json=_payment("P-9", "5.00"), headers=key
    )
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
