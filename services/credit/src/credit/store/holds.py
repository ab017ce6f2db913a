"""SQL for the holds in force (one row per cause)."""

from __future__ import annotations

from datetime import date

import asyncpg


async def active(conn: asyncpg.Connection, tenant: str, customer_id: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT * FROM credit_hold WHERE tenant = $1 AND customer_id = $2 ORDER BY cause""",
        tenant,
        customer_id,
    )
    return rows


async def place(
    conn: asyncpg.Connection,
    tenant: str,
    customer_id: str,
    cause: str,
    *,
    manual: bool,
    detail: str,
    on: date,
    by: str | None = None,
) -> bool:
    placed = await conn.fetchval(
        """INSERT INTO credit_hold (tenant, customer_id, cause, manual, detail, placed_on,
                                    placed_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING true""",
        tenant,
        customer_id,
        cause,
        manual,
        detail,
        on,
        by,
    )
    return bool(placed)


async def release(conn: asyncpg.Connection, tenant: str, customer_id: str, cause: str) -> bool:
    gone = await conn.fetchval(
        """DELETE FROM credit_hold WHERE tenant = $1 AND customer_id = $2 AND cause = $3
           RETURNING true""",
        tenant,
        customer_id,
        cause,
    )
    return bool(gone)


async def replace_automatic(
    conn: asyncpg.Connection,
    tenant: str,
    released: list[tuple[str, str]],
    placed: list[tuple[str, str, str, date]],
) -> None:
    """Remove the (customer id, cause) holds, then place the automatic (customer id, cause,
    detail, placed on) ones: two statements for any number of customers."""
    if released:
        await conn.execute(
            """DELETE FROM credit_hold h
               USING unnest($2::text[], $3::text[]) AS x (c, cause)
               WHERE h.tenant = $1 AND h.customer_id = x.c AND h.cause = x.cause""",
            tenant,
            [r[0] for r in released],
            [r[1] for r in released],
        )
    if placed:
        await conn.execute(
            """INSERT INTO credit_hold (tenant, customer_id, cause, manual, detail, placed_on)
               SELECT $1, c, cause, false, d, o
               FROM unnest($2::text[], $3::text[], $4::text[], $5::date[]) AS x (c, cause, d, o)
               ON CONFLICT DO NOTHING""",
            tenant,
            [p[0] for p in placed],
            [p[1] for p in placed],
            [p[2] for p in placed],
            [p[3] for p in placed],
        )
