"""Reports through the gateway: a small book posted over /v1, then aging, provision and DSO
read back over HTTP with the numbers worked out by hand."""

from __future__ import annotations

from typing import Any

import pytest

from huikuan_contracts.ledger.reports import AgingReport
from huikuan_dev.stack import Stack
from tests.conftest import Tenant
from tests.support import Api

pytestmark = pytest.mark.e2e

PROBLEM = "application/problem+json"


def _ok(response: Any, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _payment(pid: str, customer: str, amount: str, on: str, invoice: str) -> dict[str, Any]:
    return {
        "payment_id": pid,
        "customer_id": customer,
        "currency": "CNY",
        "amount": amount,
        "received_on": on,
        "method": "bank_transfer",
        "allocations": [{"invoice_id": invoice, "amount": amount}],
    }


def _book(api: Api) -> None:
    """invoice cust  issued      due         amount   afterwards
    INV-1   C-1   2026-05-01  2026-05-31  1000.00  P-1 pays 400.00 on 06-10
    INV-2   C-1   2026-06-15  2026-07-15   500.00
    INV-3   C-2   2026-01-01  2026-01-31  2000.00  P-2 pays it on 07-05 (after June 30)
    INV-4   C-2   2026-03-01  2026-03-31   300.00  credit note 100.00 on 06-01"""
    _ok(api.put_customer("C-1", owner="li", region="east"))
    _ok(api.put_customer("C-2", owner="wang", region="north"))
    for invoice_id, customer, amount, issued, due in (
        ("INV-1", "C-1", "1000.00", "2026-05-01", "2026-05-31"),
        ("INV-2", "C-1", "500.00", "2026-06-15", "2026-07-15"),
        ("INV-3", "C-2", "2000.00", "2026-01-01", "2026-01-31"),
        ("INV-4", "C-2", "300.00", "2026-03-01", "2026-03-31"),
    ):
        _ok(api.post_invoice(invoice_id, customer, amount, issue_date=issued, due_date=due))
    _ok(api.http.post("/payments", json=_payment("P-1", "C-1", "400.00", "2026-06-10", "INV-1")))
    _ok(api.http.post("/payments", json=_payment("P-2", "C-2", "2000.00", "2026-07-05", "INV-3")))
    _ok(
        api.http.post(
            "/invoices/INV-4/credit-notes",
            json={
                "credit_note_id": "CN-1",
                "currency": "CNY",
                "amount": "100.00",
                "reason": "return",
                "issued_on": "2026-06-01",
            },
        )
    )


ZERO = {
    k: "0.00" for k in ("current", "1-30", "31-60", "61-90", "91-180", "181-365", "366-730", ">730")
}


def test_reports_through_the_gateway(stack: Stack, tenant: Tenant) -> None:
    api = tenant.api
    _book(api)

    aging = _ok(api.get("/reports/aging?as_of=2026-06-30&group_by=customer"), 200)
    assert aging["as_of"] == "2026-06-30" and aging["group_by"] == "customer"
    # the body is written without the model: it must be exactly what the model documents
    assert AgingReport.model_validate(aging).model_dump(mode="json") == aging
    assert [b["key"] for b in aging["buckets"]] == list(ZERO)
    [cny] = aging["currencies"]
    assert cny["currency"] == "CNY"
    # INV-2 not yet due; INV-1 1000-400 at 30 days; INV-3 (paid only on 07-05) at 150 days
    # and INV-4 300-100 at 91 days
    assert cny["total"]["buckets"] == {
        **ZERO,
        "current": "500.00",
        "1-30": "600.00",
        "91-180": "2200.00",
    }
    assert list(cny["total"]["buckets"]) == list(ZERO)  # in bucket order
    assert cny["total"]["bucket_invoices"]["91-180"] == 2
    assert (cny["total"]["total"], cny["total"]["invoices"]) == ("3300.00", 4)
    assert [(g["key"], g["name"], g["total"], g["invoices"]) for g in cny["groups"]] == [
        ("C-1", "Customer C-1", "1100.00", 2),
        ("C-2", "Customer C-2", "2200.00", 2),
    ]
    assert cny["groups"][1]["buckets"] == {**ZERO, "91-180": "2200.00"}

    by_region = _ok(api.get("/reports/aging?as_of=2026-06-30&group_by=region"), 200)
    assert [(g["key"], g["total"]) for g in by_region["currencies"][0]["groups"]] == [
        ("east", "1100.00"),
        ("north", "2200.00"),
    ]
    later = _ok(api.get("/reports/aging?as_of=2026-07-10&group_by=owner&buckets=30,90"), 200)
    assert [b["key"] for b in later["buckets"]] == ["current", "1-30", "31-90", ">90"]
    # P-2 has paid INV-3; INV-1 is now 40 days past due, INV-4 101
    assert [(g["key"], g["buckets"]) for g in later["currencies"][0]["groups"]] == [
        ("li", {"current": "500.00", "1-30": "0.00", "31-90": "600.00", ">90": "0.00"}),
        ("wang", {"current": "0.00", "1-30": "0.00", "31-90": "0.00", ">90": "200.00"}),
    ]

    provision = _ok(api.get("/reports/provision?as_of=2026-06-30"), 200)
    [p] = provision["currencies"]
    # 600.00 at 1% + 2200.00 at 25%
    assert (p["receivable"], p["provision"]) == ("3300.00", "556.00")
    assert [(b["bucket"], b["rate"], b["provision"]) for b in p["buckets"][:5]] == [
        ("current", "0", "0.00"),
        ("1-30", "1", "6.00"),
        ("31-60", "5", "0.00"),
        ("61-90", "10", "0.00"),
        ("91-180", "25", "550.00"),
    ]
    custom = _ok(api.get("/reports/provision?as_of=2026-06-30&buckets=90&rates=0,2.5,50"), 200)
    assert custom["currencies"][0]["provision"] == "1115.00"  # 600 * 2.5% + 2200 * 50%

    dso = _ok(api.get("/reports/dso?from=2026-04-01&to=2026-06-30"), 200)
    assert (dso["from"], dso["to"], dso["days"]) == ("2026-04-01", "2026-06-30", 91)
    [d] = dso["currencies"]
    assert {
        k: d[k] for k in ("opening_receivable", "sales", "closing_receivable", "closing_current")
    } == {
        "opening_receivable": "2300.00",
        "sales": "1500.00",
        "closing_receivable": "3300.00",
        "closing_current": "500.00",
    }
    # countback of 3300: June 500 (30 days), May 1000 (31), April nothing (30), March 300
    # (31), February nothing (28), then 1500 of January's 2000: 23.25 of 31 days
    # CEI = (2300 + 1500 - 3300) / (2300 + 1500 - 500) = 15.15 %; BPDSO = 500/1500 * 91
    assert (d["dso"], d["cei"], d["best_possible_dso"], d["average_days_delinquent"]) == (
        "173.25",
        "15.15",
        "30.33",
        "142.92",
    )
    assert [m["first"] for m in d["countback"]][-1] == "2026-01-01"


def test_bad_report_parameters_are_422_problems(stack: Stack, tenant: Tenant) -> None:
    api = tenant.api
    for path, field in (
        ("/reports/aging?buckets=60,30", "buckets"),
        ("/reports/aging?buckets=thirty", "buckets"),
        ("/reports/provision?buckets=30,60", "rates"),
        ("/reports/provision?rates=1,2,3", "rates"),
        ("/reports/provision?rates=0,1,5,10,25,50,80,101", "rates"),
        ("/reports/dso?from=2026-06-30&to=2026-04-01", "to"),
        ("/reports/aging?group_by=planet", "group_by"),
        ("/reports/dso?to=2026-04-01", "from"),
    ):
        response = api.get(path)
        assert response.status_code == 422, (path, response.text)
        assert response.headers["content-type"].startswith(PROBLEM)
        body = response.json()
        assert body["type"].endswith("/validation")
        assert field in [e["field"] for e in body["errors"]] or field in body["detail"], body
