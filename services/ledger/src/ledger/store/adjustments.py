"""SQL for credit notes and write-offs."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg


async def get_credit_note(
    conn: asyncpg.Connection, tenant: str, credit_note_id: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM credit_note WHERE tenant = $1 AND credit_note_id = $2",
        tenant,
        credit_note_id,
    )


async def insert_credit_note(
    conn: asyncpg.Connection,
    tenant: str,
    *,
    credit_note_id: str,
    invoice_id: str,
    amount: int,
    reason: str,
    note: str | None,
    issued_on: date,
    fingerprint: str,
    at: datetime,
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """INSERT INTO credit_note (tenant, credit_note_id, invoice_id, amount_minor, reason,
                                    note, issued_on, fingerprint, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (tenant, credit_note_id) DO NOTHING RETURNING *""",
        tenant,
        credit_note_id,
        invoice_id,
        amount,
        reason,
        note,
        issued_on,
        fingerprint,
        at,
    )


async def credit_notes_of_invoice(
    conn: asyncpg.Connection, tenant: str, invoice_id: str
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT * FROM credit_note WHERE tenant = $1 AND invoice_id = $2
           ORDER BY issued_on, credit_note_id""",
        tenant,
        invoice_id,
    )
    return rows


async def get_write_off(
    conn: asyncpg.Connection, tenant: str, invoice_id: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM write_off WHERE tenant = $1 AND invoice_id = $2", tenant, invoice_id
    )


async def insert_write_off(
    conn: asyncpg.Connection,
    tenant: str,
    *,
    invoice_id: str,
    amount: int,
    reason: str,
    approver: str,
    on: date,
    fingerprint: str,
    at: datetime,
) -> asyncpg.Record:
    row: asyncpg.Record = await conn.fetchrow(
        """INSERT INTO write_off (tenant, invoice_id, amount_minor, reason, approver,
                                  written_off_on, fingerprint, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *""",
        tenant,
        invoice_id,
        amount,
        reason,
        approver,
        on,
        fingerprint,
        at,
    )
    return row
