"""SQL for idempotency keys."""

from __future__ import annotations

from datetime import datetime

import asyncpg


async def claim(
    conn: asyncpg.Connection,
    tenant: str,
    key: str,
    fingerprint: str,
    at: datetime,
    *,
    expired_before: datetime,
    abandoned_before: datetime,
) -> bool:
    """Take the key for this request; False when another request holds or used it. A key
    first used before `expired_before`, or claimed before `abandoned_before` and never
    completed, is taken over as if it were new."""
    claimed: bool | None = await conn.fetchval(
        """INSERT INTO idempotency_key (tenant, key, fingerprint, created_at)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (tenant, key) DO UPDATE SET
               fingerprint = EXCLUDED.fingerprint, created_at = EXCLUDED.created_at,
               status = NULL, content_type = NULL, body = NULL, completed_at = NULL
           WHERE idempotency_key.created_at < $5
              OR (idempotency_key.completed_at IS NULL AND idempotency_key.created_at < $6)
           RETURNING true""",
        tenant,
        key,
        fingerprint,
        at,
        expired_before,
        abandoned_before,
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
