"""Working the accounts through the gateway: disputes, the overdue scan, statements of
account and their confirmation, collection targets — the HTTP bodies and the events on the
ledger topic, and bad input refused with nothing written."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest

from huikuan_dev.stack import Stack
from huikuan_events import Envelope
from huikuan_events.topics import LEDGER_EVENTS
from tests.conftest import Tenant
from tests.support import Api, events_on_topic, eventually, query

pytestmark = pytest.mark.e2e

PROBLEM = "application/problem+json"


def _events(stack: Stack, tenant: Tenant, kind: str, count: int) -> list[Envelope]:
    """The tenant's events of one type, once at least `count` of them are on the topic."""

    def probe() -> list[Envelope] | None:
        bootstrap, topic = (
            stack.env["KAFKA_BOOTSTRAP_SERVERS"],
            stack.namespace.topic(LEDGER_EVENTS),
        )
        found = [e for e in events_on_topic(bootstrap, topic, tenant.id) if e.type == kind]
        return found if len(found) >= count else None

    return eventually(probe, what=f"{count} x {kind} on the ledger topic")


def _outbox_types(stack: Stack, tenant: Tenant) -> Counter[str]:
    rows = query(
        stack.env["DATABASE_URL"],
        """SELECT convert_from(payload, 'UTF8')::jsonb ->> 'type' AS type
           FROM ledger.outbox_event
           WHERE convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $1""",
        tenant.id,
    )
    return Counter(r["type"] for r in rows)


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    return body


def _pay(api: Api, payment_id: str, amount: str, received_on: str) -> httpx.Response:
    return api.http.post(
        "/payments",
        json={
            "payment_id": payment_id,
            "customer_id": "C-1",
            "currency": "CNY",
            "amount": amount,
            "received_on": received_on,
            "method": "bank_transfer",
        },
    )


def test_a_dispute_pauses_allocation_and_ends_in_a_credit_note(
    stack: Stack, tenant: Tenant
) -> None:
    api = tenant.api
    assert api.put_customer("C-1").status_code == 201
    assert api.post_invoice("INV-1", "C-1", "1000.00", due_date="2026-11-10").status_code == 201
    assert api.post_invoice("INV-2", "C-1", "500.00", due_date="2026-11-20").status_code == 201

    dispute = {
        "dispute_id": "D-1",
        "reason": "20 cartons arrived damp",
        "currency": "CNY",
        "amount": "300.00",
        "opened_on": "2026-11-12",
    }
    opened = api.http.post("/invoices/INV-1/disputes", json=dispute)
    assert opened.status_code == 201, opened.text
    assert {k: opened.json()[k] for k in ("status", "amount", "customer_id", "credit_note")} == {
        "status": "open",
        "amount": "300.00",
        "customer_id": "C-1",
        "credit_note": None,
    }
    again = api.http.post("/invoices/INV-1/disputes", json=dispute)
    assert (again.status_code, again.json()) == (200, opened.json())
    assert api.get("/invoices/INV-1?as_of=2026-11-15").json()["status"] == "disputed"

    # Refused: a different body under the id, a second open dispute, more than the residual.
    _problem(api.http.post("/invoices/INV-1/disputes", json={**dispute, "amount": "1.00"}), 409)
    second = api.http.post("/invoices/INV-1/disputes", json={**dispute, "dispute_id": "D-2"})
    assert _problem(second, 409)["open_dispute_id"] == "D-1"
    too_much = api.http.post(
        "/invoices/INV-2/disputes", json={**dispute, "dispute_id": "D-3", "amount": "500.01"}
    )
    assert "residual" in _problem(too_much, 422)["detail"]
    _problem(api.http.post("/invoices/INV-9/disputes", json={**dispute, "dispute_id": "D-4"}), 404)
    rows = query(
        stack.env["DATABASE_URL"],
        "SELECT dispute_id FROM ledger.dispute WHERE tenant = $1",
        tenant.id,
    )
    assert [r["dispute_id"] for r in rows] == ["D-1"]

    paid = _pay(api, "P-1", "800.00", "2026-11-15")
    assert paid.status_code == 201, paid.text
    assert [(a["invoice_id"], a["amount"]) for a in paid.json()["allocations"]] == [
        ("INV-2", "500.00")
    ]
    assert paid.json()["unapplied"] == "300.00"

    resolve: dict[str, Any] = {
        "outcome": "accepted",
        "resolved_on": "2026-11-20",
        "note": "agreed",
        "credit_note": {"credit_note_id": "CN-D1", "currency": "CNY", "amount": "250.00"},
    }
    _problem(api.http.post("/disputes/D-1/resolve", json={**resolve, "outcome": "rejected"}), 422)
    _problem(api.http.post("/disputes/D-9/resolve", json=resolve), 404)
    over = {**resolve, "credit_note": {**resolve["credit_note"], "amount": "300.01"}}
    _problem(api.http.post("/disputes/D-1/resolve", json=over), 422)

    resolved = api.http.post("/disputes/D-1/resolve", json=resolve)
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert (body["status"], body["resolved_on"], body["credit_note"]) == (
        "accepted",
        "2026-11-20",
        {"credit_note_id": "CN-D1", "amount": "250.00"},
    )
    assert api.http.post("/disputes/D-1/resolve", json=resolve).json() == body
    _problem(api.http.post("/disputes/D-1/resolve", json={**resolve, "note": "other"}), 409)
    assert api.get("/disputes/D-1").json() == body
    invoice = api.get("/invoices/INV-1?as_of=2026-11-15").json()
    assert (invoice["residual"], invoice["status"]) == ("750.00", "overdue")
    assert [c["credit_note_id"] for c in invoice["credit_notes"]] == ["CN-D1"]

    [opened_event] = _events(stack, tenant, "ledger.dispute_opened.v1", 1)
    assert opened_event.subject == "C-1" and opened_event.data["amount_minor"] == 30000
    [resolved_event] = _events(stack, tenant, "ledger.dispute_resolved.v1", 1)
    assert resolved_event.data["credit_note_id"] == "CN-D1"
    [adjusted] = _events(stack, tenant, "ledger.invoice_adjusted.v1", 1)
    assert (adjusted.data["amount_minor"], adjusted.data["reason"]) == (25000, "dispute")
    assert adjusted.subjectseq < resolved_event.subjectseq


