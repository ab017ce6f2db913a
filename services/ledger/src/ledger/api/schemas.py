"""The ledger's request and response models (the gateway publishes these same models)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from huikuan_runtime.fields import (
    AmountIn,
    CountryCode,
    CurrencyCode,
    DecimalAmount,
    ExternalId,
    LanguageTag,
    StrictIn,
    TimeZoneName,
    parse_positive,
)
from ledger.domain.invoices import InvoiceStatus
from ledger.domain.journal import EntryKind

Reason = str
Method = Literal["bank_transfer", "cheque", "bank_acceptance_bill", "cash", "card", "offset"]
CreditReason = Literal["return", "rebate", "price_correction", "dispute", "other"]


# --- customers ---------------------------------------------------------------------------


class CustomerUpsert(StrictIn):
    name: str = Field(min_length=1, max_length=200, examples=["华东贸易有限公司"])
    email: str | None = Field(None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(None, max_length=32, pattern=r"^\+?[0-9 ()\-]{3,32}$")
    country: CountryCode | None = None
    currency: CurrencyCode
    payment_terms_days: int = Field(30, ge=0, le=365)
    owner: str | None = Field(None, max_length=64, description="the salesperson responsible")
    segment: str | None = Field(None, max_length=64)
    region: str | None = Field(None, max_length=64)
    language: LanguageTag | None = None
    timezone: TimeZoneName | None = None


class CustomerPublic(CustomerUpsert):
    model_config = ConfigDict(extra="ignore")

    customer_id: str
    created_at: datetime
    updated_at: datetime


class CurrencyBalance(BaseModel):
    currency: str
    open_amount: DecimalAmount = Field(description="what is still owed on open invoices")
    open_invoices: int
    unapplied_cash: DecimalAmount = Field(description="money received, not yet matched")


class CustomerBalances(BaseModel):
    customer_id: str
    as_of: date
    balances: list[CurrencyBalance]


# --- invoices ----------------------------------------------------------------------------


class InvoiceCreate(AmountIn):
    invoice_id: ExternalId
    customer_id: ExternalId
    number: str = Field(min_length=1, max_length=64, examples=["INV-2026-0001"])
    issue_date: date
    due_date: date | None = Field(
        None, description="defaults to issue_date plus the customer's payment terms"
    )


class InvoicePublic(BaseModel):
    invoice_id: str
    customer_id: str
    number: str
    issue_date: date
    due_date: date
    currency: str
    amount: DecimalAmount
    residual: DecimalAmount
    status: InvoiceStatus
    as_of: date = Field(description="the date status and days_overdue are computed for")
    days_overdue: int
    created_at: datetime


class AllocationPublic(BaseModel):
    payment_id: str
    invoice_id: str
    amount: DecimalAmount
    applied_on: date
    days_late: int
    reversed_on: date | None


class CreditNotePublic(BaseModel):
    credit_note_id: str
    invoice_id: str
    currency: str
    amount: DecimalAmount
    reason: str
    note: str | None
    issued_on: date


class WriteOffPublic(BaseModel):
    invoice_id: str
    currency: str
    amount: DecimalAmount
    reason: str
    approver: str
    written_off_on: date


class HistoryLine(BaseModel):
    kind: EntryKind
    reference: str
    effective_date: date
    posted_at: datetime
    amount: DecimalAmount = Field(description="signed change of what is owed")
    owed_after: DecimalAmount


class InvoiceDetail(InvoicePublic):
    allocations: list[AllocationPublic]
    credit_notes: list[CreditNotePublic]
    write_off: WriteOffPublic | None
    history: list[HistoryLine]


class InvoiceVoid(StrictIn):
    voided_on: date
    reason: Reason = Field(min_length=1, max_length=500)


class CreditNoteCreate(AmountIn):
    credit_note_id: ExternalId
    reason: CreditReason
    note: str | None = Field(None, max_length=500)
    issued_on: date


class WriteOffCreate(StrictIn):
    reason: Reason = Field(min_length=1, max_length=500)
    approver: str = Field(min_length=1, max_length=64, description="who approved the write-off")
    written_off_on: date


# --- payments ----------------------------------------------------------------------------


class AllocationIn(StrictIn):
    invoice_id: ExternalId
    amount: DecimalAmount


def _check_allocations(allocations: list[AllocationIn] | None, currency: str) -> None:
    for index, item in enumerate(allocations or ()):
        try:
            parse_positive(item.amount, currency)
        except ValueError as exc:
            raise ValueError(f"allocations[{index}].amount: {exc}") from exc


class PaymentCreate(AmountIn):
    payment_id: ExternalId
    customer_id: ExternalId
    received_on: date
    method: Method
    reference: str | None = Field(None, max_length=128, examples=["BANK-REF-778812"])
    allocations: list[AllocationIn] | None = Field(
        None,
        max_length=1000,
        description="explicit allocations; without them the oldest due invoices are paid first",
    )

    @model_validator(mode="after")
    def _allocations_fit_currency(self) -> Self:
        _check_allocations(self.allocations, self.currency)
        return self


class PaymentAllocate(StrictIn):
    currency: CurrencyCode
    allocations: list[AllocationIn] | None = Field(None, max_length=1000)

    @model_validator(mode="after")
    def _allocations_fit_currency(self) -> Self:
        _check_allocations(self.allocations, self.currency)
        return self


class PaymentReverse(StrictIn):
    reversed_on: date
    reason: Reason = Field(min_length=1, max_length=500, examples=["cheque bounced"])


class PaymentPublic(BaseModel):
    payment_id: str
    customer_id: str
    currency: str
    amount: DecimalAmount
    unapplied: DecimalAmount
    received_on: date
    method: str
    reference: str | None
    reversed_on: date | None
    allocations: list[AllocationPublic]
    created_at: datetime
