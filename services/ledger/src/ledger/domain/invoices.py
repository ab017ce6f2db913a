"""Invoice rules that need no I/O."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from huikuan_events.ledger import InvoiceIssued
from huikuan_runtime.money import Money


class InvoiceRuleError(ValueError):
    """An invoice that breaks a rule; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class NewInvoice:
    invoice_id: str
    customer_id: str
    number: str
    issue_date: date
    due_date: date
    amount: Money

    @property
    def fingerprint(self) -> str:
        """What makes two requests under one invoice id "the same request"."""
        canonical: dict[str, Any] = {
            "customer_id": self.customer_id,
            "number": self.number,
            "issue_date": self.issue_date.isoformat(),
            "due_date": self.due_date.isoformat(),
            "currency": self.amount.currency,
            "amount_minor": self.amount.amount_minor,
        }
        return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()

    def issued(self) -> InvoiceIssued:
        return InvoiceIssued(
            invoice_id=self.invoice_id,
            customer_id=self.customer_id,
            number=self.number,
            issue_date=self.issue_date,
            due_date=self.due_date,
            currency=self.amount.currency,
            amount_minor=self.amount.amount_minor,
        )


def issue_invoice(
    *,
    invoice_id: str,
    customer_id: str,
    number: str,
    issue_date: date,
    due_date: date | None,
    amount: Money,
    payment_terms_days: int,
) -> NewInvoice:
    """Validate an invoice; without a due date it is due `payment_terms_days` after issue."""
    if amount.amount_minor <= 0:
        raise InvoiceRuleError("amount", "an invoice amount must be greater than zero")
    due = due_date if due_date is not None else issue_date + timedelta(days=payment_terms_days)
    if due < issue_date:
        raise InvoiceRuleError("due_date", "the due date cannot be before the issue date")
    return NewInvoice(invoice_id, customer_id, number, issue_date, due, amount)