def test_the_overdue_scan_announces_each_invoice_once(stack: Stack, tenant: Tenant) -> None:
    api = tenant.api
    assert api.put_customer("C-1", timezone="Asia/Shanghai").status_code == 201
    assert api.post_invoice("INV-A", "C-1", "100.00", due_date="2026-11-05").status_code == 201
    assert api.post_invoice("INV-B", "C-1", "100.00", due_date="2026-12-30").status_code == 201

    scan = api.http.post("/ops/jobs/overdue-scan", json={"as_of": "2026-11-15"})
    assert scan.status_code == 200, scan.text
    assert {k: scan.json()[k] for k in ("job", "as_of", "flagged")} == {
        "job": "overdue-scan",
        "as_of": "2026-11-15",
        "flagged": 1,
    }
    again = api.http.post("/ops/jobs/overdue-scan", json={"as_of": "2026-11-15"})
    assert again.json()["flagged"] == 0
    # By an instant: 2026-12-30T17:00Z is already the 31st in Shanghai.
    instant = api.http.post("/ops/jobs/overdue-scan", json={"at": "2026-12-30T17:00:00Z"})
    assert (instant.json()["flagged"], instant.json()["at"]) == (1, "2026-12-30T17:00:00Z")

    both = api.http.post(
        "/ops/jobs/overdue-scan", json={"as_of": "2026-11-15", "at": "2026-11-15T00:00:00Z"}
    )
    _problem(both, 422)
    _problem(api.http.post("/ops/jobs/overdue-scan", json={"as_of": "2026-02-30"}), 422)
    ledger_only = stack.create_tenant_key(tenant.id, "ledger only", ["ledger:write"])
    forbidden = Api(stack.gateway_url, ledger_only).http.post(
        "/ops/jobs/overdue-scan", json={"as_of": "2027-01-31"}
    )
    assert _problem(forbidden, 403)["required_scope"] == "ops:write"

    events = _events(stack, tenant, "ledger.invoice_overdue.v1", 2)
    assert sorted((e.data["invoice_id"], e.data["as_of"]) for e in events) == [
        ("INV-A", "2026-11-15"),
        ("INV-B", "2026-12-31"),
    ]
    assert _outbox_types(stack, tenant)["ledger.invoice_overdue.v1"] == 2
    shown = api.get("/invoices/INV-A?as_of=2026-11-15").json()
    assert (shown["status"], shown["days_overdue"]) == ("overdue", 10)


