"""SQL for statements of account (read from the journal) and their confirmations."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg


async def balances_through(
    conn: asyncpg.Connection, tenant: str, customer_id: str, through: date, currency: str | None
) -> list[asyncpg.Record]:
    """Per currency, the customer's receivable and unapplied cash at the end of `through`
    (unapplied cash as a positive amount held)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT currency,
                  coalesce(sum(amount_minor) FILTER (WHERE account = 'receivable'), 0)::bigint
                      AS receivable_minor,
                  coalesce(-sum(amount_minor) FILTER (WHERE account = 'unapplied_cash'), 0)::bigint
                      AS unapplied_minor
           FROM journal_line
           WHERE tenant = $1 AND customer_id = $2 AND effective_date <= $3
             AND ($4::text IS NULL OR currency = $4)
           GROUP BY currency ORDER BY currency""",
        tenant,
        customer_id,
        through,
        currency,
    )
    return rows


async def entries_between(
    conn: asyncpg.Connection,
    tenant: str,
    customer_id: str,
    first: date,
    last: date,
    currency: str | None,
) -> list[asyncpg.Record]:
    """Each journal entry touching the customer effective in [first, last], per currency,
    in effective-date then posting order: its change to the receivable and to the cash held."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT e.entry_id, e.kind, e.reference, e.effective_date, e.posted_at, l.currency,
                  coalesce(sum(l.amount_minor) FILTER (WHERE l.account = 'receivable'), 0)::bigint
                      AS receivable_minor,
                  coalesce(-sum(l.amount_minor) FILTER (WHERE l.account = 'unapplied_cash'),
                           0)::bigint AS unapplied_minor,
                  min(l.invoice_id) AS invoice_id, min(l.payment_id) AS payment_id
           FROM journal_line l JOIN journal_entry e USING (entry_id)
           WHERE l.tenant = $1 AND l.customer_id = $2 AND l.effective_date BETWEEN $3 AND $4
             AND ($5::text IS NULL OR l.currency = $5)
           GROUP BY e.entry_id, l.currency
           ORDER BY l.currency, e.effective_date, e.entry_id""",
        tenant,
        customer_id,
        first,
        last,
        currency,
    )
    return rows


async def get_confirmation(
    conn: asyncpg.Connection, tenant: str, confirmation_id: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM statement_confirmation WHERE tenant = $1 AND confirmation_id = $2",
        tenant,
        confirmation_id,
    )


async def insert_confirmation(
    conn: asyncpg.Connection,
    tenant: str,
    *,
    confirmation_id: str,
    customer_id: str,
    period_from: date,
    period_to: date,
    currency: str,
    our_balance: int,
    their_balance: int,
    status: str,
    note: str | None,
    fingerprint: str,
    at: datetime,
) -> asyncpg.Record | None:
    """None when the id is already taken (a concurrent or repeated call)."""
    return await conn.fetchrow(
        """INSERT INTO statement_confirmation (
               tenant, confirmation_id, customer_id, period_from, period_to, currency,
               our_balance_minor, their_balance_minor, difference_minor, status, note,
               fingerprint, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7::bigint, $8::bigint, $7::bigint - $8::bigint,
                   $9, $10, $11, $12)
           ON CONFLICT (tenant, confirmation_id) DO NOTHING RETURNING *""",
        tenant,
        confirmation_id,
        customer_id,
        period_from,
        period_to,
        currency,
        our_balance,
        their_balance,
        status,
        note,
        fingerprint,
        at,
    )


async def confirmations_of_customer(
    conn: asyncpg.Connection,
    tenant: str,
    customer_id: str,
    *,
    currency: str | None,
    before: tuple[date, str] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Newest period first; `before` is the (period_to, confirmation_id) keyset cursor."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT * FROM statement_confirmation
           WHERE tenant = $1 AND customer_id = $2 AND ($3::text IS NULL OR currency = $3)
             AND ($4::date IS NULL OR (period_to, confirmation_id) < ($4::date, $5::text))
           ORDER BY period_to DESC, confirmation_id DESC
           LIMIT $6""",
        tenant,
        customer_id,
        currency,
        before[0] if before else None,
        before[1] if before else None,
        limit,
    )
    return rows
