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
