"""What reminders does with each event it consumes: event type -> handler."""

from __future__ import annotations

import asyncpg

from huikuan_events import Envelope
from huikuan_events.ledger import CustomerUpserted, InvoiceIssued
from huikuan_events.topics import LEDGER_EVENTS
from huikuan_runtime.consumer import Handler
from reminders.store import book

TOPICS = (LEDGER_EVENTS,)


async def on_customer_upserted(conn: asyncpg.Connection, event: Envelope) -> None:
    await book.upsert_contact(conn, event.tenant, CustomerUpserted.model_validate(event.data))


async def on_invoice_issued(conn: asyncpg.Connection, event: Envelope) -> None:
    await book.add_invoice(conn, event.tenant, InvoiceIssued.model_validate(event.data))


HANDLERS: dict[str, Handler] = {
    "ledger.customer_upserted.v1": on_customer_upserted,
    "ledger.invoice_issued.v1": on_invoice_issued,
}
