"""Nothing a test does reaches outside this machine: the session's stack (like every stack
`tests/support.start_stack` starts) runs with `HUIKUAN_OUTBOUND_ALLOW=127.0.0.0/8,::1/128`,
so a webhook subscription or a tenant's channel URL naming a public address — which the
public-address guard accepts, as it does in production — is never connected to: each
attempt fails with the confinement's refusal, recorded where the API shows it.

The refusal is the proof that no connection was attempted: the check runs before the
connection and the attempt ends there (a connection that failed would be recorded as the
HTTP client's error, e.g. `ConnectError: ...`, and an answer as a status code).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from huikuan_dev.stack import Stack
from huikuan_runtime.addresses import LOOPBACK
from tests.conftest import Tenant
from tests.support import eventually

pytestmark = pytest.mark.e2e

# Public addresses the unconfined guard lets through (not documentation ranges).
OUTSIDE_WEBHOOK = "1.1.1.1"
OUTSIDE_SMS = "8.8.8.8"
DUE = date(2026, 4, 1)


def _refused(address: str) -> str:
    allowed = f"HUIKUAN_OUTBOUND_ALLOW={LOOPBACK}"
    return f"the address {address} is outside the outbound allow-list ({allowed})"


def test_the_session_stack_is_confined_to_this_machine(stack: Stack) -> None:
    assert stack.env["HUIKUAN_OUTBOUND_ALLOW"] == LOOPBACK


def test_a_webhook_to_an_outside_address_is_never_attempted(tenant: Tenant) -> None:
    api = tenant.api
    created = api.http.post(
        "/webhooks",
        json={
            "url": f"http://{OUTSIDE_WEBHOOK}/hook",
            "event_types": ["ledger.customer_upserted.v1"],
        },
    )
    # Accepted as in production: a public address, and the confinement is not an API rule.
    assert created.status_code == 201, created.text
    webhook_id = created.json()["webhook_id"]
    assert api.put_customer("C-1").status_code == 201

    def attempted() -> list[dict[str, Any]] | None:
        r = api.get(f"/webhooks/{webhook_id}/deliveries")
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        return items if items and items[0]["attempts"] >= 1 else None

    [delivery] = eventually(attempted, what="the dispatcher attempted the delivery")
    assert delivery["event_type"] == "ledger.customer_upserted.v1"
    assert delivery["state"] == "pending"  # retried like any failure, and refused again
    assert delivery["last_status_code"] is None and delivery["delivered_at"] is None
    assert delivery["last_error"] == _refused(OUTSIDE_WEBHOOK)


def test_a_tenants_channels_to_outside_addresses_are_never_attempted(tenant: Tenant) -> None:
    api = tenant.api
    own = api.http.put(
        "/dunning/settings",
        json={
            "webhook_url": f"http://{OUTSIDE_WEBHOOK}/reminders",
            "webhook_secret": "confined-webhook-secret",
            "sms_url": f"http://{OUTSIDE_SMS}/send",
        },
    )
    assert own.status_code == 200, own.text
    assert api.put_customer("C-1", phone="+86 138 0000 0000", language="en").status_code == 201
    r = api.post_invoice("INV-1", "C-1", "500.00", issue_date="2026-03-02", due_date=str(DUE))
    assert r.status_code == 201, r.text
    eventually(
        lambda: api.get("/customers/C-1/dunning").json().get("open_invoice_count") == 1,
        what="reminders saw the invoice",
    )
    policy = api.http.put(
        "/dunning/policies/outside",
        json={
            "steps": [
                {
                    "name": "overdue_notice",
                    "offset_days": 1,
                    "channels": ["webhook", "sms"],
                    "template": "overdue_notice",
                }
            ]
        },
    )
    assert policy.status_code == 200, policy.text
    pinned = api.http.put("/customers/C-1/dunning/policy", json={"policy_id": "outside"})
    assert pinned.status_code == 200, pinned.text

    # The run records the reminders and attempts them at once (in the reminders process).
    ran = api.http.post("/dunning/runs", json={"as_of": str(DUE + timedelta(days=1))})
    assert ran.status_code == 200, ran.text
    assert (ran.json()["reminders_recorded"], ran.json()["sent"]) == (2, 0), ran.text
    items = api.get("/reminders?customer_id=C-1").json()["items"]
    by_channel = {item["channel"]: item for item in items}
    assert sorted(by_channel) == ["sms", "webhook"]
    for channel, address in (("webhook", OUTSIDE_WEBHOOK), ("sms", OUTSIDE_SMS)):
        reminder = by_channel[channel]
        refusal = f"{channel}: {_refused(address)}"
        assert (reminder["status"], reminder["sent_at"]) == ("pending", None), reminder
        assert reminder["last_error"] == refusal
        assert [(d["ok"], d["error"]) for d in reminder["deliveries"]] == [(False, refusal)]
