"""Use cases for payments: receive (and allocate), allocate held cash, reverse, read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from huikuan_contracts.money import Money
from huikuan_events.ledger import PaymentReceived, PaymentReversed
from huikuan_runtime.db import unit_of_work
from huikuan_runtime.problems import Conflict, NotFound
from ledger.domain import allocation, journal
from ledger.domain.allocation import AllocationError, OpenInvoice
from ledger.domain.fingerprint import fingerprint
from ledger.events.outbox import emit
from ledger.service.invoices import invalid, lock_customer
from ledger.service.settlement import Held, Owed, apply
from ledger.store import invoices, payments
from ledger.store import journal as journal_store

METHODS = ("bank_transfer", "cheque", "bank_acceptance_bill", "cash", "card", "offset")


@dataclass(frozen=True, slots=True)
class Received:
    row: asyncpg.Record
    allocations: list[asyncpg.Record]
    created: bool


async def _allocate(
    conn: asyncpg.Connection,
    tenant: str,
    customer_id: str,
    held: Held,
    requested: Sequence[tuple[str, int]] | None,
    at: datetime,
) -> None:
    """Spend a payment's held money: on the caller's list, or oldest due first."""
    rows = await invoices.lock_open(conn, tenant, customer_id, held.currency)
    owed = {r["invoice_id"]: Owed.of(r) for r in rows}
    open_invoices = {
        r["invoice_id"]: OpenInvoice(
            r["invoice_id"],
            r["currency"],
            r["issue_date"],
            r["due_date"],
            r["residual_minor"],
            r["disputed"],
        )
        for r in rows
    }
    try:
        plan = (
            allocation.oldest_due_first(held.unapplied, open_invoices.values())
            if requested is None
            else allocation.explicit(held.unapplied, held.currency, requested, open_invoices)
        )
    except AllocationError as exc:
        raise invalid(exc.field, str(exc)) from exc
    for step in plan:
        await apply(conn, tenant, customer_id, held, owed[step.invoice_id], step.amount_minor, at)


async def receive_payment(
    pool: asyncpg.Pool,
    tenant: str,
    *,
    payment_id: str,
    customer_id: str,
    amount: Money,
    received_on: date,
    method: str,
    reference: str | None,
    allocations: Sequence[tuple[str, int]] | None,
    at: datetime,
) -> Received:
    """Record money received and match it; what is left stays as unapplied cash."""
    print_ = fingerprint(
        customer_id=customer_id,
        currency=amount.currency,
        amount=amount.amount_minor,
        received_on=received_on,
        method=method,
        reference=reference,
        allocations=allocations,
    )
    async with unit_of_work(pool) as conn:
        await lock_customer(conn, tenant, customer_id)
        row = await payments.insert(
            conn,
            tenant,
            payment_id=payment_id,
            customer_id=customer_id,
            amount=amount,
            received_on=received_on,
            method=method,
            reference=reference,
            fingerprint=print_,
            at=at,
        )
        if row is None:
            existing = await payments.get(conn, tenant, payment_id)
            assert existing is not None
            if existing["fingerprint"] != print_:
                raise Conflict(
                    f"payment {payment_id!r} already exists with different content",
                    payment_id=payment_id,
                )
            return Received(
                existing,
                await payments.allocations_of_payment(conn, tenant, payment_id),
                created=False,
            )
        await journal_store.post(
            conn,
            tenant,
            [
                journal.payment_received(
                    customer_id,
                    payment_id,
                    amount.currency,
                    amount.amount_minor,
                    received_on,
                )
            ],
            at,
        )
        await emit(
            conn,
            tenant,
            customer_id,
            PaymentReceived(
                payment_id=payment_id,
                customer_id=customer_id,
                currency=amount.currency,
                amount_minor=amount.amount_minor,
                received_on=received_on,
                method=method,
                reference=reference,
            ),
            at,
        )
        await _allocate(conn, tenant, customer_id, Held.of(row), allocations, at)
        current = await payments.get(conn, tenant, payment_id)
        assert current is not None
        return Received(
            current, await payments.allocations_of_payment(conn, tenant, payment_id), created=True
        )


async def _lock_payment(conn: asyncpg.Connection, tenant: str, payment_id: str) -> asyncpg.Record:
    found = await payments.get(conn, tenant, payment_id)
    if found is None:
        raise NotFound(f"no payment {payment_id!r}")
    await lock_customer(conn, tenant, found["customer_id"])
    row = await payments.lock(conn, tenant, payment_id)
    assert row is not None
    return row


async def allocate_held(
    pool: asyncpg.Pool,
    tenant: str,
    payment_id: str,
    *,
    currency: str,
    allocations: Sequence[tuple[str, int]] | None,
    at: datetime,
) -> Received:
    """Match a payment's unapplied cash now: to the given invoices, or oldest due first."""
    async with unit_of_work(pool) as conn:
        row = await _lock_payment(conn, tenant, payment_id)
        if row["reversed_on"] is not None:
            raise Conflict(f"payment {payment_id!r} was reversed")
        if currency != row["currency"]:
            raise invalid("currency", f"payment {payment_id!r} is in {row['currency']}")
        if row["unapplied_minor"] == 0:
            raise Conflict(f"payment {payment_id!r} has no unapplied cash left")
        await _allocate(conn, tenant, row["customer_id"], Held.of(row), allocations, at)
        current = await payments.get(conn, tenant, payment_id)
        assert current is not None
        return Received(
            current, await payments.allocations_of_payment(conn, tenant, payment_id), created=True
        )


