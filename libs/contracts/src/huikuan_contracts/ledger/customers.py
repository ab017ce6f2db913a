"""Customer request and response models."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from huikuan_contracts.fields import (
    CountryCode,
    CurrencyCode,
    DecimalAmount,
    EmailAddress,
    ExternalId,
    LanguageTag,
    QueryIn,
    StrictIn,
    TimeZoneName,
)


class CustomerUpsert(StrictIn):
    name: str = Field(min_length=1, max_length=200, examples=["华东贸易有限公司"])
    email: EmailAddress | None = None
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


class CustomerQuery(QueryIn):
    """Filters of `GET /customers`."""

    model_config = ConfigDict(extra="forbid")

    owner: str | None = Field(None, max_length=64)
    region: str | None = Field(None, max_length=64)
    segment: str | None = Field(None, max_length=64)
    overdue: bool | None = Field(None, description="only customers with an overdue invoice")
    as_of: date | None = Field(None, description="the date `overdue` is judged on")
    limit: int = Field(50, ge=1, le=500)
    cursor: str | None = Field(None, max_length=512)


MAX_IDS = 500


class CustomerListQuery(CustomerQuery):
    """`GET /customers` as the ledger serves it: the public filters, and `ids` for the
    gateway (its grade filter asks for the customers credit listed)."""

    ids: list[ExternalId] | None = Field(
        None,
        max_length=MAX_IDS,
        description="only these customers (repeat the parameter, at most 500)",
    )


class CustomerPage(BaseModel):
    items: list[CustomerPublic]
    next_cursor: str | None
