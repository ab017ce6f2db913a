"""SQL for customers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import asyncpg

COLUMNS = (
    "name",
    "email",
    "phone",
    "country",
    "currency",
    "payment_terms_days",
    "owner",
    "segment",
    "region",
    "language",
    "timezone",
)


async def get(conn: asyncpg.Connection, tenant: str, customer_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM customer WHERE tenant = $1 AND customer_id = $2", tenant, customer_id
    )


async def lock(conn: asyncpg.Connection, tenant: str, customer_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM customer WHERE tenant = $1 AND customer_id = $2 FOR UPDATE",
        tenant,
        customer_id,
    )


async def insert(
    conn: asyncpg.Connection, tenant: str, customer_id: str, fields: dict[str, Any], at: datetime
) -> asyncpg.Record:
    cols = ", ".join(COLUMNS)
    params = ", ".join(f"${i}" for i in range(3, len(COLUMNS) + 3))
    n = len(COLUMNS) + 3
    row: asyncpg.Record = await conn.fetchrow(
        f"""INSERT INTO customer (tenant, customer_id, {cols}, created_at, updated_at)
            VALUES ($1, $2, {params}, ${n}, ${n})
            ON CONFLICT (tenant, customer_id) DO NOTHING RETURNING *""",
        tenant,
        customer_id,
        *(fields[c] for c in COLUMNS),
        at,
    )
    return row


async def update(
    conn: asyncpg.Connection, tenant: str, customer_id: str, fields: dict[str, Any], at: datetime
) -> asyncpg.Record:
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(COLUMNS, start=3))
    n = len(COLUMNS) + 3
    row: asyncpg.Record = await conn.fetchrow(
        f"""UPDATE customer SET {sets}, updated_at = ${n}
            WHERE tenant = $1 AND customer_id = $2 RETURNING *""",
        tenant,
        customer_id,
        *(fields[c] for c in COLUMNS),
        at,
    )
    return row


async def record_owner(
    conn: asyncpg.Connection, tenant: str, customer_id: str, owner: str | None, at: datetime
) -> None:
    """Owner history: one row per assignment, the current owner being the latest."""
    await conn.execute(
        """INSERT INTO customer_owner (tenant, customer_id, owner, assigned_at)
           VALUES ($1, $2, $3, $4)""",
        tenant,
        customer_id,
        owner,
        at,
    )


async def owner_history(
    conn: asyncpg.Connection, tenant: str, customer_id: str
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT owner, assigned_at FROM customer_owner
           WHERE tenant = $1 AND customer_id = $2 ORDER BY assigned_at""",
        tenant,
        customer_id,
    )
    return rows


async def lock_many(
    conn: asyncpg.Connection, tenant: str, customer_ids: list[str]
) -> list[asyncpg.Record]:
    """Lock several customers in id order (the one order every writer uses)."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT * FROM customer WHERE tenant = $1 AND customer_id = ANY($2::text[])
           ORDER BY customer_id FOR UPDATE""",
        tenant,
        customer_ids,
    )
    return rows


async def page(
    conn: asyncpg.Connection,
    tenant: str,
    *,
    owner: str | None,
    region: str | None,
    segment: str | None,
    overdue_as_of: date | None,
    after: str | None,
    limit: int,
    ids: list[str] | None = None,
) -> list[asyncpg.Record]:
    """Customers in id order after the cursor; `overdue_as_of` keeps only those with an
    open invoice past due on that date, `ids` only those among them."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT c.* FROM customer c
           WHERE c.tenant = $1 AND ($2::text IS NULL OR c.owner = $2)
             AND ($3::text IS NULL OR c.region = $3) AND ($4::text IS NULL OR c.segment = $4)
             AND ($5::text IS NULL OR c.customer_id > $5)
             AND ($8::text[] IS NULL OR c.customer_id = ANY($8))
             AND ($6::date IS NULL OR EXISTS (
                 SELECT 1 FROM invoice i WHERE i.tenant = c.tenant
                   AND i.customer_id = c.customer_id AND i.residual_minor > 0
                   AND i.voided_on IS NULL AND i.written_off_on IS NULL AND i.due_date < $6))
           ORDER BY c.customer_id LIMIT $7""",
        tenant,
        owner,
        region,
        segment,
        after,
        overdue_as_of,
        limit,
        ids,
    )
    return rows


async def lock_pairs(conn: asyncpg.Connection, keys: list[tuple[str, str]]) -> None:
    """Row locks on (tenant, customer) pairs, in the one order every writer uses."""
    await conn.execute(
        """SELECT 1 FROM customer c
           JOIN unnest($1::text[], $2::text[]) AS x(t, id)
             ON c.tenant = x.t AND c.customer_id = x.id
           ORDER BY c.tenant, c.customer_id FOR UPDATE OF c""",
        [t for t, _ in keys],
        [c for _, c in keys],
    )
