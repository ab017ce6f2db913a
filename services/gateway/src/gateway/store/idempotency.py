"""SQL for idempotency keys."""

from __future__ import annotations

from datetime import datetime

import asyncpg


async def claim(
    conn: asyncpg.Connection, tenant: str, key: str, fingerprint: str, at: datetime
) -> bool:
    """Take the key for this request; False when someone already holds or used it."""
    claimed: bool | None = await conn.fetchval(
        """INSERT INTO idempotency_key (tenant, key, fingerprint, created_at)
           VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING true""",
        tenant,
        key,
        fingerprint,
        at,
    )
    return bool(claimed)


async def get(conn: asyncpg.Connection, tenant: str, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM idempotency_key WHERE tenant = $1 AND key = $2", tenant, key
    )


async def complete(
    conn: asyncpg.Connection,
    tenant: str,
    key: str,
    status: int,
    content_type: str,
    body: bytes,
    at: datetime,
) -> None:
    await conn.execute(
        """UPDATE idempotency_key SET status = $3, content_type = $4, body = $5,
                                      completed_at = $6
           WHERE tenant = $1 AND key = $2""",
        tenant,
        key,
        status,
        content_type,
        body,
        at,
    )


async def release(conn: asyncpg.Connection, tenant: str, key: str) -> None:
    """Give the key back (the request failed on our side; the caller may retry)."""
    await conn.execute(
        "DELETE FROM idempotency_key WHERE tenant = $1 AND key = $2 AND completed_at IS NULL",
        tenant,
        key,
    )
