"""Invoice rules without I/O."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from huikuan_contracts.money import Money
from ledger.domain.invoices import InvoiceRuleError, issue_invoice

BASE: dict[str, Any] = {
    "invoice_id": "I-1",
    "customer_id": "C-1",
    "number": "N-1",
    "issue_date": date(2026, 1, 31),
    "amount": Money(10_000, "CNY"),
}


def test_without_a_due_date_the_terms_decide() -> None:
    invoice = issue_invoice(**BASE, due_date=None, payment_terms_days=30)
    assert invoice.due_date == date(2026, 3, 2)


def test_a_given_due_date_wins_over_the_terms() -> None:
    invoice = issue_invoice(**BASE, due_date=date(2026, 2, 10), payment_terms_days=30)
    assert invoice.due_date == date(2026, 2, 10)


def test_due_before_issue_is_refused_naming_the_field() -> None:
    with pytest.raises(InvoiceRuleError) as caught:
        issue_invoice(**BASE, due_date=date(2026, 1, 30), payment_terms_days=30)
    assert caught.value.field == "due_date"


def test_zero_amount_is_refused() -> None:
    with pytest.raises(InvoiceRuleError):
        issue_invoice(**{**BASE, "amount": Money(0, "CNY")}, due_date=None, payment_terms_days=0)


def test_the_fingerprint_changes_with_any_field_and_only_then() -> None:
    one = issue_invoice(**BASE, due_date=None, payment_terms_days=30)
    same = issue_invoice(**BASE, due_date=date(2026, 3, 2), payment_terms_days=99)
    other = issue_invoice(
        **{**BASE, "amount": Money(10_001, "CNY")}, due_date=None, payment_terms_days=30
    )
    assert one.fingerprint == same.fingerprint
    assert one.fingerprint != other.fingerprint


def test_the_issued_event_carries_minor_units() -> None:
    event = issue_invoice(**BASE, due_date=None, payment_terms_days=30).issued()
    assert (event.amount_minor, event.currency) == (10_000, "CNY")
