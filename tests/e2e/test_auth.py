"""Credentials: no key, a wrong key, another tenant's key, a key without the scope."""

from __future__ import annotations

import httpx
import pytest

from huikuan_dev.stack import Stack
from tests.conftest import Tenant
from tests.support import Api, query

pytestmark = pytest.mark.e2e


def test_requests_without_a_valid_key_are_refused(stack: Stack, tenant: Tenant) -> None:
    anonymous = Api(stack.gateway_url, None)
    forged = Api(stack.gateway_url, "hk_not-a-real-key")
    for api in (anonymous, forged):
        response = api.put_customer("C-1")
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["www-authenticate"].startswith("Bearer realm=")
    assert (
        query(
            stack.env["DATABASE_URL"], "SELECT 1 FROM ledger.customer WHERE tenant = $1", tenant.id
        )
        == []
    )


def test_another_tenants_key_sees_nothing(stack: Stack, tenant: Tenant) -> None:
    assert tenant.api.put_customer("C-1").status_code == 201
    assert tenant.api.post_invoice("INV-1", "C-1").status_code == 201
    other = Api(stack.gateway_url, stack.create_tenant_key("t-other", "Other tenant"))

    for path in ("/customers/C-1", "/invoices/INV-1", "/customers/C-1/summary"):
        response = other.get(path)
        assert response.status_code == 404, path
    # The other tenant's invoice with the same id is its own, not a conflict with ours.
    assert other.post_invoice("INV-1", "C-1").status_code == 422  # no such customer for it
    assert tenant.api.get("/invoices/INV-1").status_code == 200


def test_a_key_without_the_scope_is_forbidden(stack: Stack, tenant: Tenant) -> None:
    reader = Api(
        stack.gateway_url, stack.create_tenant_key(tenant.id, tenant.id, scopes=["ledger:read"])
    )
    response = reader.put_customer("C-9")
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert "ledger:write" in response.json()["detail"]
    assert reader.get("/customers/C-9").status_code == 404  # reading is allowed; nothing there


def test_a_revoked_key_stops_working(stack: Stack, tenant: Tenant) -> None:
    operator = Api(stack.gateway_url, stack.operator_key)
    created = operator.http.post("/admin/api-keys", json={"tenant_id": tenant.id})
    assert created.status_code == 201
    key = created.json()
    assert Api(stack.gateway_url, key["key"]).put_customer("C-5").status_code == 201
    assert operator.http.delete(f"/admin/api-keys/{key['key_id']}").status_code == 204
    assert Api(stack.gateway_url, key["key"]).put_customer("C-5").status_code == 401


def test_admin_calls_need_the_operator_key(stack: Stack, tenant: Tenant) -> None:
    response = tenant.api.http.post("/admin/tenants", json={"tenant_id": "x", "name": "x"})
    assert response.status_code == 401


def test_services_refuse_calls_without_the_internal_credential(stack: Stack) -> None:
    paths = {
        "ledger": "/customers/C-1",
        "credit": "/customers/C-1/credit",
        "reminders": "/customers/C-1/dunning",
    }
    for service, path in paths.items():
        url = f"http://127.0.0.1:{stack.ports[service]}{path}"
        for headers in ({"X-Tenant-ID": "t"}, {"X-Tenant-ID": "t", "X-Internal-Token": "guess"}):
            response = httpx.get(url, headers=headers)
            assert response.status_code == 401, (service, headers, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")


def _suspended(response: httpx.Response, tenant_id: str) -> bool:
    if response.status_code != 403:
        return False
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith("/tenant-suspended"), problem
    assert "suspended" in problem["detail"] and problem["tenant_id"] == tenant_id
    return True


def test_a_suspended_tenants_keys_are_refused_until_it_is_active_again(
    stack: Stack, tenant: Tenant
) -> None:
    operator = Api(stack.gateway_url, stack.operator_key)
    assert tenant.api.put_customer("C-S").status_code == 201
    suspended = operator.http.patch(f"/admin/tenants/{tenant.id}", json={"active": False})
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["active"] is False and suspended.json()["suspended_at"]
    # Refused at once by the gateway that suspended it (its key cache is dropped there),
    # reads and writes alike; nothing is written.
    assert _suspended(tenant.api.get("/customers/C-S"), tenant.id)
    assert _suspended(tenant.api.put_customer("C-T"), tenant.id)
    assert _suspended(
        tenant.api.http.post("/webhooks", json={"url": "https://e.example/"}), tenant.id
    )
    # A key created while it is suspended is refused too; other tenants are untouched.
    late = stack.create_tenant_key(tenant.id, tenant.id)
    assert _suspended(Api(stack.gateway_url, late).get("/customers/C-S"), tenant.id)
    other = Api(stack.gateway_url, stack.create_tenant_key("t-other", "Other tenant"))
    assert other.get("/customers/C-S").status_code == 404
    # Suspending twice changes nothing; the first instant stays.
    again = operator.http.patch(f"/admin/tenants/{tenant.id}", json={"active": False})
    assert again.json()["suspended_at"] == suspended.json()["suspended_at"]
    active = operator.http.patch(f"/admin/tenants/{tenant.id}", json={"active": True})
    assert active.status_code == 200
    assert active.json()["active"] is True and active.json()["suspended_at"] is None
    assert tenant.api.get("/customers/C-S").status_code == 200
    assert tenant.api.put_customer("C-T").status_code == 201
    rows = query(
        stack.env["DATABASE_URL"],
        "SELECT customer_id FROM ledger.customer WHERE tenant = $1 ORDER BY 1",
        tenant.id,
    )
    assert [r["customer_id"] for r in rows] == ["C-S", "C-T"]


def test_only_the_operator_suspends_and_only_known_tenants(stack: Stack, tenant: Tenant) -> None:
    operator = Api(stack.gateway_url, stack.operator_key)
    by_tenant = tenant.api.http.patch(f"/admin/tenants/{tenant.id}", json={"active": False})
    assert by_tenant.status_code == 401
    assert tenant.api.get("/customers/C-NONE").status_code == 404  # still active
    missing = operator.http.patch("/admin/tenants/t-nobody-here", json={"active": False})
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    bad_bodies: list[object] = [{}, {"active": "maybe"}, []]
    for bad in bad_bodies:
        refused = operator.http.patch(f"/admin/tenants/{tenant.id}", json=bad)
        assert refused.status_code == 422, (bad, refused.text)
    assert tenant.api.get("/customers/C-NONE").status_code == 404
