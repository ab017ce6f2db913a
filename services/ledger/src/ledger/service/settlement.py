"""Applying held money to invoices: the one place allocations are posted.

Callers hold the customer lock and pass the current (locked) payment and invoice state;
each call posts one balanced allocation entry, updates the cached residual and unapplied
amounts, and writes `payment_applied` (and `invoice_settled` when the residual reaches
zero) to the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from huikuan_events.ledger import InvoiceSettled, PaymentApplied
from ledger.domain import journal
from ledger.domain.allocation import days_late, settlement_date
from ledger.events.outbox import emit
from ledger.store import invoices, payments
from ledger.store import journal as journal_store


@dataclass(slots=True)
class Held:
    """A payment's money not yet matched (mutable while the caller works)."""

    payment_id: str
    currency: str
    received_on: date
    unapplied: int

    @classmethod
    def of(cls, row: asyncpg.Record) -> Held:
        return cls(row["payment_id"], row["currency"], row["received_on"], row["unapplied_minor"])


@dataclass(slots=True)
class Owed:
    """An invoice's residual (mutable while the caller works)."""

    invoice_id: str
    currency: str
    issue_date: date
    due_date: date
    residual: int

    @classmethod
    def of(cls, row: asyncpg.Record) -> Owed:
        return cls(
            row["invoice_id"],
            row["currency"],
            row["issue_date"],
            row["due_date"],
            row["residual_minor"],
        )


async def apply(
    conn: asyncpg.Connection,
    tenant: str,
    customer_id: str,
    held: Held,
    owed: Owed,
    amount: int,
    at: datetime,
) -> None:
    """Move `amount` of `held` onto `owed`."""
    if not 0 < amount <= min(held.unapplied, owed.residual) or held.currency != owed.currency:
        raise ValueError(f"cannot apply {amount} of {held.payment_id} to {owed.invoice_id}")
    on = settlement_date(held.received_on, owed.issue_date)
    late = days_late(on, owed.due_date)
    await journal_store.post(
        conn,
        tenant,
        [
            journal.allocation(
                customer_id,
                held.payment_id,
                owed.invoice_id,
                held.currency,
                amount,
                on,
                reference=held.payment_id,
            )
        ],
        at,
    )
    await payments.insert_allocation(
        conn,
        tenant,
        payment_id=held.payment_id,
        invoice_id=owed.invoice_id,
        amount=amount,
        applied_on=on,
        days_late=late,
        at=at,
    )
    held.unapplied -= amount
    owed.residual -= amount
    await payments.set_unapplied(conn, tenant, held.payment_id, held.unapplied)
    await invoices.set_residual(
        conn, tenant, owed.invoice_id, owed.residual, on if owed.residual == 0 else None
    )
    await emit(
        conn,
        tenant,
        customer_id,
        PaymentApplied(
            payment_id=held.payment_id,
            invoice_id=owed.invoice_id,
            customer_id=customer_id,
            currency=held.currency,
            amount_minor=amount,
            applied_on=on,
            due_date=owed.due_date,
            days_late=late,
            invoice_residual_minor=owed.residual,
        ),
        at,
    )
    if owed.residual == 0:
        await emit(
            conn,
            tenant,
            customer_id,
            InvoiceSettled(
                invoice_id=owed.invoice_id,
                customer_id=customer_id,
                currency=owed.currency,
                settled_on=on,
                days_late=late,
            ),
            at,
        )


async def spend_held_cash(
    conn: asyncpg.Connection, tenant: str, customer_id: str, owed: Owed, at: datetime
) -> None:
    """Apply the customer's unapplied cash (oldest payment first) to a new invoice."""
    for row in await payments.lock_unapplied(conn, tenant, customer_id, owed.currency):
        if owed.residual == 0:
            break
        held = Held.of(row)
        await apply(conn, tenant, customer_id, held, owed, min(held.unapplied, owed.residual), at)
