"""Dispute request and response models."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator

from huikuan_contracts.fields import AmountIn, DecimalAmount, ExternalId, StrictIn

Outcome = Literal["accepted", "rejected"]


class DisputeCreate(AmountIn):
    """`amount` is the disputed part of the invoice: at most its residual, in its currency."""

    dispute_id: ExternalId
    reason: str = Field(min_length=1, max_length=500, examples=["quality claim: 20 cartons damp"])
    opened_on: date


class DisputeCreditIn(AmountIn):
    """The credit note an accepted dispute comes with: at most the disputed amount."""

    credit_note_id: ExternalId


class DisputeResolve(StrictIn):
    outcome: Outcome
    resolved_on: date
    note: str | None = Field(None, max_length=500)
    credit_note: DisputeCreditIn | None = Field(
        None, description="required when the outcome is accepted; refused when rejected"
    )

    @model_validator(mode="after")
    def _credit_note_goes_with_acceptance(self) -> Self:
        if self.outcome == "accepted" and self.credit_note is None:
            raise ValueError("credit_note: an accepted dispute comes with a credit note")
        if self.outcome == "rejected" and self.credit_note is not None:
            raise ValueError("credit_note: a rejected dispute has no credit note")
        return self


class DisputeCreditPublic(BaseModel):
    credit_note_id: str
    amount: DecimalAmount


class DisputePublic(BaseModel):
    dispute_id: str
    invoice_id: str
    customer_id: str
    currency: str
    amount: DecimalAmount = Field(description="the disputed amount")
    reason: str
    opened_on: date
    status: Literal["open", "accepted", "rejected"]
    resolved_on: date | None
    resolution_note: str | None
    credit_note: DisputeCreditPublic | None = Field(
        description="the credit note an accepted dispute was settled with"
    )
    created_at: datetime
