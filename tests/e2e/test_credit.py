"""Credit through the gateway: scores move with payment behaviour, reasons say why, holds
stop credit checks, the rescore job sees time pass, and credit's events reach its topic."""

from __future__ import annotations

from typing import Any

import pytest

from huikuan_dev.stack import Stack
from huikuan_events import Envelope
from huikuan_events.topics import CREDIT_EVENTS
from tests.conftest import Tenant
from tests.support import Api, events_on_topic, eventually

pytestmark = pytest.mark.e2e


def _invoice(api: Api, n: int, issued: str, due: str) -> None:
    response = api.post_invoice(f"INV-{n}", "C-1", "1000.00", issue_date=issued, due_date=due)
    assert response.status_code == 201, response.text


def _pay(api: Api, n: int, received: str) -> None:
    response = api.http.post(
        "/payments",
        json={
            "payment_id": f"P-{n}",
            "customer_id": "C-1",
            "currency": "CNY",
            "amount": "1000.00",
            "received_on": received,
            "method": "bank_transfer",
            "allocations": [{"invoice_id": f"INV-{n}", "amount": "1000.00"}],
        },
    )
    assert response.status_code == 201, response.text


def _credit_when(api: Api, what: str, ok: Any) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        r = api.get("/customers/C-1/credit")
        body: dict[str, Any] = r.json()
        return body if r.status_code == 200 and ok(body) else None

    return eventually(probe, what=what)


def _graded(api: Api, grade: str, **filters: str) -> list[str]:
    """The customer ids `GET /v1/customers?grade=` lists, every page followed."""
    ids: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"grade": grade, "limit": 1, **filters}
        if cursor:
            params["cursor"] = cursor
        r = api.http.get("/customers", params=params)
        assert r.status_code == 200, r.text
        ids += [c["customer_id"] for c in r.json()["items"]]
        if (cursor := r.json()["next_cursor"]) is None:
            return ids


