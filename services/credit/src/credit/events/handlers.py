"""What credit does with each event it consumes: event type -> handler."""

from __future__ import annotations

import asyncpg

from credit.store import exposure
from huikuan_events import Envelope
from huikuan_events.ledger import CustomerUpserted, InvoiceIssued
from huikuan_events.topics import LEDGER_EVENTS
from huikuan_runtime.consumer import Handler

TOPICS = (LEDGER_EVENTS,)


async def on_customer_upserted(conn: asyncpg.Connection, event: Envelope) -> None:
    data = CustomerUpserted.model_validate(event.data)
    await exposure.upsert_profile(
        conn, event.tenant, data.customer_id, data.name, data.payment_terms_days, event.time
    )


async def on_invoice_issued(conn: asyncpg.Connection, event: Envelope) -> None:
    data = InvoiceIssued.model_validate(event.data)
    await exposure.add_open_invoice(
        conn, event.tenant, data.customer_id, data.currency, data.amount_minor, event.time
    )


HANDLERS: dict[str, Handler] = {
    "ledger.customer_upserted.v1": on_customer_upserted,
    "ledger.invoice_issued.v1": on_invoice_issued,
}
