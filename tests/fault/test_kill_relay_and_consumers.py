"""kill -9 the relay and the consumers while invoices are being posted: after restarting
them, every invoice reaches credit and reminders exactly once."""

from __future__ import annotations

import signal
import threading
from typing import Any

import pytest

from huikuan_dev.stack import Stack
from tests.conftest import Tenant
from tests.support import eventually, query

pytestmark = pytest.mark.e2e

INVOICES = 120


def test_every_invoice_reaches_both_consumers_exactly_once(stack: Stack, tenant: Tenant) -> None:
    api = tenant.api
    assert api.put_customer("C-1").status_code == 201
    posted: list[int] = []
    failures: list[str] = []

    def post_all() -> None:
        for n in range(1, INVOICES + 1):
            response = api.post_invoice(f"INV-{n}", "C-1", amount=f"{n}.01")
            if response.status_code != 201:
                failures.append(f"{n}: {response.status_code} {response.text}")
            posted.append(n)

    poster = threading.Thread(target=post_all)
    poster.start()
    try:
        eventually(lambda: len(posted) >= INVOICES // 4, what="a quarter posted")
        for name in ("ledger-relay", "credit-consume", "reminders-consume"):
            stack.kill(name, signal.SIGKILL)
        eventually(lambda: len(posted) >= INVOICES // 2, what="half posted with them dead")
        for name in ("ledger-relay", "credit-consume", "reminders-consume"):
            stack.restart(name)
    finally:
        poster.join(timeout=300)
    assert not failures, failures[:3]

    total = sum(range(1, INVOICES + 1)) * 100 + INVOICES  # n.01 each, in fen

    def credit_has_all() -> dict[str, Any] | None:
        body = api.get("/customers/C-1/credit").json()
        lines = body.get("exposure") or []
        return body if lines and lines[0]["open_invoices"] >= INVOICES else None

    credit = eventually(credit_has_all, timeout=120, what="credit saw every invoice")
    [line] = credit["exposure"]
    assert (line["currency"], line["open_invoices"], line["open_amount"]) == (
        "CNY",
        INVOICES,
        f"{total / 100:.2f}",
    )

    def reminders_has_all() -> dict[str, object] | None:
        body = api.get("/customers/C-1/dunning").json()
        return body if body.get("open_invoice_count", 0) >= INVOICES else None

    dunning = eventually(reminders_has_all, timeout=120, what="reminders saw every invoice")
    assert dunning["open_invoice_count"] == INVOICES

    url = stack.env["DATABASE_URL"]
    # Exposure above counts each invoice once: a double-applied event would make it larger.
    assert (
        query(url, "SELECT count(*) AS n FROM ledger.invoice WHERE tenant = $1", tenant.id)[0]["n"]
        == INVOICES
    )
