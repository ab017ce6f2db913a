"""The ledger through the gateway: batch issue, payments with allocation, credit notes,
write-offs, voids, reversals, balances as of a date — and the events on the topic."""

from __future__ import annotations

from collections import Counter

import pytest

from huikuan_dev.stack import Stack
from huikuan_events.topics import LEDGER_EVENTS
from tests.conftest import Tenant
from tests.support import events_on_topic, eventually

pytestmark = pytest.mark.e2e


def _invoice(invoice_id: str, amount: str, issued: str = "2026-01-10") -> dict[str, str]:
    return {
        "invoice_id": invoice_id,
        "customer_id": "C-1",
        "number": f"N-{invoice_id}",
        "issue_date": issued,
        "currency": "CNY",
        "amount": amount,
    }


def test_a_customers_year_through_the_gateway(stack: Stack, tenant: Tenant) -> None:
    api = tenant.api
    assert api.put_customer("C-1", payment_terms_days=30, owner="li").status_code == 201

    batch = api.http.post(
        "/invoices/batch",
        json={
            "items": [
                _invoice("I-1", "1000.00"),
                _invoice("I-2", "500.00", "2026-02-10"),
                _invoice("I-3", "300.00", "2026-03-10"),
                _invoice("I-4", "200.00", "2026-03-10"),
                _invoice("I-1", "1000.00"),  # the same item again: existing
                {**_invoice("I-5", "1.00"), "customer_id": "C-404"},  # rejected on its own
            ]
        },
    )
    assert batch.status_code == 200, batch.text
    result = batch.json()
    assert (result["created"], result["existing"], result["rejected"]) == (4, 1, 1)
    assert result["items"][5]["problem"]["status"] == 422

    paid = api.http.post(
        "/payments",
        json={
            "payment_id": "P-1",
            "customer_id": "C-1",
            "currency": "CNY",
            "amount": "1200.00",
            "received_on": "2026-02-20",
            "method": "bank_transfer",
            "reference": "B-1",
        },
    )
    assert paid.status_code == 201, paid.text
    assert [(a["invoice_id"], a["amount"], a["days_late"]) for a in paid.json()["allocations"]] == [
        ("I-1", "1000.00", 11),
        ("I-2", "200.00", -20),
    ]

    note = api.http.post(
        "/invoices/I-2/credit-notes",
        json={
            "credit_note_id": "CN-1",
            "currency": "CNY",
            "amount": "50.00",
            "reason": "return",
            "issued_on": "2026-03-01",
        },
    )
    assert note.status_code == 201, note.text
    written = api.http.post(
        "/invoices/I-3/write-off",
        json={"reason": "customer bankrupt", "approver": "cfo", "written_off_on": "2026-09-30"},
    )
    assert written.status_code == 201 and written.json()["amount"] == "300.00"
    voided = api.http.post(
        "/invoices/I-4/void", json={"voided_on": "2026-03-11", "reason": "duplicate"}
    )
    assert voided.json()["status"] == "void"

    detail = api.get("/invoices/I-2?as_of=2026-04-01").json()
    assert (detail["residual"], detail["status"], detail["days_overdue"]) == (
        "250.00",
        "overdue",
        20,
    )
    assert [h["kind"] for h in detail["history"]] == ["invoice", "allocation", "credit_note"]
    assert detail["history"][-1]["owed_after"] == "250.00"

    bounced = api.http.post(
        "/payments/P-1/reverse", json={"reversed_on": "2026-03-05", "reason": "cheque bounced"}
    )
    assert bounced.status_code == 200 and bounced.json()["unapplied"] == "0.00"
    assert api.get("/invoices/I-1").json()["residual"] == "1000.00"

    before = api.get("/customers/C-1/balances?as_of=2026-03-04").json()["balances"][0]
    after = api.get("/customers/C-1/balances?as_of=2026-03-05").json()["balances"][0]
    assert before["open_amount"] == "250.00"  # I-2 only: I-3 and I-4 come on 03-10
    assert after["open_amount"] == "1450.00"  # P-1's 1200 owed again

    refused = api.http.post(
        "/payments",
        json={
            "payment_id": "P-2",
            "customer_id": "C-1",
            "currency": "CNY",
            "amount": "10.00",
            "received_on": "2026-03-20",
            "method": "bank_transfer",
            "allocations": [{"invoice_id": "I-2", "amount": "10.001"}],
        },
    )
    assert refused.status_code == 422
    assert "allocations[0].amount" in refused.json()["detail"]
    assert api.get("/payments/P-2").status_code == 404

    def all_events() -> Counter[str] | None:
        found = Counter(
            e.type.split(".")[1]
            for e in events_on_topic(
                stack.env["KAFKA_BOOTSTRAP_SERVERS"],
                stack.namespace.topic(LEDGER_EVENTS),
                tenant.id,
            )
        )
        return found if found["payment_reversed"] else None

    seen = eventually(all_events, what="every ledger event on the topic")
    assert seen == Counter(
        {
            "customer_upserted": 1,
            "invoice_issued": 4,
            "payment_received": 1,
            "payment_applied": 2,
            "invoice_settled": 1,
            "invoice_adjusted": 1,
            "invoice_written_off": 1,
            "invoice_voided": 1,
            "payment_reversed": 1,
        }
    )
