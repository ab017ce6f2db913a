"""SQL for what credit knows of each customer's master data."""

from __future__ import annotations

from datetime import datetime

import asyncpg


async def upsert(
    conn: asyncpg.Connection,
    tenant: str,
    customer_id: str,
    name: str,
    terms: int,
    segment: str | None,
    at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO customer_profile (tenant, customer_id, name, payment_terms_days,
                                         first_seen_at, segment)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (tenant, customer_id) DO UPDATE
           SET name = EXCLUDED.name, payment_terms_days = EXCLUDED.payment_terms_days,
               segment = EXCLUDED.segment,
               first_seen_at = LEAST(customer_profile.first_seen_at, EXCLUDED.first_seen_at)""",
        tenant,
        customer_id,
        name,
        terms,
        at,
        segment,
    )


async def get(conn: asyncpg.Connection, tenant: str, customer_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM customer_profile WHERE tenant = $1 AND customer_id = $2",
        tenant,
        customer_id,
    )


async def lock(conn: asyncpg.Connection, tenant: str, customer_id: str) -> None:
    """Serialise the derivations of one customer (handlers, jobs and manual changes)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 0))", tenant, customer_id
    )


async def lock_many(conn: asyncpg.Connection, tenant: str, customer_ids: list[str]) -> None:
    """`lock` several customers, in the order given (sorted by every caller: no deadlocks)."""
    await conn.execute(
        """SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || c, 0))
           FROM unnest($2::text[]) AS x (c)""",
        tenant,
        customer_ids,
    )


async def all_ids(conn: asyncpg.Connection, tenant: str) -> list[str]:
    rows = await conn.fetch(
        """SELECT customer_id FROM customer_profile WHERE tenant = $1
           UNION SELECT DISTINCT customer_id FROM credit_fact WHERE tenant = $1
           ORDER BY 1""",
        tenant,
    )
    return [r["customer_id"] for r in rows]


async def tenants(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch("SELECT DISTINCT tenant FROM credit_state ORDER BY tenant")
    return [r["tenant"] for r in rows]