def _check(api: Api, order_id: str, amount: str = "100.00") -> dict[str, Any]:
    r = api.http.post(
        "/credit-checks",
        json={
            "customer_id": "C-1",
            "order_id": order_id,
            "currency": "CNY",
            "amount": amount,
        },
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_scores_move_with_late_payments_and_holds_refuse_credit(
    stack: Stack, tenant: Tenant
) -> None:
    api = tenant.api
    assert api.put_customer("C-1", payment_terms_days=30).status_code == 201
    _invoice(api, 1, "2026-06-01", "2026-07-01")
    _invoice(api, 2, "2026-07-01", "2026-07-31")
    _invoice(api, 3, "2026-11-20", "2026-12-20")
    _pay(api, 1, "2026-06-28")
    _pay(api, 2, "2026-07-30")
    prompt = _credit_when(
        api, "two prompt payments scored", lambda b: b["figures"]["payments_12m"] == 2
    )
    assert prompt["grade"] == "A", prompt
    assert _graded(api, "A") == ["C-1"] and _graded(api, "C") == []
    assert prompt["on_hold"] is False
    assert {f["code"]: f["points"] for f in prompt["factors"]}["days_late"] == 250
    assert sum(f["points"] for f in prompt["factors"]) == prompt["score"]

    # two more invoices, paid 45 and 50 days late
    _invoice(api, 4, "2026-08-01", "2026-08-31")
    _invoice(api, 5, "2026-09-01", "2026-10-01")
    _pay(api, 4, "2026-10-15")
    _pay(api, 5, "2026-11-20")
    late = _credit_when(
        api, "the late payments scored", lambda b: b["figures"]["payments_12m"] == 4
    )
    assert late["score"] < prompt["score"]
    assert late["grade"] == "C", late
    assert _graded(api, "C") == ["C-1"] and _graded(api, "A") == []
    texts = [r["text"] for r in late["reasons"]]
    assert texts[0] == "paid 24 days late on average", texts
    assert [r["code"] for r in late["reasons"]] != [r["code"] for r in prompt["reasons"]]
    assert late["on_hold"] is False  # the overdue-days hold went away with the payments
    [line] = late["exposure"]
    assert (line["open_amount"], line["limit"], line["limit_source"]) == (
        "1000.00",
        "1500.00",
        "recommended",
    )
    assert line["available"] == "500.00"  # 1,000.00 a month billed x 1.5 (C) - 1,000.00

    history = api.get("/customers/C-1/credit/history").json()["items"]
    assert history[0]["new_score"] == late["score"]
    assert any(h["new_grade"] == "A" for h in history)

    # payment-date prediction: own lateness (-3, -1, 45, 50: mean 22.75) shrunk toward the
    # tenant's (the same here) -> INV-3, due 2026-12-20, expected 23 days late
    predicted = api.get("/customers/C-1/credit/predictions?as_of=2026-11-27").json()
    assert predicted["habit"]["payments_12m"] == 4
    assert predicted["habit"]["prior_source"] == "tenant"
    assert [(i["invoice_id"], i["predicted_on"]) for i in predicted["invoices"]] == [
        ("INV-3", "2027-01-12")
    ]
    # ... and on the invoice itself: the ledger's invoice with credit's part beside it
    invoice = api.get("/invoices/INV-3?as_of=2026-11-27")
    assert invoice.status_code == 200, invoice.text
    shown = invoice.json()
    assert (shown["invoice_id"], shown["residual"], shown["as_of"]) == (
        "INV-3",
        "1000.00",
        "2026-11-27",
    )
    assert shown["prediction"]["status"] == "ok", shown["prediction"]
    assert shown["prediction"]["data"]["predicted_on"] == "2027-01-12"
    assert shown["prediction"]["data"]["habit"] == predicted["habit"]
    # INV-1 is paid: credit knows no open invoice of that id, the invoice still answers
    settled = api.get("/invoices/INV-1?as_of=2026-11-27").json()
    assert settled["residual"] == "0.00" and len(settled["allocations"]) == 1
    assert settled["prediction"]["status"] == "none"
    assert settled["prediction"]["data"] is None
    forecast = api.get("/reports/cash-forecast?from=2026-11-27&weeks=8").json()
    [cny] = forecast["currencies"]
    assert [w["expected"] for w in cny["weeks"]] == ["0.00"] * 6 + ["1000.00", "0.00"]

    # credit checks: approved, and the order counts in exposure
    approved = _check(api, "SO-1")
    assert (approved["decision"], approved["available"]) == ("approve", "500.00")
    after = api.get("/customers/C-1/credit").json()["exposure"][0]
    assert (after["approved_orders"], after["available"]) == ("100.00", "400.00")
    assert _check(api, "SO-2", "450.00")["decision"] == "review"

    held = api.http.post(
        "/customers/C-1/credit/hold", json={"reason": "cheque bounced twice", "placed_by": "wang"}
    )
    assert held.status_code == 200, held.text
    assert held.json()["on_hold"] is True
    refused = _check(api, "SO-3")
    assert refused["decision"] == "reject"
    assert refused["reasons"] == ["on hold: cheque bounced twice (by wang)"]
    lifted = api.http.delete("/customers/C-1/credit/hold")
    assert lifted.status_code == 200 and lifted.json()["on_hold"] is False
    assert _check(api, "SO-3")["decision"] == "approve"

    # a manual limit wins over the recommended one
    put = api.http.put(
        "/customers/C-1/credit/limit",
        json={
            "currency": "CNY",
            "limit": "5000.00",
            "reason": "trusted distributor",
            "set_by": "cfo",
        },
    )
    assert put.status_code == 200, put.text
    assert put.json()["exposure"][0]["limit_source"] == "manual"

    # time passes without any event: the rescore job finds INV-3 overdue and holds
    job = api.http.post("/ops/jobs/rescore", json={"as_of": "2027-01-31"})
    assert job.status_code == 200, job.text
    assert job.json()["customers"] == 1 and job.json()["changed"] == 1
    later = api.get("/customers/C-1/credit").json()
    assert later["as_of"] == "2027-01-31"
    assert "an invoice is 42 days overdue" in [r["text"] for r in later["reasons"]]
    assert [h["cause"] for h in later["holds"]] == ["overdue_days"]
    assert _check(api, "SO-4")["decision"] == "reject"

    # the customer list by credit's grade, with the ledger's filters applied to credit's page
    assert api.put_customer("C-2", owner="wang").status_code == 201

    def c2_graded() -> dict[str, Any] | None:
        r = api.get("/customers/C-2/credit")
        body: dict[str, Any] = r.json()
        return body if r.status_code == 200 else None

    other = eventually(c2_graded, what="credit has graded C-2")
    grades = {"C-1": later["grade"], "C-2": other["grade"]}
    for grade in "ABCDE":
        assert _graded(api, grade) == [c for c, g in grades.items() if g == grade], grade
    assert _graded(api, grades["C-2"], owner="wang") == ["C-2"]
    assert _graded(api, grades["C-1"], owner="wang") == (
        ["C-2"] if grades["C-2"] == grades["C-1"] else []
    )
    assert api.http.get("/customers", params={"grade": "F"}).status_code == 422

    def on_topic() -> list[Envelope] | None:
        es = events_on_topic(
            stack.env["KAFKA_BOOTSTRAP_SERVERS"], stack.namespace.topic(CREDIT_EVENTS), tenant.id
        )
        wanted = {"credit.hold_released.v1", "credit.limit_changed.v1"}
        return es if wanted <= {e.type for e in es} else None

    produced = eventually(on_topic, what="credit's events on credit.events.v1")
    types = {e.type for e in produced}
    assert {"credit.score_changed.v1", "credit.hold_placed.v1"} <= types
    manual = [e.data for e in produced if e.type == "credit.hold_placed.v1" and e.data["manual"]]
    assert manual[0]["detail"] == "cheque bounced twice (by wang)"


def test_credit_routes_need_their_scopes(stack: Stack, tenant: Tenant) -> None:
    reader = Api(stack.gateway_url, stack.create_tenant_key(tenant.id, "r", ["credit:read"]))
    r = reader.http.post(
        "/credit-checks",
        json={
            "customer_id": "C-1",
            "currency": "CNY",
            "amount": "1.00",
        },
    )
    assert r.status_code == 403
    assert (
        reader.http.post(
            "/customers/C-1/credit/hold", json={"reason": "x", "placed_by": "y"}
        ).status_code
        == 403
    )
    checker = Api(stack.gateway_url, stack.create_tenant_key(tenant.id, "c", ["credit:check"]))
    unknown = checker.http.post(
        "/credit-checks",
        json={
            "customer_id": "NOPE",
            "currency": "CNY",
            "amount": "1.00",
        },
    )
    assert unknown.status_code == 200 and unknown.json()["decision"] == "review"
    bad = checker.http.post(
        "/credit-checks",
        json={
            "customer_id": "C-1",
            "currency": "CNY",
            "amount": "1.001",
        },
    )
    assert bad.status_code == 422
