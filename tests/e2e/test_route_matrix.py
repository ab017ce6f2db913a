"""Matrices over every public route, read from the gateway's own OpenAPI document:

- scopes: a key holding every scope but the one a route needs gets 403, and a key of
  another tenant never reads a single byte of this tenant's data through any GET route;
- credentials: no key is 401 everywhere;
- isolation of writes: another tenant's writes aimed at this tenant's ids never change
  this tenant's books.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from gateway.domain.keys import ALL_SCOPES
from huikuan_dev.stack import Stack
from tests.conftest import Tenant
from tests.support import Api, query

pytestmark = pytest.mark.e2e

IDS = {
    "customer_id": "C-ISO",
    "invoice_id": "I-ISO",
    "payment_id": "P-ISO",
    "dispute_id": "D-ISO",
    "policy_id": "standard",
    "task_id": "T-ISO",
    "period": "2026-11",
    "owner": "li",
}
SECRET = "Secret Trading 机密"
HOOK_SECRET = "iso-webhook-secret-0123456789"


def _routes(stack: Stack) -> list[tuple[str, str, str]]:
    """(method, path, required scope) of every scoped public route."""
    document = httpx.get(f"{stack.gateway_url}/v1/openapi.json").json()
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            scope = operation.get("x-required-scope")
            if scope:
                found.append((method.upper(), path, scope))
    assert len(found) > 20, "the document should list the public routes with their scopes"
    return found


def _fill(path: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: IDS.get(m.group(1), "X-1"), path)


def _book(api: Api) -> None:
    assert api.put_customer("C-ISO", name=SECRET, owner="li").status_code == 201
    assert api.post_invoice("I-ISO", "C-ISO", amount="100.00").status_code == 201
    paid = api.http.post(
        "/payments",
        json={
            "payment_id": "P-ISO",
            "customer_id": "C-ISO",
            "currency": "CNY",
            "amount": "40.00",
            "received_on": "2026-11-10",
            "method": "cash",
        },
    )
    assert paid.status_code == 201, paid.text
    boss = api.http.put("/collectors/boss", json={"name": SECRET})
    assert boss.status_code == 201, boss.text
    li = api.http.put("/collectors/li", json={"name": SECRET, "manager": "boss"})
    assert li.status_code == 201, li.text
    settings = api.http.put(
        "/dunning/settings",
        json={
            "webhook_url": "https://hooks.example.com/iso",
            "webhook_secret": HOOK_SECRET,
            "send_window_start": "08:00",
        },
    )
    assert settings.status_code == 200, settings.text
    shown = api.http.get("/dunning/settings")
    assert shown.json()["webhook_secret_set"] is True and HOOK_SECRET not in shown.text


def _footprint(stack: Stack, tenant: str) -> list[Any]:
    url = stack.env["DATABASE_URL"]
    return [
        query(url, "SELECT count(*) AS n FROM ledger.journal_entry WHERE tenant = $1", tenant),
        query(url, "SELECT name, owner FROM ledger.customer WHERE tenant = $1", tenant),
        query(
            url,
            """SELECT invoice_id, residual_minor, voided_on, written_off_on
                      FROM ledger.invoice WHERE tenant = $1""",
            tenant,
        ),
        query(
            url,
            "SELECT payment_id, unapplied_minor, reversed_on FROM ledger.payment WHERE tenant = $1",
            tenant,
        ),
        query(
            url,
            """SELECT collector_id, name, manager FROM reminders.collector WHERE tenant = $1
               ORDER BY collector_id""",
            tenant,
        ),
        query(
            url,
            """SELECT webhook_url, webhook_secret, send_window_start
               FROM reminders.channel_settings WHERE tenant = $1""",
            tenant,
        ),
    ]


def test_scopes_are_enforced_on_every_route(stack: Stack, tenant: Tenant) -> None:
    routes = _routes(stack)
    anonymous = httpx.Client(base_url=stack.gateway_url)
    for method, path, scope in routes:
        missing = anonymous.request(method, _fill(path), json={})
        assert missing.status_code == 401, (method, path, missing.status_code)
        others: list[str] = [s for s in ALL_SCOPES if s != scope]
        key = stack.create_tenant_key(tenant.id, f"all but {scope}", scopes=others)
        response = httpx.request(
            method,
            f"{stack.gateway_url}{_fill(path)}",
            json={},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 403, (method, path, scope, response.status_code)
        assert scope in response.json()["detail"]


def test_no_route_shows_or_changes_another_tenants_books(stack: Stack, tenant: Tenant) -> None:
    _book(tenant.api)
    before = _footprint(stack, tenant.id)
    intruder = Api(stack.gateway_url, stack.create_tenant_key(f"{tenant.id}-x", "Intruder"))
    for method, path, _scope in _routes(stack):
        url = _fill(path)
        if method == "GET":
            response = intruder.http.get(url)
            assert response.status_code in (200, 404, 422), (path, response.status_code)
            assert SECRET not in response.text, f"GET {path} showed another tenant's data"
            if response.status_code == 200 and "{" not in path:  # lists and reports
                assert "C-ISO" not in response.text, f"GET {path} listed another tenant's data"
        else:
            response = intruder.http.request(method, url, json={})
            assert response.status_code < 500, (method, path, response.status_code)
    # Well-formed writes aimed at our ids act on the intruder's own (empty) books.
    for url, body in [
        ("/invoices/I-ISO/void", {"voided_on": "2026-11-20", "reason": "x"}),
        (
            "/invoices/I-ISO/credit-notes",
            {
                "credit_note_id": "CN-X",
                "currency": "CNY",
                "amount": "1.00",
                "reason": "rebate",
                "issued_on": "2026-11-20",
            },
        ),
        (
            "/invoices/I-ISO/write-off",
            {"reason": "x", "approver": "x", "written_off_on": "2026-11-20"},
        ),
        ("/payments/P-ISO/reverse", {"reversed_on": "2026-11-20", "reason": "x"}),
        ("/payments/P-ISO/allocations", {"currency": "CNY"}),
    ]:
        response = intruder.http.post(url, json=body)
        assert response.status_code == 404, (url, response.status_code, response.text)
    assert _footprint(stack, tenant.id) == before
