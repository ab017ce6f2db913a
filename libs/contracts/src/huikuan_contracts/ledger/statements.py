"""Statement of account and statement confirmation models."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from huikuan_contracts.fields import (
    CurrencyCode,
    DecimalAmount,
    ExternalId,
    FitsCurrency,
    QueryIn,
    StrictIn,
)
from huikuan_contracts.ledger.kinds import EntryKind
from huikuan_contracts.money import Money

SignedAmount = Annotated[
    str,
    Field(
        pattern=r"^-?[0-9]{1,15}(\.[0-9]{1,4})?$",
        examples=["-120.00"],
        description="a signed decimal string with no more fraction digits than the currency has",
    ),
]


class StatementQuery(QueryIn):
    model_config = ConfigDict(extra="forbid", serialize_by_alias=True)

    period_from: date = Field(alias="from", description="first day of the period")
    to: date = Field(description="last day of the period (inclusive)")
    currency: CurrencyCode | None = Field(
        None, description="only this currency; default every currency the customer uses"
    )

    @model_validator(mode="after")
    def _from_not_after_to(self) -> Self:
        if self.period_from > self.to:
            raise ValueError("from must not be after to")
        return self


class StatementBalance(BaseModel):
    balance: SignedAmount = Field(
        description="receivable - unapplied_cash: what the customer owes, net"
    )
    receivable: SignedAmount = Field(description="what its invoices still owe")
    unapplied_cash: SignedAmount = Field(description="money received, not yet matched")


class StatementLine(BaseModel):
    effective_date: date
    kind: EntryKind
    reference: str = Field(description="the invoice, payment or credit note id of the entry")
    invoice_id: str | None
    payment_id: str | None
    posted_at: datetime
    debit: DecimalAmount = Field(description="what the line adds to the balance")
    credit: DecimalAmount = Field(description="what the line takes off the balance")
    balance: SignedAmount = Field(description="the running balance after this line")


class CurrencyStatement(BaseModel):
    currency: str
    opening: StatementBalance = Field(description="at the end of the day before `from`")
    lines: list[StatementLine]
    total_debit: DecimalAmount
    total_credit: DecimalAmount
    closing: StatementBalance = Field(description="at the end of `to`")


class StatementPublic(BaseModel):
    """Lines are the entries that change the balance (invoices, voids, payments received,
    payment reversals, credit notes, write-offs) by effective date; matching cash to
    invoices only moves money between receivable and unapplied cash."""

    customer_id: str
    period_from: date
    period_to: date
    currencies: list[CurrencyStatement]


class ConfirmationCreate(StrictIn):
    confirmation_id: ExternalId
    period_from: date
    period_to: date
    currency: CurrencyCode
    their_balance: Annotated[SignedAmount, FitsCurrency] = Field(
        description="the balance the customer acknowledges at the end of period_to "
        "(net of unapplied cash, like ours)"
    )
    note: str | None = Field(None, max_length=500)

    @model_validator(mode="after")
    def _period_in_order(self) -> Self:
        if self.period_from > self.period_to:
            raise ValueError("period_from must not be after period_to")
        return self

    def their_money(self) -> Money:
        return Money.parse(self.their_balance, self.currency)


class ConfirmationPublic(BaseModel):
    confirmation_id: str
    customer_id: str
    period_from: date
    period_to: date
    currency: str
    our_balance: SignedAmount = Field(description="our balance at the end of period_to, then")
    their_balance: SignedAmount
    difference: SignedAmount = Field(description="our_balance - their_balance")
    status: Literal["confirmed", "discrepancy"]
    note: str | None
    created_at: datetime


class ConfirmationsQuery(QueryIn):
    model_config = ConfigDict(extra="forbid")

    currency: CurrencyCode | None = None
    limit: int = Field(50, ge=1, le=500)
    cursor: str | None = Field(None, max_length=512, description="`next_cursor` of the last page")


class ConfirmationPage(BaseModel):
    items: list[ConfirmationPublic]
    next_cursor: str | None
