"""Invoice rules that need no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from huikuan_contracts.ledger.kinds import InvoiceStatus
from huikuan_contracts.money import Money
from huikuan_events.ledger import InvoiceIssued
from ledger.domain.fingerprint import fingerprint


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
        return fingerprint(
            customer_id=self.customer_id,
            number=self.number,
            issue_date=self.issue_date,
            due_date=self.due_date,
            currency=self.amount.currency,
            amount_minor=self.amount.amount_minor,
        )

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


def invoice_status(
    *,
    amount_minor: int,
    residual_minor: int,
    due_date: date,
    as_of: date,
    voided: bool = False,
    written_off: bool = False,
    disputed: bool = False,
) -> InvoiceStatus:
    """The status as of a date; the first matching rule wins."""
    if voided:
        return InvoiceStatus.VOID
    if written_off:
        return InvoiceStatus.WRITTEN_OFF
    if residual_minor == 0:
        return InvoiceStatus.PAID
    if disputed:
        return InvoiceStatus.DISPUTED
    if as_of > due_date:
        return InvoiceStatus.OVERDUE
    if residual_minor < amount_minor:
        return InvoiceStatus.PARTIALLY_PAID
    return InvoiceStatus.OPEN


def days_overdue(due_date: date, as_of: date) -> int:
    """Whole days past the due date (0 while not yet due)."""
    return max(0, (as_of - due_date).days)
