"""The ledger's vocabularies that the API shows: kinds of journal entry, invoice statuses,
how aging is grouped. The ledger's domain uses these same types."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal


class EntryKind(StrEnum):
    INVOICE = "invoice"
    INVOICE_VOID = "invoice_void"
    PAYMENT = "payment"
    ALLOCATION = "allocation"
    CREDIT_NOTE = "credit_note"
    WRITE_OFF = "write_off"
    PAYMENT_REVERSAL = "payment_reversal"
    ALLOCATION_REVERSAL = "allocation_reversal"


class InvoiceStatus(StrEnum):
    OPEN = "open"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    OVERDUE = "overdue"
    DISPUTED = "disputed"
    WRITTEN_OFF = "written_off"
    VOID = "void"


GroupBy = Literal["customer", "owner", "region"]
