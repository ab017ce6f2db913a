"""SQL for the holds in force (one row per cause)."""

from __future__ import annotations

from datetime import date

import asyncpg


async def active(conn: asyncpg.Connection, tenant: str, customer_id: str) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT * FROM credit_hold WHERE tenant = $1 AND customer_id = $2 ORDER BY cause""",
        tenant, customer_id,
    )  # fmt: skip
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
        tenant, customer_id, cause, manual, detail, on, by,
    )  # fmt: skip
    return bool(placed)


async def release(conn: asyncpg.Connection, tenant: str, customer_id: str, cause: str) -> bool:
    gone = await conn.fetchval(
        """DELETE FROM credit_hold WHERE tenant = $1 AND customer_id = $2 AND cause = $3
           RETURNING true""",
        tenant, customer_id, cause,
    )  # fmt: skip
    return bool(gone)