def test_a_statement_with_a_back_dated_payment_and_its_confirmation(
    stack: Stack, tenant: Tenant
) -> None:
    api = tenant.api
    assert api.put_customer("C-1").status_code == 201
    assert api.post_invoice("INV-1", "C-1", "1000.00", issue_date="2026-10-05").status_code == 201
    assert _pay(api, "P-0", "300.00", "2026-10-20").status_code == 201
    assert api.post_invoice("INV-2", "C-1", "500.00", issue_date="2026-11-03").status_code == 201
    assert _pay(api, "P-1", "150.00", "2026-11-02").status_code == 201  # posted last, dated early

    statement = api.get("/customers/C-1/statement?from=2026-11-01&to=2026-11-30")
    assert statement.status_code == 200, statement.text
    body = statement.json()
    assert (body["period_from"], body["period_to"]) == ("2026-11-01", "2026-11-30")
    [cny] = body["currencies"]
    assert cny["opening"] == {"balance": "700.00", "receivable": "700.00", "unapplied_cash": "0.00"}
    assert [
        (x["effective_date"], x["kind"], x["reference"], x["debit"], x["credit"], x["balance"])
        for x in cny["lines"]
    ] == [
        ("2026-11-02", "payment", "P-1", "0.00", "150.00", "550.00"),
        ("2026-11-03", "invoice", "INV-2", "500.00", "0.00", "1050.00"),
    ]
    assert cny["closing"] == {
        "balance": "1050.00",
        "receivable": "1050.00",
        "unapplied_cash": "0.00",
    }
    assert (cny["total_debit"], cny["total_credit"]) == ("500.00", "150.00")

    for bad in (
        "from=2026-12-01&to=2026-11-30",
        "from=2026-11-01",
        "from=2026-11-01&to=2026-11-30&currency=XXX",
        "from=2026-11-01&to=2026-11-31",
    ):
        _problem(api.get(f"/customers/C-1/statement?{bad}"), 422)
    _problem(api.get("/customers/C-404/statement?from=2026-11-01&to=2026-11-30"), 404)

    confirmation = {
        "confirmation_id": "SC-1",
        "period_from": "2026-11-01",
        "period_to": "2026-11-30",
        "currency": "CNY",
        "their_balance": "1000.00",
        "note": "they have not booked P-1 yet",
    }
    for change in ({"their_balance": "1.001"}, {"period_to": "2026-10-01"}, {"currency": "RMB"}):
        bad_body = {**confirmation, **change}
        _problem(api.http.post("/customers/C-1/statement-confirmations", json=bad_body), 422)
    assert "ledger.statement_confirmed.v1" not in _outbox_types(stack, tenant)

    posted = api.http.post("/customers/C-1/statement-confirmations", json=confirmation)
    assert posted.status_code == 201, posted.text
    answer = posted.json()
    assert {k: answer[k] for k in ("our_balance", "their_balance", "difference", "status")} == {
        "our_balance": "1050.00",
        "their_balance": "1000.00",
        "difference": "50.00",
        "status": "discrepancy",
    }
    again = api.http.post("/customers/C-1/statement-confirmations", json=confirmation)
    assert (again.status_code, again.json()) == (200, answer)
    clash = {**confirmation, "their_balance": "1050.00"}
    _problem(api.http.post("/customers/C-1/statement-confirmations", json=clash), 409)
    listed = api.get("/customers/C-1/statement-confirmations").json()
    assert (listed["items"], listed["next_cursor"]) == ([answer], None)

    [event] = _events(stack, tenant, "ledger.statement_confirmed.v1", 1)
    assert (event.subject, event.data["difference_minor"], event.data["status"]) == (
        "C-1",
        5000,
        "discrepancy",
    )
    assert _outbox_types(stack, tenant)["ledger.statement_confirmed.v1"] == 1


def test_collection_targets_and_progress(stack: Stack, tenant: Tenant) -> None:
    api = tenant.api
    assert api.put_customer("C-1", owner="li").status_code == 201
    assert api.post_invoice("INV-1", "C-1", "1000.00").status_code == 201
    assert _pay(api, "P-1", "250.00", "2026-11-05").status_code == 201
    assert _pay(api, "P-2", "100.00", "2026-12-01").status_code == 201  # December

    target = {"currency": "CNY", "amount": "1000.00"}
    created = api.http.put("/targets/2026-11/li", json=target)
    assert created.status_code == 201, created.text
    assert (created.json()["owner"], created.json()["amount"]) == ("li", "1000.00")
    assert api.http.put("/targets/2026-11/li", json=target).status_code == 200
    assert api.http.put("/targets/2026-11/wang", json=target).status_code == 201

    report = api.get("/targets?period=2026-11")
    assert report.status_code == 200, report.text
    body = report.json()
    assert (body["period_from"], body["period_to"]) == ("2026-11-01", "2026-11-30")
    assert [
        (i["owner"], i["target"], i["collected"], i["share"], i["remaining"]) for i in body["items"]
    ] == [
        ("li", "1000.00", "250.00", "25.00", "750.00"),
        ("wang", "1000.00", "0.00", "0.00", "1000.00"),
    ]

    _problem(api.http.put("/targets/2026-13/li", json=target), 422)
    _problem(api.http.put("/targets/2026-11/li", json={**target, "amount": "-1"}), 422)
    _problem(api.get("/targets?period=November"), 422)
    _problem(api.get("/targets"), 422)
    rows = query(
        stack.env["DATABASE_URL"],
        "SELECT owner FROM ledger.collection_target WHERE tenant = $1 ORDER BY owner",
        tenant.id,
    )
    assert [r["owner"] for r in rows] == ["li", "wang"]
