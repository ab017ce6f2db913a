"""SQL for the journal: posting entries (append-only) and reading balances as of a date."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import asyncpg

from ledger.domain.journal import Entry


async def post(
    conn: asyncpg.Connection, tenant: str, entries: Sequence[Entry], at: datetime
) -> None:
    """Append balanced entries, each with its lines, in the caller's transaction."""
    if not entries:
        return
    ids: list[int] = [
        r["entry_id"]
        for r in await conn.fetch(
            """INSERT INTO journal_entry (tenant, kind, reference, effective_date, posted_at)
               SELECT $1, k, r, d, $5
               FROM unnest($2::text[], $3::text[], $4::date[]) WITH ORDINALITY AS e(k, r, d, n)
               ORDER BY n
               RETURNING entry_id""",
            tenant,
            [e.kind.value for e in entries],
            [e.reference for e in entries],
            [e.effective_date for e in entries],
            at,
        )
    ]
    columns: list[list[object]] = [[] for _ in range(9)]
    for entry_id, entry in zip(ids, entries, strict=True):
        for line_no, line in enumerate(entry.lines, start=1):
            for column, value in zip(
                columns,
                (
                    entry_id,
                    line_no,
                    line.account.value,
                    line.currency,
                    line.amount_minor,
                    entry.effective_date,
                    line.customer_id,
                    line.invoice_id,
                    line.payment_id,
                ),
                strict=True,
            ):
                column.append(value)
    await conn.execute(
        """INSERT INTO journal_line (entry_id, line_no, tenant, account, currency, amount_minor,
                                     effective_date, customer_id, invoice_id, payment_id)
           SELECT e, n, $1, a, c, m, d, cu, i, p
           FROM unnest($2::bigint[], $3::smallint[], $4::text[], $5::text[], $6::bigint[],
                       $7::date[], $8::text[], $9::text[], $10::text[])
                AS l(e, n, a, c, m, d, cu, i, p)""",
        tenant,
        *columns,
    )


async def invoice_history(
    conn: asyncpg.Connection, tenant: str, invoice_id: str
) -> list[asyncpg.Record]:
    """Every posting to an invoice's receivable, oldest first."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT e.entry_id, e.kind, e.reference, e.effective_date, e.posted_at,
                  l.amount_minor, l.currency
           FROM journal_line l JOIN journal_entry e USING (entry_id)
           WHERE l.tenant = $1 AND l.invoice_id = $2 AND l.account = 'receivable'
           ORDER BY e.effective_date, e.entry_id""",
        tenant,
        invoice_id,
    )
    return rows


async def customer_balances(
    conn: asyncpg.Connection, tenant: str, customer_id: str, as_of: date
) -> list[asyncpg.Record]:
    """Receivable and unapplied cash per currency as of the end of `as_of`."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT currency,
                  coalesce(sum(amount_minor) FILTER (WHERE account = 'receivable'), 0)::bigint
                      AS receivable_minor,
                  coalesce(-sum(amount_minor) FILTER (WHERE account = 'unapplied_cash'), 0)::bigint
                      AS unapplied_minor
           FROM journal_line
           WHERE tenant = $1 AND customer_id = $2 AND effective_date <= $3
           GROUP BY currency ORDER BY currency""",
        tenant,
        customer_id,
        as_of,
    )
    return rows


async def trial_balance(conn: asyncpg.Connection, tenant: str) -> list[asyncpg.Record]:
    """Sum per account and currency; every currency's accounts add up to zero."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT account, currency, sum(amount_minor)::bigint AS balance_minor
           FROM journal_line WHERE tenant = $1
           GROUP BY account, currency ORDER BY currency, account""",
        tenant,
    )
    return rows
