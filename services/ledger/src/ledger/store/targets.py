"""SQL for collection targets and the collections they are measured against."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg


async def lock(
    conn: asyncpg.Connection, tenant: str, period: str, owner: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT * FROM collection_target WHERE tenant = $1 AND period = $2 AND owner = $3
           FOR UPDATE""",
        tenant,
        period,
        owner,
    )


async def insert(
    conn: asyncpg.Connection,
    tenant: str,
    period: str,
    owner: str,
    currency: str,
    amount: int,
    at: datetime,
) -> asyncpg.Record | None:
    """None when the target exists already (a concurrent or repeated call)."""
    return await conn.fetchrow(
        """INSERT INTO collection_target (tenant, period, owner, currency, amount_minor,
                                          created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $6)
           ON CONFLICT (tenant, period, owner) DO NOTHING RETURNING *""",
        tenant,
        period,
        owner,
        currency,
        amount,
        at,
    )


async def update(
    conn: asyncpg.Connection,
    tenant: str,
    period: str,
    owner: str,
    currency: str,
    amount: int,
    at: datetime,
) -> asyncpg.Record:
    row: asyncpg.Record = await conn.fetchrow(
        """UPDATE collection_target SET currency = $4, amount_minor = $5, updated_at = $6
           WHERE tenant = $1 AND period = $2 AND owner = $3 RETURNING *""",
        tenant,
        period,
        owner,
        currency,
        amount,
        at,
    )
    return row


async def progress(
    conn: asyncpg.Connection, tenant: str, period: str, first: date, last: date
) -> list[asyncpg.Record]:
    """Each target of the period with what its owner collected in its currency: allocations
    applied in [first, last], not reversed, credited to whoever owned the invoice's customer
    at the end of the day (UTC) the money was applied, by the owner history; before the
    earliest assignment, the first owner recorded; without any history, the current owner."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """WITH applied AS (
               SELECT i.currency, a.amount_minor,
                      CASE WHEN h.found THEN h.owner ELSE c.owner END AS owner
               FROM allocation a
               JOIN invoice i ON i.tenant = a.tenant AND i.invoice_id = a.invoice_id
               JOIN customer c ON c.tenant = i.tenant AND c.customer_id = i.customer_id
               LEFT JOIN LATERAL (
                   SELECT true AS found, o.owner FROM customer_owner o
                   WHERE o.tenant = i.tenant AND o.customer_id = i.customer_id
                   ORDER BY (o.assigned_at
                             < ((a.applied_on + 1)::timestamp AT TIME ZONE 'UTC')) DESC,
                            CASE WHEN o.assigned_at
                                      < ((a.applied_on + 1)::timestamp AT TIME ZONE 'UTC')
                                 THEN o.assigned_at END DESC,
                            o.assigned_at
                   LIMIT 1
               ) h ON true
               WHERE a.tenant = $1 AND a.applied_on BETWEEN $3 AND $4 AND a.reversed_on IS NULL
           )
           SELECT t.*, coalesce((SELECT sum(p.amount_minor) FROM applied p
                                 WHERE p.owner = t.owner AND p.currency = t.currency),
                                0)::bigint AS collected_minor
           FROM collection_target t
           WHERE t.tenant = $1 AND t.period = $2
           ORDER BY t.owner""",
        tenant,
        period,
        first,
        last,
    )
    return rows
