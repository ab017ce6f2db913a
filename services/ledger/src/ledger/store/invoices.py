"""SQL for invoices."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg

from ledger.domain.invoices import NewInvoice

OPEN = "residual_minor > 0 AND voided_on IS NULL AND written_off_on IS NULL"


async def get(conn: asyncpg.Connection, tenant: str, invoice_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM invoice WHERE tenant = $1 AND invoice_id = $2", tenant, invoice_id
    )


async def lock(conn: asyncpg.Connection, tenant: str, invoice_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM invoice WHERE tenant = $1 AND invoice_id = $2 FOR UPDATE",
        tenant,
        invoice_id,
    )


async def insert(
    conn: asyncpg.Connection, tenant: str, invoice: NewInvoice, at: datetime
) -> asyncpg.Record | None:
    """Insert the invoice; None when the id is already taken (a concurrent or repeated call)."""
    return await conn.fetchrow(
        """INSERT INTO invoice (tenant, invoice_id, customer_id, number, issue_date, due_date,
                                currency, amount_minor, residual_minor, fingerprint, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10)
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


async def lock_open(
    conn: asyncpg.Connection, tenant: str, customer_id: str, currency: str
) -> list[asyncpg.Record]:
    """The customer's open invoices in a currency, locked, with whether each is disputed."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""SELECT i.*, EXISTS (SELECT 1 FROM dispute d WHERE d.tenant = i.tenant
                                   AND d.invoice_id = i.invoice_id AND d.status = 'open')
                       AS disputed
            FROM invoice i
            WHERE i.tenant = $1 AND i.customer_id = $2 AND i.currency = $3 AND {OPEN}
            ORDER BY i.invoice_id FOR UPDATE OF i""",
        tenant,
        customer_id,
        currency,
    )
    return rows


async def set_residual(
    conn: asyncpg.Connection,
    tenant: str,
    invoice_id: str,
    residual: int,
    settled_on: date | None,
) -> None:
    await conn.execute(
        """UPDATE invoice SET residual_minor = $3, settled_on = $4
           WHERE tenant = $1 AND invoice_id = $2""",
        tenant,
        invoice_id,
        residual,
        settled_on,
    )


async def mark_voided(
    conn: asyncpg.Connection, tenant: str, invoice_id: str, on: date, reason: str
) -> asyncpg.Record:
    row: asyncpg.Record = await conn.fetchrow(
        """UPDATE invoice SET residual_minor = 0, voided_on = $3, void_reason = $4
           WHERE tenant = $1 AND invoice_id = $2 RETURNING *""",
        tenant,
        invoice_id,
        on,
        reason,
    )
    return row


async def mark_written_off(
    conn: asyncpg.Connection, tenant: str, invoice_id: str, on: date
) -> None:
    await conn.execute(
        """UPDATE invoice SET residual_minor = 0, written_off_on = $3
           WHERE tenant = $1 AND invoice_id = $2""",
        tenant,
        invoice_id,
        on,
    )


async def open_counts(
    conn: asyncpg.Connection, tenant: str, customer_id: str, as_of: date
) -> list[asyncpg.Record]:
    """Per currency: how many of the customer's invoices had something owed on `as_of`."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT currency, count(*) AS invoices FROM (
               SELECT currency FROM journal_line
               WHERE tenant = $1 AND customer_id = $2 AND account = 'receivable'
                 AND effective_date <= $3
               GROUP BY invoice_id, currency HAVING sum(amount_minor) > 0
           ) owed GROUP BY currency""",
        tenant,
        customer_id,
        as_of,
    )
    return rows


