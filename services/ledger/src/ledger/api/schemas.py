"""The ledger's request and response models (the gateway publishes these same models)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from huikuan_runtime.fields import (
    CountryCode,
    CurrencyCode,
    DecimalAmount,
    ExternalId,
    LanguageTag,
    TimeZoneName,
)
from huikuan_runtime.money import Money, MoneyError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CustomerUpsert(_Strict):
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


class InvoiceCreate(_Strict):
    invoice_id: ExternalId
    customer_id: ExternalId
    number: str = Field(min_length=1, max_length=64, examples=["INV-2026-0001"])
    issue_date: date
    due_date: date | None = Field(
        None, description="defaults to issue_date plus the customer's payment terms"
    )
    currency: CurrencyCode
    amount: DecimalAmount

    @field_validator("amount")
    @classmethod
    def _amount_fits_currency(cls, amount: str, info: ValidationInfo) -> str:
        currency = info.data.get("currency")
        if currency is None:  # the currency itself failed and is reported already
            return amount
        try:
            money = Money.parse(amount, currency)
        except MoneyError as exc:
            raise ValueError(str(exc)) from exc
        if money.amount_minor <= 0:
            raise ValueError("must be greater than zero")
        return amount

    def money(self) -> Money:
        return Money.parse(self.amount, self.currency)


class InvoicePublic(BaseModel):
    invoice_id: str
    customer_id: str
    number: str
    issue_date: date
    due_date: date
    currency: str
    amount: DecimalAmount
    residual: DecimalAmount
    status: Literal["open"]
    created_at: datetime


class CurrencyBalance(BaseModel):
    currency: str
    open_amount: DecimalAmount
    open_invoices: int


class CustomerBalances(BaseModel):
    customer_id: str
    balances: list[CurrencyBalance]
