"""SQL for the customers, contacts and invoices reminders chases, learnt from events."""

from __future__ import annotations

from datetime import date

import asyncpg

from huikuan_events.ledger import CustomerUpserted, InvoiceIssued


async def ensure_customer(conn: asyncpg.Connection, tenant: str, customer_id: str) -> None:
    await conn.execute(
        """INSERT INTO dunning_customer (tenant, customer_id) VALUES ($1, $2)
           ON CONFLICT DO NOTHING""",
        tenant,
        customer_id,
    )


async def upsert_contact(conn: asyncpg.Connection, tenant: str, c: CustomerUpserted) -> None:
    await conn.execute(
        """INSERT INTO contact (tenant, customer_id, name, email, phone, language, timezone, owner,
                                country)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (tenant, customer_id) DO UPDATE
           SET name = EXCLUDED.name, email = EXCLUDED.email, phone = EXCLUDED.phone,
               language = EXCLUDED.language, timezone = EXCLUDED.timezone,
               owner = EXCLUDED.owner, country = EXCLUDED.country""",
        tenant,
        c.customer_id,
        c.name,
        c.email,
        c.phone,
        c.language,
        c.timezone,
        c.owner,
        c.country,
    )
    await ensure_customer(conn, tenant, c.customer_id)


async def add_invoice(conn: asyncpg.Connection, tenant: str, i: InvoiceIssued) -> None:
    await conn.execute(
        """INSERT INTO chased_invoice (tenant, invoice_id, customer_id, number, due_date,
                                       currency, residual_minor)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (tenant, invoice_id) DO NOTHING""",
        tenant,
        i.invoice_id,
        i.customer_id,
        i.number,
        i.due_date,
        i.currency,
        i.amount_minor,
    )
    await ensure_customer(conn, tenant, i.customer_id)


async def set_residual(
    conn: asyncpg.Connection, tenant: str, invoice_id: str, residual: int
) -> None:
    await conn.execute(
        "UPDATE chased_invoice SET residual_minor = $3 WHERE tenant = $1 AND invoice_id = $2",
        tenant,
        invoice_id,
        residual,
    )


async def close_invoice(conn: asyncpg.Connection, tenant: str, invoice_id: str) -> None:
    """Voided or written off: nothing more to chase."""
    await conn.execute(
        """UPDATE chased_invoice SET residual_minor = 0, closed = true
           WHERE tenant = $1 AND invoice_id = $2""",
        tenant,
        invoice_id,
    )


async def set_disputed(
    conn: asyncpg.Connection, tenant: str, invoice_id: str, disputed: bool
) -> None:
    await conn.execute(
        "UPDATE chased_invoice SET disputed = $3 WHERE tenant = $1 AND invoice_id = $2",
        tenant,
        invoice_id,
        disputed,
    )


async def record_applied(
    conn: asyncpg.Connection, tenant: str, payment_id: str, invoice_id: str, amount_minor: int
) -> None:
    await conn.execute(
        """INSERT INTO applied_payment (tenant, payment_id, invoice_id, amount_minor)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (tenant, payment_id, invoice_id)
           DO UPDATE SET amount_minor = applied_payment.amount_minor + EXCLUDED.amount_minor""",
        tenant,
        payment_id,
        invoice_id,
        amount_minor,
    )


async def reopen_for_reversal(
    conn: asyncpg.Connection, tenant: str, payment_id: str, invoice_ids: list[str]
) -> None:
    """A reversed payment is owed again on the invoices it paid: a new dunning cycle."""
    await conn.execute(
        """WITH gone AS (
               DELETE FROM applied_payment
               WHERE tenant = $1 AND payment_id = $2 AND invoice_id = ANY($3::text[])
               RETURNING invoice_id, amount_minor)
           UPDATE chased_invoice i
           SET residual_minor = i.residual_minor + g.amount_minor, cycle = i.cycle + 1,
               escalate = 0
           FROM gone g WHERE i.tenant = $1 AND i.invoice_id = g.invoice_id AND NOT i.closed""",
        tenant,
        payment_id,
        invoice_ids,
    )


async def set_grade(conn: asyncpg.Connection, tenant: str, customer_id: str, grade: str) -> None:
    await conn.execute(
        """INSERT INTO dunning_customer (tenant, customer_id, grade) VALUES ($1, $2, $3)
           ON CONFLICT (tenant, customer_id) DO UPDATE SET grade = EXCLUDED.grade""",
        tenant,
        customer_id,
        grade,
    )


async def open_invoices(
    conn: asyncpg.Connection, tenant: str, customer_id: str
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT invoice_id, number, due_date, currency, residual_minor, disputed, cycle,
                  escalate
           FROM chased_invoice
           WHERE tenant = $1 AND customer_id = $2 AND residual_minor > 0 AND NOT closed
           ORDER BY due_date, invoice_id""",
        tenant,
        customer_id,
    )
    return rows


async def residuals(
    conn: asyncpg.Connection, tenant: str, invoice_ids: list[str]
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT invoice_id, residual_minor, disputed, closed FROM chased_invoice
           WHERE tenant = $1 AND invoice_id = ANY($2::text[])""",
        tenant,
        invoice_ids,
    )
    return rows


async def escalate(conn: asyncpg.Connection, tenant: str, invoice_ids: list[str]) -> None:
    await conn.execute(
        """UPDATE chased_invoice SET escalate = escalate + 1
           WHERE tenant = $1 AND invoice_id = ANY($2::text[])""",
        tenant,
        invoice_ids,
    )


async def contact(conn: asyncpg.Connection, tenant: str, customer_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM contact WHERE tenant = $1 AND customer_id = $2", tenant, customer_id
    )


async def customer(
    conn: asyncpg.Connection, tenant: str, customer_id: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM dunning_customer WHERE tenant = $1 AND customer_id = $2",
        tenant,
        customer_id,
    )


async def set_pause(
    conn: asyncpg.Connection, tenant: str, customer_id: str, until: date | None, reason: str | None
) -> None:
    await conn.execute(
        """INSERT INTO dunning_customer (tenant, customer_id, paused_until, pause_reason)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (tenant, customer_id)
           DO UPDATE SET paused_until = EXCLUDED.paused_until,
                         pause_reason = EXCLUDED.pause_reason""",
        tenant,
        customer_id,
        until,
        reason,
    )


async def set_pin(
    conn: asyncpg.Connection, tenant: str, customer_id: str, policy_id: str | None
) -> None:
    await conn.execute(
        """INSERT INTO dunning_customer (tenant, customer_id, pinned_policy) VALUES ($1, $2, $3)
           ON CONFLICT (tenant, customer_id)
           DO UPDATE SET pinned_policy = EXCLUDED.pinned_policy""",
        tenant,
        customer_id,
        policy_id,
    )