async def has_open_dispute(conn: asyncpg.Connection, tenant: str, invoice_id: str) -> bool:
    found: bool = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM dispute WHERE tenant = $1 AND invoice_id = $2
                          AND status = 'open')""",
        tenant,
        invoice_id,
    )
    return found


async def insert_many(
    conn: asyncpg.Connection, tenant: str, batch: list[NewInvoice], at: datetime
) -> list[asyncpg.Record]:
    """Insert invoices in one statement; ids already taken are skipped (not returned).
    Only what settling needs comes back: batches stay cheap."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """INSERT INTO invoice (tenant, invoice_id, customer_id, number, issue_date, due_date,
                                currency, amount_minor, residual_minor, fingerprint, created_at)
           SELECT $1, i, c, n, d1, d2, cur, a, a, f, $9
           FROM unnest($2::text[], $3::text[], $4::text[], $5::date[], $6::date[], $7::text[],
                       $8::bigint[], $10::text[]) AS x(i, c, n, d1, d2, cur, a, f)
           ON CONFLICT (tenant, invoice_id) DO NOTHING
           RETURNING invoice_id, currency, issue_date, due_date, residual_minor""",
        tenant,
        [i.invoice_id for i in batch],
        [i.customer_id for i in batch],
        [i.number for i in batch],
        [i.issue_date for i in batch],
        [i.due_date for i in batch],
        [i.amount.currency for i in batch],
        [i.amount.amount_minor for i in batch],
        at,
        [i.fingerprint for i in batch],
    )
    return rows


async def get_many(
    conn: asyncpg.Connection, tenant: str, invoice_ids: list[str]
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT * FROM invoice WHERE tenant = $1 AND invoice_id = ANY($2::text[])",
        tenant,
        invoice_ids,
    )
    return rows


STATUS_AS_OF = """CASE
    WHEN i.voided_on IS NOT NULL THEN 'void'
    WHEN i.written_off_on IS NOT NULL THEN 'written_off'
    WHEN i.residual_minor = 0 THEN 'paid'
    WHEN EXISTS (SELECT 1 FROM dispute d WHERE d.tenant = i.tenant
                 AND d.invoice_id = i.invoice_id AND d.status = 'open') THEN 'disputed'
    WHEN i.due_date < $2 THEN 'overdue'
    WHEN i.residual_minor < i.amount_minor THEN 'partially_paid'
    ELSE 'open' END"""


async def page(
    conn: asyncpg.Connection,
    tenant: str,
    *,
    as_of: date,
    customer_id: str | None,
    statuses: list[str] | None,
    after: tuple[date, str] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Invoices in (issue_date, invoice_id) order after the cursor key, with their status."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""SELECT * FROM (
                SELECT i.*, {STATUS_AS_OF} AS status_as_of FROM invoice i
                WHERE i.tenant = $1 AND ($3::text IS NULL OR i.customer_id = $3)
                  AND ($5::date IS NULL OR (i.issue_date, i.invoice_id) > ($5, $6::text))
            ) x
            WHERE $4::text[] IS NULL OR status_as_of = ANY($4)
            ORDER BY issue_date, invoice_id LIMIT $7""",
        tenant,
        as_of,
        customer_id,
        statuses,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return rows


async def overdue_candidates(
    conn: asyncpg.Connection,
    tenant: str | None,
    before: date,
    after: tuple[date, str, str],
    limit: int,
) -> list[asyncpg.Record]:
    """Unflagged open invoices due before `before`, in key order after the cursor."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT i.tenant, i.invoice_id, i.customer_id, i.due_date, c.timezone
           FROM invoice i
           JOIN customer c ON c.tenant = i.tenant AND c.customer_id = i.customer_id
           WHERE i.overdue_at IS NULL AND i.residual_minor > 0 AND i.voided_on IS NULL
             AND i.written_off_on IS NULL AND i.due_date < $1
             AND ($2::text IS NULL OR i.tenant = $2)
             AND (i.due_date, i.tenant, i.invoice_id) > ($3::date, $4::text, $5::text)
           ORDER BY i.due_date, i.tenant, i.invoice_id
           LIMIT $6""",
        before,
        tenant,
        *after,
        limit,
    )
    return rows


async def flag_overdue(
    conn: asyncpg.Connection, due: list[tuple[str, str, date]], at: datetime
) -> list[asyncpg.Record]:
    """Set `overdue_at` on those (tenant, invoice, judged-on date) still overdue and
    unflagged now that their customers are locked; the flagged ones come back."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """UPDATE invoice i SET overdue_at = $4
           FROM unnest($1::text[], $2::text[], $3::date[]) AS x(t, id, d)
           WHERE i.tenant = x.t AND i.invoice_id = x.id AND i.overdue_at IS NULL
             AND i.residual_minor > 0 AND i.voided_on IS NULL AND i.written_off_on IS NULL
             AND i.due_date < x.d
           RETURNING i.tenant, i.invoice_id, i.customer_id, i.due_date, i.currency,
                     i.residual_minor, x.d AS as_of""",
        [t for t, _, _ in due],
        [i for _, i, _ in due],
        [d for _, _, d in due],
        at,
    )
    return rows