async def reverse_payment(
    pool: asyncpg.Pool,
    tenant: str,
    payment_id: str,
    *,
    reversed_on: date,
    reason: str,
    at: datetime,
) -> Received:
    """Undo a payment (a bounced cheque): every invoice it paid is owed again."""
    async with unit_of_work(pool) as conn:
        row = await _lock_payment(conn, tenant, payment_id)
        customer_id, currency = row["customer_id"], row["currency"]
        if row["reversed_on"] is not None:
            if (row["reversed_on"], row["reversal_reason"]) != (reversed_on, reason):
                raise Conflict(
                    f"payment {payment_id!r} was already reversed on {row['reversed_on']}"
                )
            return Received(
                row, await payments.allocations_of_payment(conn, tenant, payment_id), created=False
            )
        if reversed_on < row["received_on"]:
            raise invalid("reversed_on", "cannot be before the payment was received")
        active = await payments.active_allocations_of_payment(conn, tenant, payment_id)
        latest = max((a["applied_on"] for a in active), default=row["received_on"])
        if reversed_on < latest:
            raise invalid("reversed_on", f"cannot be before the money was applied ({latest})")
        entries = []
        reopened: dict[str, int] = {}
        for alloc in active:
            reopened[alloc["invoice_id"]] = (
                reopened.get(alloc["invoice_id"], 0) + alloc["amount_minor"]
            )
            entries.append(
                journal.allocation_reversed(
                    customer_id,
                    payment_id,
                    alloc["invoice_id"],
                    currency,
                    alloc["amount_minor"],
                    reversed_on,
                    reference=payment_id,
                )
            )
        entries.append(
            journal.payment_reversed(
                customer_id, payment_id, currency, row["amount_minor"], reversed_on
            )
        )
        await journal_store.post(conn, tenant, entries, at)
        for invoice_id, amount in sorted(reopened.items()):
            invoice = await invoices.lock(conn, tenant, invoice_id)
            assert invoice is not None
            await invoices.set_residual(
                conn, tenant, invoice_id, invoice["residual_minor"] + amount, None
            )
        await payments.reverse_allocations(conn, tenant, payment_id, reversed_on)
        reversed_row = await payments.mark_reversed(conn, tenant, payment_id, reversed_on, reason)
        await emit(
            conn,
            tenant,
            customer_id,
            PaymentReversed(
                payment_id=payment_id,
                customer_id=customer_id,
                currency=currency,
                amount_minor=row["amount_minor"],
                reversed_on=reversed_on,
                reason=reason,
                reopened_invoice_ids=sorted(reopened),
            ),
            at,
        )
        return Received(
            reversed_row,
            await payments.allocations_of_payment(conn, tenant, payment_id),
            created=True,
        )


async def get_payment(pool: asyncpg.Pool, tenant: str, payment_id: str) -> Received:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        row = await payments.get(conn, tenant, payment_id)
        if row is None:
            raise NotFound(f"no payment {payment_id!r}")
        return Received(
            row, await payments.allocations_of_payment(conn, tenant, payment_id), created=False
        )
