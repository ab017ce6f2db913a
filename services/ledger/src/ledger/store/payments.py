"""SQL for payments and their allocations."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg

from huikuan_contracts.money import Money


async def get(conn: asyncpg.Connection, tenant: str, payment_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM payment WHERE tenant = $1 AND payment_id = $2", tenant, payment_id
    )


async def lock(conn: asyncpg.Connection, tenant: str, payment_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM payment WHERE tenant = $1 AND payment_id = $2 FOR UPDATE",
        tenant,
        payment_id,
    )


async def insert(
    conn: asyncpg.Connection,
    tenant: str,
    *,
    payment_id: str,
    customer_id: str,
    amount: Money,
    received_on: date,
    method: str,
    reference: str | None,
    fingerprint: str,
    at: datetime,
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """INSERT INTO payment (tenant, payment_id, customer_id, currency, amount_minor,
                                unapplied_minor, received_on, method, reference, fingerprint,
                                created_at)
           VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (tenant, payment_id) DO NOTHING RETURNING *""",
        tenant,
        payment_id,
        customer_id,
        amount.currency,
        amount.amount_minor,
        received_on,
        method,
        reference,
        fingerprint,
        at,
    )


async def lock_unapplied(
    conn: asyncpg.Connection, tenant: str, customer_id: str, currency: str
) -> list[asyncpg.Record]:
    """Payments of the customer with money not yet matched, oldest first, locked."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT * FROM payment
           WHERE tenant = $1 AND customer_id = $2 AND currency = $3
             AND unapplied_minor > 0 AND reversed_on IS NULL
           ORDER BY received_on, payment_id FOR UPDATE""",
        tenant,
        customer_id,
        currency,
    )
    return rows


async def set_unapplied(
    conn: asyncpg.Connection, tenant: str, payment_id: str, unapplied: int
) -> None:
    await conn.execute(
        "UPDATE payment SET unapplied_minor = $3 WHERE tenant = $1 AND payment_id = $2",
        tenant,
        payment_id,
        unapplied,
    )


async def mark_reversed(
    conn: asyncpg.Connection, tenant: str, payment_id: str, on: date, reason: str
) -> asyncpg.Record:
    row: asyncpg.Record = await conn.fetchrow(
        """UPDATE payment SET unapplied_minor = 0, reversed_on = $3, reversal_reason = $4
           WHERE tenant = $1 AND payment_id = $2 RETURNING *""",
        tenant,
        payment_id,
        on,
        reason,
    )
    return row


async def insert_allocation(
    conn: asyncpg.Connection,
    tenant: str,
    *,
    payment_id: str,
    invoice_id: str,
    amount: int,
    applied_on: date,
    days_late: int,
    at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO allocation (tenant, payment_id, invoice_id, amount_minor, applied_on,
                                   days_late, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        tenant,
        payment_id,
        invoice_id,
        amount,
        applied_on,
        days_late,
        at,
    )


async def active_allocations_of_payment(
    conn: asyncpg.Connection, tenant: str, payment_id: str
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT * FROM allocation WHERE tenant = $1 AND payment_id = $2
           AND reversed_on IS NULL ORDER BY allocation_id""",
        tenant,
        payment_id,
    )
    return rows


async def reverse_allocations(
    conn: asyncpg.Connection, tenant: str, payment_id: str, on: date
) -> None:
    await conn.execute(
        """UPDATE allocation SET reversed_on = $3
           WHERE tenant = $1 AND payment_id = $2 AND reversed_on IS NULL""",
        tenant,
        payment_id,
        on,
    )


async def allocations_of_invoice(
    conn: asyncpg.Connection, tenant: str, invoice_id: str
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT a.*, p.method, p.received_on FROM allocation a
           JOIN payment p ON p.tenant = a.tenant AND p.payment_id = a.payment_id
           WHERE a.tenant = $1 AND a.invoice_id = $2 ORDER BY a.allocation_id""",
        tenant,
        invoice_id,
    )
    return rows


async def allocations_of_payment(
    conn: asyncpg.Connection, tenant: str, payment_id: str
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT * FROM allocation WHERE tenant = $1 AND payment_id = $2
           ORDER BY allocation_id""",
        tenant,
        payment_id,
    )
    return rows


async def holding_cash(
    conn: asyncpg.Connection, tenant: str, customer_ids: list[str]
) -> set[tuple[str, str]]:
    """(customer, currency) pairs among `customer_ids` with unapplied cash."""
    rows = await conn.fetch(
        """SELECT DISTINCT customer_id, currency FROM payment
           WHERE tenant = $1 AND customer_id = ANY($2::text[])
             AND unapplied_minor > 0 AND reversed_on IS NULL""",
        tenant,
        customer_ids,
    )
    return {(r["customer_id"], r["currency"]) for r in rows}
