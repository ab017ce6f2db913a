"""The summary and an invoice still answer, marking the missing part, when a downstream is
dead; an invoice credit has not read yet shows no prediction until it has."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from huikuan_dev.stack import Stack
from tests.conftest import Tenant
from tests.support import eventually

pytestmark = pytest.mark.e2e


def test_summary_degrades_when_credit_is_down(stack: Stack, tenant: Tenant) -> None:
    api = tenant.api
    assert api.put_customer("C-1").status_code == 201
    assert api.post_invoice("INV-1", "C-1", amount="99.00").status_code == 201
    eventually(
        lambda: api.get("/customers/C-1/summary").json()["credit"]["status"] == "ok",
        what="credit has seen the customer",
    )
    eventually(
        lambda: api.get("/invoices/INV-1").json()["prediction"]["status"] == "ok",
        what="credit predicts the invoice's payment date",
    )

    stack.kill("credit-api", signal.SIGKILL)
    try:
        response = api.get("/customers/C-1/summary")
        assert response.status_code == 200
        summary = response.json()
        assert summary["complete"] is False
        assert summary["credit"]["status"] == "unavailable"
        assert summary["credit"]["data"] is None
        assert summary["balances"]["data"]["balances"][0]["open_amount"] == "99.00"
        assert summary["customer"]["customer_id"] == "C-1"
        invoice = api.get("/invoices/INV-1")
        assert invoice.status_code == 200
        assert invoice.json()["residual"] == "99.00"
        assert invoice.json()["prediction"]["status"] == "unavailable"
        assert invoice.json()["prediction"]["data"] is None
        direct = api.get("/customers/C-1/credit")
        assert direct.status_code == 503
        assert direct.headers["content-type"].startswith("application/problem+json")
    finally:
        stack.restart("credit-api")
        stack.wait_ready()
    eventually(
        lambda: api.get("/customers/C-1/summary").json()["complete"],
        what="the summary is complete again after credit is back",
    )
    eventually(
        lambda: api.get("/invoices/INV-1").json()["prediction"]["status"] == "ok",
        what="the invoice's prediction is back with credit",
    )


def test_an_invoice_credit_has_not_seen_has_no_prediction(stack: Stack, tenant: Tenant) -> None:
    api = tenant.api
    assert api.put_customer("C-2").status_code == 201
    stack.kill("credit-consume", signal.SIGKILL)
    try:
        assert api.post_invoice("INV-2", "C-2", amount="12.00").status_code == 201
        response = api.get("/invoices/INV-2")
        assert response.status_code == 200
        invoice = response.json()
        assert (invoice["invoice_id"], invoice["residual"]) == ("INV-2", "12.00")
        assert invoice["prediction"]["status"] == "none"  # credit has not read the invoice
        assert invoice["prediction"]["data"] is None
    finally:
        stack.restart("credit-consume")

    def predicted() -> dict[str, Any] | None:
        part: dict[str, Any] = api.get("/invoices/INV-2").json()["prediction"]
        return part if part["status"] == "ok" else None

    part = eventually(predicted, timeout=120, what="credit reads the invoice once it is back")
    assert part["data"]["invoice_id"] == "INV-2"
