"""SQL for disputes."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg

# A dispute with the amount of the credit note it was accepted with (NULL otherwise).
_WITH_CREDIT = """SELECT d.*, i.customer_id, i.currency, n.amount_minor AS credit_minor
                  FROM dispute d
                  JOIN invoice i ON i.tenant = d.tenant AND i.invoice_id = d.invoice_id
                  LEFT JOIN credit_note n ON n.tenant = d.tenant
                                         AND n.credit_note_id = d.credit_note_id"""


async def get(conn: asyncpg.Connection, tenant: str, dispute_id: str) -> asyncpg.Record | None:
    """The dispute with its invoice's customer and currency and its credit note's amount."""
    return await conn.fetchrow(
        f"{_WITH_CREDIT} WHERE d.tenant = $1 AND d.dispute_id = $2", tenant, dispute_id
    )


async def lock(conn: asyncpg.Connection, tenant: str, dispute_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM dispute WHERE tenant = $1 AND dispute_id = $2 FOR UPDATE",
        tenant,
        dispute_id,
    )


async def open_on_invoice(
    conn: asyncpg.Connection, tenant: str, invoice_id: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM dispute WHERE tenant = $1 AND invoice_id = $2 AND status = 'open'",
        tenant,
        invoice_id,
    )


async def insert(
    conn: asyncpg.Connection,
    tenant: str,
    *,
    dispute_id: str,
    invoice_id: str,
    reason: str,
    amount: int,
    opened_on: date,
    fingerprint: str,
    at: datetime,
) -> bool:
    """Open a dispute; False when the id is already taken (a concurrent or repeated call)."""
    inserted = await conn.fetchval(
        """INSERT INTO dispute (tenant, dispute_id, invoice_id, reason, amount_minor, opened_on,
                                fingerprint, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (tenant, dispute_id) DO NOTHING RETURNING true""",
        tenant,
        dispute_id,
        invoice_id,
        reason,
        amount,
        opened_on,
        fingerprint,
        at,
    )
    return bool(inserted)


async def resolve(
    conn: asyncpg.Connection,
    tenant: str,
    dispute_id: str,
    *,
    status: str,
    resolved_on: date,
    credit_note_id: str | None,
    note: str | None,
) -> None:
    await conn.execute(
        """UPDATE dispute SET status = $3, resolved_on = $4, credit_note_id = $5,
                              resolution_note = $6
           WHERE tenant = $1 AND dispute_id = $2 AND status = 'open'""",
        tenant,
        dispute_id,
        status,
        resolved_on,
        credit_note_id,
        note,
    )
