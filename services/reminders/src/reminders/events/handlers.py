"""What reminders does with each event it consumes: event type -> handler. Each runs in
the consumer's transaction (the event id is recorded in the same one)."""

from __future__ import annotations

import asyncpg

from huikuan_events import Envelope
from huikuan_events.credit import ScoreChanged
from huikuan_events.ledger import (
    CustomerUpserted,
    DisputeOpened,
    DisputeResolved,
    InvoiceAdjusted,
    InvoiceIssued,
    InvoiceSettled,
    InvoiceVoided,
    InvoiceWrittenOff,
    PaymentApplied,
    PaymentReversed,
)
from huikuan_events.reminders import SOURCE, PromiseKept
from huikuan_events.topics import CREDIT_EVENTS, LEDGER_EVENTS, REMINDERS_EVENTS
from huikuan_runtime import outbox
from huikuan_runtime.consumer import Handler
from reminders.store import book, dunning

TOPICS = (LEDGER_EVENTS, CREDIT_EVENTS)


async def on_customer_upserted(conn: asyncpg.Connection, event: Envelope) -> None:
    await book.upsert_contact(conn, event.tenant, event.read_data(CustomerUpserted))


async def on_invoice_issued(conn: asyncpg.Connection, event: Envelope) -> None:
    await book.add_invoice(conn, event.tenant, event.read_data(InvoiceIssued))


async def on_payment_applied(conn: asyncpg.Connection, event: Envelope) -> None:
    """The residual after the payment is chased; money applied in time counts toward the
    promises covering the invoice, and a promise covered is kept."""
    p = event.read_data(PaymentApplied)
    # Promise rows before invoice rows: the scheduler locks them in this order too.
    touched = await dunning.pay_promises(
        conn, event.tenant, p.customer_id, p.invoice_id, p.currency, p.amount_minor, p.applied_on
    )
    await book.set_residual(conn, event.tenant, p.invoice_id, p.invoice_residual_minor)
    await book.record_applied(conn, event.tenant, p.payment_id, p.invoice_id, p.amount_minor)
    for row in touched:
        if row["paid_minor"] >= row["amount_minor"]:
            await dunning.judge_promise(conn, event.tenant, row["promise_id"], "kept", p.applied_on)
            await outbox.record(
                conn,
                topic=REMINDERS_EVENTS,
                source=SOURCE,
                tenant=event.tenant,
                subject=p.customer_id,
                at=event.time,
                payload=PromiseKept(
                    promise_id=row["promise_id"], customer_id=p.customer_id, kept_on=p.applied_on
                ),
            )


async def on_invoice_adjusted(conn: asyncpg.Connection, event: Envelope) -> None:
    a = event.read_data(InvoiceAdjusted)
    await book.set_residual(conn, event.tenant, a.invoice_id, a.residual_minor)


async def on_invoice_settled(conn: asyncpg.Connection, event: Envelope) -> None:
    s = event.read_data(InvoiceSettled)
    await book.set_residual(conn, event.tenant, s.invoice_id, 0)


async def on_invoice_voided(conn: asyncpg.Connection, event: Envelope) -> None:
    await book.close_invoice(conn, event.tenant, event.read_data(InvoiceVoided).invoice_id)


async def on_invoice_written_off(conn: asyncpg.Connection, event: Envelope) -> None:
    w = event.read_data(InvoiceWrittenOff)
    await book.close_invoice(conn, event.tenant, w.invoice_id)


async def on_dispute_opened(conn: asyncpg.Connection, event: Envelope) -> None:
    d = event.read_data(DisputeOpened)
    await book.set_disputed(conn, event.tenant, d.invoice_id, True)


async def on_dispute_resolved(conn: asyncpg.Connection, event: Envelope) -> None:
    d = event.read_data(DisputeResolved)
    await book.set_disputed(conn, event.tenant, d.invoice_id, False)


async def on_payment_reversed(conn: asyncpg.Connection, event: Envelope) -> None:
    r = event.read_data(PaymentReversed)
    await book.reopen_for_reversal(conn, event.tenant, r.payment_id, r.reopened_invoice_ids)


async def on_score_changed(conn: asyncpg.Connection, event: Envelope) -> None:
    s = event.read_data(ScoreChanged)
    await book.set_grade(conn, event.tenant, s.customer_id, s.new_grade)


HANDLERS: dict[str, Handler] = {
    "ledger.customer_upserted.v1": on_customer_upserted,
    "ledger.invoice_issued.v1": on_invoice_issued,
    "ledger.payment_applied.v1": on_payment_applied,
    "ledger.invoice_adjusted.v1": on_invoice_adjusted,
    "ledger.invoice_settled.v1": on_invoice_settled,
    "ledger.invoice_voided.v1": on_invoice_voided,
    "ledger.invoice_written_off.v1": on_invoice_written_off,
    "ledger.dispute_opened.v1": on_dispute_opened,
    "ledger.dispute_resolved.v1": on_dispute_resolved,
    "ledger.payment_reversed.v1": on_payment_reversed,
    "credit.score_changed.v1": on_score_changed,
}
