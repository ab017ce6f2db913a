"""Credit's response models (the gateway publishes these same models)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from huikuan_runtime.fields import DecimalAmount


class ExposureLine(BaseModel):
    currency: str
    open_invoices: int
    open_amount: DecimalAmount


class CreditPublic(BaseModel):
    customer_id: str
    known_since: datetime | None
    exposure: list[ExposureLine]
