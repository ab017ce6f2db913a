"""Reminders's response models (the gateway publishes these same models)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from huikuan_runtime.fields import DecimalAmount


class ChasedInvoice(BaseModel):
    invoice_id: str
    number: str
    due_date: date
    currency: str
    residual: DecimalAmount


class DunningPublic(BaseModel):
    customer_id: str
    open_invoice_count: int
    next_due_date: date | None
    invoices: list[ChasedInvoice]
