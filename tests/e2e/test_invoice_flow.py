"""An invoice posted through the gateway reaches the ledger, the topic, credit and reminders."""

from __future__ import annotations

import pytest

from huikuan_dev.stack import Stack
from huikuan_events.topics import LEDGER_EVENTS
from tests.conftest import Tenant
from tests.support import events_on_topic, eventually, query

pytestmark = pytest.mark.e2e

PROBLEM = "application/problem+json"


def test_invoice_reaches_ledger_topic_credit_and_reminders(stack: Stack, tenant: Tenant) -> None:
    api = tenant.api
    created = api.put_customer(
        "C-1", owner="li", timezone="Asia/Shanghai", language="zh", payment_terms_days=45
    )
    assert created.status_code == 201, created.text
    assert created.json()["payment_terms_days"] == 45

    posted = api.post_invoice("INV-1", "C-1", amount="1234.50")
    assert posted.status_code == 201, posted.text
    invoice = posted.json()
    assert invoice["amount"] == "1234.50"
    assert invoice["due_date"] == "2026-12-16"  # issue date + the customer's 45 days
    detail = api.get("/invoices/INV-1").json()
    assert {k: detail[k] for k in invoice} == invoice
    assert [h["kind"] for h in detail["history"]] == ["invoice"]

    rows = query(
        stack.env["DATABASE_URL"],
        "SELECT amount_minor, currency FROM ledger.invoice WHERE tenant = $1",
        tenant.id,
    )
    assert [(r["amount_minor"], r["currency"]) for r in rows] == [(123450, "CNY")]

    events = eventually(
        lambda: [
            e
            for e in events_on_topic(
                stack.env["KAFKA_BOOTSTRAP_SERVERS"],
                stack.namespace.topic(LEDGER_EVENTS),
                tenant.id,
            )
            if e.type == "ledger.invoice_issued.v1"
        ],
        what="invoice_issued on the ledger topic",
    )
    assert len(events) == 1
    assert events[0].subject == "C-1"
    assert events[0].data["amount_minor"] == 123450
    assert events[0].subjectseq == 2  # customer_upserted was 1

    credit = eventually(
        lambda: (
            (r := api.get("/customers/C-1/credit")).status_code == 200
            and r.json()["exposure"]
            and r.json()
        ),
        what="credit recorded the invoice",
    )
    [line] = credit["exposure"]
    assert (line["currency"], line["open_invoices"], line["open_amount"]) == ("CNY", 1, "1234.50")
    assert (line["approved_orders"], line["exposure"]) == ("0.00", "1234.50")

    dunning = eventually(
        lambda: (
            (r := api.get("/customers/C-1/dunning")).status_code == 200
            and r.json()["open_invoice_count"]
            and r.json()
        ),
        what="reminders recorded the invoice",
    )
    assert dunning["invoices"][0]["residual"] == "1234.50"
    assert dunning["next_due_date"] == "2026-12-16"

    summary = api.get("/customers/C-1/summary").json()
    assert summary["complete"] is True
    assert summary["balances"]["data"]["balances"][0]["open_amount"] == "1234.50"
    assert summary["credit"]["status"] == "ok"
    assert summary["dunning"]["status"] == "ok"


def test_repeated_invoice_is_idempotent_and_a_different_body_conflicts(
    stack: Stack, tenant: Tenant
) -> None:
    api = tenant.api
    assert api.put_customer("C-2").status_code == 201
    assert api.put_customer("C-2").status_code == 200  # unchanged: no second event
    first = api.post_invoice("INV-9", "C-2", amount="10.00")
    again = api.post_invoice("INV-9", "C-2", amount="10.00")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()

    clash = api.post_invoice("INV-9", "C-2", amount="10.01")
    assert clash.status_code == 409
    assert clash.headers["content-type"].startswith(PROBLEM)
    assert clash.json()["instance"] == "/v1/invoices"

    outbox = query(
        stack.env["DATABASE_URL"],
        """SELECT convert_from(payload, 'UTF8')::jsonb ->> 'type' AS type
                      FROM ledger.outbox_event
                      WHERE convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $1""",
        tenant.id,
    )
    assert sorted(r["type"] for r in outbox) == [
        "ledger.customer_upserted.v1",
        "ledger.invoice_issued.v1",
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": "12.345"}, "amount"),  # more decimals than CNY has
        ({"amount": "0.00"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"currency": "XXX"}, "currency"),
        ({"customer_id": "nobody"}, "customer_id"),
        ({"issue_date": "2026-02-30"}, "issue_date"),
        ({"due_date": "2026-10-01"}, "due_date"),  # before the issue date
        ({"invoice_id": ""}, "invoice_id"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_input_is_a_problem_and_writes_nothing(
    stack: Stack, tenant: Tenant, change: dict[str, object], field: str
) -> None:
    api = tenant.api
    assert api.put_customer("C-3").status_code == 201
    body = {
        "invoice_id": "BAD-1",
        "customer_id": "C-3",
        "number": "N",
        "currency": "CNY",
        "issue_date": "2026-11-01",
        "amount": "1.00",
        **change,
    }
    response = api.http.post("/invoices", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert problem["status"] == 422 and problem["type"].endswith("/validation")
    assert field in problem["detail"]

    url = stack.env["DATABASE_URL"]
    assert query(url, "SELECT 1 FROM ledger.invoice WHERE tenant = $1", tenant.id) == []
    events = query(
        url,
        """SELECT 1 FROM ledger.outbox_event
                           WHERE convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $1""",
        tenant.id,
    )
    assert len(events) == 1  # only the customer's


def test_unknown_route_and_wrong_method_are_problems(stack: Stack, tenant: Tenant) -> None:
    missing = tenant.api.get("/no-such-thing")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith(PROBLEM)
    wrong = tenant.api.http.delete("/invoices")
    assert wrong.status_code == 405
    assert wrong.headers["content-type"].startswith(PROBLEM)


def test_request_id_travels_back(stack: Stack, tenant: Tenant) -> None:
    response = tenant.api.http.get("/customers/nobody", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "req-42"
