"""Payloads of events produced by the ledger (`ledger.events.v1`)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

SOURCE = "huikuan/ledger"


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CustomerUpserted(_Payload):
    """A customer was created or its master data changed."""

    customer_id: str
    name: str
    email: str | None = None
    phone: str | None = None
    country: str | None = None
    currency: str
    payment_terms_days: int
    owner: str | None = None
    segment: str | None = None
    region: str | None = None
    language: str | None = None
    timezone: str | None = None


class InvoiceIssued(_Payload):
    """An invoice was issued; `amount_minor` is in minor units of `currency`."""

    invoice_id: str
    customer_id: str
    number: str
    issue_date: date
    due_date: date
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    amount_minor: int = Field(gt=0)


class InvoiceAdjusted(_Payload):
    """A credit note reduced an invoice's residual (return, rebate, price correction)."""

    invoice_id: str
    customer_id: str
    credit_note_id: str
    reason: str
    currency: str
    amount_minor: int = Field(gt=0)
    residual_minor: int = Field(ge=0)
    issued_on: date


class InvoiceOverdue(_Payload):
    """An invoice's due date passed with a residual left (emitted once per invoice)."""

    invoice_id: str
    customer_id: str
    due_date: date
    currency: str
    residual_minor: int = Field(gt=0)
    as_of: date


class InvoiceSettled(_Payload):
    """An invoice's residual reached zero by payments and credit notes."""

    invoice_id: str
    customer_id: str
    currency: str
    settled_on: date
    days_late: int


class InvoiceVoided(_Payload):
    """An invoice was cancelled before anything was paid on it."""

    invoice_id: str
    customer_id: str
    currency: str
    amount_minor: int
    voided_on: date
    reason: str


class InvoiceWrittenOff(_Payload):
    """An invoice's residual was written off as bad debt."""

    invoice_id: str
    customer_id: str
    currency: str
    amount_minor: int = Field(gt=0)
    reason: str
    approver: str
    written_off_on: date


class DisputeOpened(_Payload):
    """A customer disputed (part of) an invoice; dunning pauses for that invoice."""

    dispute_id: str
    invoice_id: str
    customer_id: str
    reason: str
    currency: str
    amount_minor: int = Field(gt=0)
    opened_on: date


class DisputeResolved(_Payload):
    """A dispute ended: accepted (with a credit note) or rejected."""

    dispute_id: str
    invoice_id: str
    customer_id: str
    outcome: str = Field(pattern="^(accepted|rejected)$")
    credit_note_id: str | None = None
    resolved_on: date


class PaymentReceived(_Payload):
    """Money arrived from a customer."""

    payment_id: str
    customer_id: str
    currency: str
    amount_minor: int = Field(gt=0)
    received_on: date
    method: str
    reference: str | None = None


class PaymentApplied(_Payload):
    """Part of a payment settled part of an invoice; `days_late` is that money's lateness."""

    payment_id: str
    invoice_id: str
    customer_id: str
    currency: str
    amount_minor: int = Field(gt=0)
    applied_on: date
    due_date: date
    days_late: int
    invoice_residual_minor: int = Field(ge=0)


class PaymentReversed(_Payload):
    """A payment bounced or was returned; the invoices it paid are owed again."""

    payment_id: str
    customer_id: str
    currency: str
    amount_minor: int = Field(gt=0)
    reversed_on: date
    reason: str
    reopened_invoice_ids: list[str]


class StatementConfirmed(_Payload):
    """The customer answered a statement of account: confirmed, or a different balance."""

    confirmation_id: str
    customer_id: str
    period_from: date
    period_to: date
    currency: str
    our_balance_minor: int
    their_balance_minor: int
    difference_minor: int
    status: str = Field(pattern="^(confirmed|discrepancy)$")
