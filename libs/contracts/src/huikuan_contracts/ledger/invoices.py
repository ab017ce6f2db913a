"""Invoice request and response models."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from huikuan_contracts.fields import (
    AmountIn,
    DecimalAmount,
    ExternalId,
    QueryIn,
    SignedAmount,
    StrictIn,
)
from huikuan_contracts.ledger.kinds import EntryKind, InvoiceStatus
from huikuan_contracts.problems import ProblemDetails

Reason = str
CreditReason = Literal["return", "rebate", "price_correction", "dispute", "other"]


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
    amount: SignedAmount = Field(description="signed change of what is owed")
    owed_after: SignedAmount


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


class InvoiceBatch(StrictIn):
    items: list[InvoiceCreate] = Field(min_length=1, max_length=1000)


class InvoiceBatchItem(BaseModel):
    """One item's result; `GET /invoices/{id}` has the whole invoice."""

    index: int = Field(description="position of the item in the request")
    invoice_id: str
    outcome: Literal["created", "existing", "rejected"]
    due_date: date | None = Field(None, description="as issued (derived from terms if omitted)")
    problem: ProblemDetails | None = None


class InvoiceBatchResult(BaseModel):
    created: int
    existing: int
    rejected: int
    items: list[InvoiceBatchItem]


class InvoiceQuery(QueryIn):
    """Filters of `GET /invoices`."""

    model_config = ConfigDict(extra="forbid")

    customer_id: ExternalId | None = None
    status: list[InvoiceStatus] | None = Field(None, description="any of these (repeatable)")
    as_of: date | None = Field(
        None, description="the date overdue is judged on (residuals are the current ones)"
    )
    limit: int = Field(50, ge=1, le=500)
    cursor: str | None = Field(None, max_length=512)


class InvoicePage(BaseModel):
    items: list[InvoicePublic]
    next_cursor: str | None
