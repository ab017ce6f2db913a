"""Payment request and response models."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator

from huikuan_contracts.fields import (
    AmountIn,
    CurrencyCode,
    DecimalAmount,
    ExternalId,
    StrictIn,
    parse_positive,
)
from huikuan_contracts.ledger.invoices import AllocationPublic, Reason
from huikuan_contracts.problems import ProblemDetails

Method = Literal["bank_transfer", "cheque", "bank_acceptance_bill", "cash", "card", "offset"]


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


class PaymentBatch(StrictIn):
    items: list[PaymentCreate] = Field(min_length=1, max_length=1000)


class PaymentBatchItem(BaseModel):
    index: int = Field(description="position of the item in the request")
    payment_id: str
    outcome: Literal["created", "existing", "rejected"]
    payment: PaymentPublic | None = None
    problem: ProblemDetails | None = None


class PaymentBatchResult(BaseModel):
    created: int
    existing: int
    rejected: int
    items: list[PaymentBatchItem]
