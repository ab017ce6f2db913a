"""SQL for invoices."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from ledger.domain.invoices import NewInvoice


async def get(conn: asyncpg.Connection, tenant: str, invoice_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM invoice WHERE tenant = $1 AND invoice_id = $2", tenant, invoice_id
    )


async def insert(
    conn: asyncpg.Connection, tenant: str, invoice: NewInvoice, at: datetime
) -> asyncpg.Record | None:
    """Insert the invoice; None when the id is already taken (a concurrent or repeated call)."""
    return await conn.fetchrow(
        """INSERT INTO invoice (tenant, invoice_id, customer_id, number, issue_date, due_date,
                                currency, amount_minor, fingerprint, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (tenant, invoice_id) DO NOTHING RETURNING *""",
        tenant,
        invoice.invoice_id,
        invoice.customer_id,
        invoice.number,
        invoice.issue_date,
        invoice.due_date,
        invoice.amount.currency,
        invoice.amount.amount_minor,
        invoice.fingerprint,
        at,
    )


async def open_totals(
    conn: asyncpg.Connection, tenant: str, customer_id: str
) -> list[asyncpg.Record]:
    """Per currency: how many invoices and how much they total."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT currency, count(*) AS invoices, sum(amount_minor)::bigint AS total_minor
           FROM invoice WHERE tenant = $1 AND customer_id = $2
           GROUP BY currency ORDER BY currency""",
        tenant,
        customer_id,
    )
    return rows
