"""SQL for the invoices and contacts reminders chases."""

from __future__ import annotations

import asyncpg

from huikuan_events.ledger import CustomerUpserted, InvoiceIssued


async def upsert_contact(conn: asyncpg.Connection, tenant: str, c: CustomerUpserted) -> None:
    await conn.execute(
        """INSERT INTO contact (tenant, customer_id, name, email, phone, language, timezone, owner)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (tenant, customer_id) DO UPDATE
           SET name = EXCLUDED.name, email = EXCLUDED.email, phone = EXCLUDED.phone,
               language = EXCLUDED.language, timezone = EXCLUDED.timezone,
               owner = EXCLUDED.owner""",
        tenant, c.customer_id, c.name, c.email, c.phone, c.language, c.timezone, c.owner,
    )  # fmt: skip


async def add_invoice(conn: asyncpg.Connection, tenant: str, i: InvoiceIssued) -> None:
    await conn.execute(
        """INSERT INTO chased_invoice (tenant, invoice_id, customer_id, number, due_date,
                                       currency, residual_minor)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (tenant, invoice_id) DO NOTHING""",
        tenant, i.invoice_id, i.customer_id, i.number, i.due_date, i.currency, i.amount_minor,
    )  # fmt: skip


async def open_invoices(
    conn: asyncpg.Connection, tenant: str, customer_id: str
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT invoice_id, number, due_date, currency, residual_minor FROM chased_invoice
           WHERE tenant = $1 AND customer_id = $2 AND residual_minor > 0
           ORDER BY due_date, invoice_id""",
        tenant, customer_id,
    )  # fmt: skip
    return rows


async def contact(conn: asyncpg.Connection, tenant: str, customer_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM contact WHERE tenant = $1 AND customer_id = $2", tenant, customer_id
    )
