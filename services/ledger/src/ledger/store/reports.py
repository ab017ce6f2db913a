"""SQL of the reports: balances, aging and sales read from the journal as of a date.

Balances as of a date are the journal's: postings dated on or before the date, so
back-dated postings land in the right report (aging reaches them through the invoices'
current balances, see `aging_cells`). Groups (owner, region, customer name) are the
customer's current master data. The scans use the indexes of migration 0004.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Literal

import asyncpg

Grouping = Literal["customer", "owner", "region", "total"]


def _group(param: str) -> str:
    """The group key and name of a customer row `c` for the grouping in parameter `param`;
    'total' puts every customer in one group without a key."""
    return (
        f"CASE {param}::text WHEN 'customer' THEN c.customer_id WHEN 'owner' THEN c.owner "
        f"WHEN 'region' THEN c.region END AS key, "
        f"CASE {param}::text WHEN 'customer' THEN c.name END AS name"
    )


async def tune(conn: asyncpg.Connection) -> None:
    """Settings for the report queries of this transaction.

    The plans must not depend on planner statistics: right after a bulk load (a batch
    import, a migration) the tables have none until autovacuum gets to them, and the
    planner then takes 100,000 open invoices for a handful of rows. With sorting and
    nested loops allowed it sorts them all to group them, and joins the journal's postings
    after the report date to every invoice by comparing each pair (seconds, or minutes as
    of a date a few months back). Every report here reads sets that fit in memory and
    groups them into few rows, so hash joins and hash aggregates are the right plan
    whatever the estimates: sorting and nested loops are turned off for the transaction
    (the planner still uses them where nothing else can answer). Enough memory to hash
    100,000s of invoices without spilling to disk, no JIT compilation (it costs more than
    it saves on queries of this size) and a plan made for each call's tenant and dates
    rather than a cached generic one (planning is nothing next to a report)."""
    await conn.execute(
        "SET LOCAL work_mem = '64MB'; SET LOCAL jit = off; "
        "SET LOCAL plan_cache_mode = force_custom_plan; "
        "SET LOCAL enable_sort = off; SET LOCAL enable_nestloop = off"
    )


async def aging_cells(
    conn: asyncpg.Connection,
    tenant: str,
    as_of: date,
    thresholds: Sequence[int],
    group_by: Grouping,
) -> list[asyncpg.Record]:
    """Open residuals as of the end of `as_of` added up per currency, group and bucket.

    An invoice's residual as of D is the sum of its receivable postings dated <= D. One
    grouped statement computes it as the invoice's balance now minus its postings dated
    after D: the balance now is `invoice.residual_minor`, which every posting updates in
    its own transaction (the journal is the truth; the ledger's property tests hold the
    two equal), and the postings after D come from the journal. So a report as of today
    reads the open invoices and an empty range of the journal, and a report as of an
    earlier date reads the journal only from that date on; back-dated postings count
    where their date puts them either way. Invoices owing exactly nothing as of D are left
    out; the buckets of a currency add up to its receivable balance as of D.

    The bucket is the number of `thresholds` below the days past due (`as_of - due_date`),
    i.e. `width_bucket(days - 1, thresholds)`, exactly as
    `ledger.domain.aging.Buckets.index`.
    """
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""WITH later AS (
                SELECT invoice_id, sum(amount_minor)::bigint AS amount_minor
                FROM journal_line
                WHERE tenant = $1 AND account = 'receivable' AND effective_date > $2
                GROUP BY invoice_id
            ), owed AS (
                -- open now: the balance now less what was posted after as_of
                SELECT i.currency, i.customer_id, i.due_date,
                       i.residual_minor - coalesce(l.amount_minor, 0) AS residual
                FROM invoice i
                LEFT JOIN later l ON l.invoice_id = i.invoice_id
                WHERE i.tenant = $1 AND i.residual_minor > 0 AND i.voided_on IS NULL
                UNION ALL
                -- settled, void or written off now: only what was posted after as_of
                SELECT i.currency, i.customer_id, i.due_date, -l.amount_minor
                FROM later l
                JOIN invoice i ON i.tenant = $1 AND i.invoice_id = l.invoice_id
                WHERE NOT (i.residual_minor > 0 AND i.voided_on IS NULL)
            ), cells AS (
                -- per customer first: the join to customers then sees thousands of rows,
                -- not one per invoice, whatever plan stale statistics suggest
                SELECT o.currency, o.customer_id,
                       width_bucket($2 - o.due_date - 1, $3::int[]) AS bucket,
                       sum(o.residual) AS amount_minor, count(*) AS invoices
                FROM owed o
                WHERE o.residual <> 0
                GROUP BY o.currency, o.customer_id, bucket
            )
            SELECT x.currency, {_group("$4")}, x.bucket,
                   sum(x.amount_minor)::bigint AS amount_minor, sum(x.invoices)::bigint AS invoices
            FROM cells x
            JOIN customer c ON c.tenant = $1 AND c.customer_id = x.customer_id
            GROUP BY x.currency, key, name, x.bucket""",
        tenant,
        as_of,
        list(thresholds),
        group_by,
    )
    return rows


async def unapplied_cash(
    conn: asyncpg.Connection, tenant: str, as_of: date, group_by: Grouping
) -> list[asyncpg.Record]:
    """Money received and not yet matched to invoices as of `as_of`, per currency and group."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""WITH held AS (
                SELECT customer_id, currency, -sum(amount_minor) AS amount_minor
                FROM journal_line
                WHERE tenant = $1 AND account = 'unapplied_cash' AND effective_date <= $2
                GROUP BY customer_id, currency
                HAVING sum(amount_minor) <> 0
            )
            SELECT h.currency, {_group("$3")},
                   sum(h.amount_minor)::bigint AS amount_minor
            FROM held h
            JOIN customer c ON c.tenant = $1 AND c.customer_id = h.customer_id
            GROUP BY h.currency, key, name""",
        tenant,
        as_of,
        group_by,
    )
    return rows


async def receivable(conn: asyncpg.Connection, tenant: str, as_of: date) -> list[asyncpg.Record]:
    """The receivable balance per currency at the end of `as_of`."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT currency, sum(amount_minor)::bigint AS receivable_minor
           FROM journal_line
           WHERE tenant = $1 AND account = 'receivable' AND effective_date <= $2
           GROUP BY currency""",
        tenant,
        as_of,
    )
    return rows


async def sales(
    conn: asyncpg.Connection, tenant: str, first: date, last: date
) -> list[asyncpg.Record]:
    """Invoiced net of voids (the credit to revenue) per currency, dated `first`..`last`."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT currency, (-sum(amount_minor))::bigint AS sales_minor
           FROM journal_line
           WHERE tenant = $1 AND account = 'revenue' AND effective_date BETWEEN $2 AND $3
           GROUP BY currency""",
        tenant,
        first,
        last,
    )
    return rows


async def monthly_sales(
    conn: asyncpg.Connection, tenant: str, first: date, last: date
) -> list[asyncpg.Record]:
    """Sales per currency and calendar month (its first day), dated `first`..`last`."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT currency, date_trunc('month', effective_date)::date AS month,
                  (-sum(amount_minor))::bigint AS sales_minor
           FROM journal_line
           WHERE tenant = $1 AND account = 'revenue' AND effective_date BETWEEN $2 AND $3
           GROUP BY currency, month""",
        tenant,
        first,
        last,
    )
    return rows
