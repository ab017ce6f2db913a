"""SQL of the collector directory: collectors, their managers, the chain above one."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from huikuan_runtime.db import xact_lock


async def lock_directory(conn: asyncpg.Connection, tenant: str) -> None:
    """Serialise the tenant's directory writes (two concurrent edits could close a loop)."""
    await xact_lock(conn, f"{tenant}/collectors")


async def chain_from(conn: asyncpg.Connection, tenant: str, collector_id: str) -> list[str]:
    """`collector_id` and the managers above it, nearest first. The stored directory has
    no loop (every write checks), so the walk ends; the depth cap is a guard only."""
    found: list[str] | None = await conn.fetchval(
        """WITH RECURSIVE up(id, depth) AS (
               SELECT $2::text, 0
               UNION ALL
               SELECT c.manager, up.depth + 1
               FROM up JOIN collector c ON c.tenant = $1 AND c.collector_id = up.id
               WHERE c.manager IS NOT NULL AND up.depth < 10000
           )
           SELECT array_agg(id ORDER BY depth) FROM up""",
        tenant,
        collector_id,
    )
    return list(found or [])


async def upsert(
    conn: asyncpg.Connection,
    tenant: str,
    collector_id: str,
    name: str,
    email: str | None,
    manager: str | None,
    at: datetime,
) -> tuple[asyncpg.Record, bool]:
    """The stored row and whether it was created (not updated)."""
    row = await conn.fetchrow(
        """INSERT INTO collector (tenant, collector_id, name, email, manager, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (tenant, collector_id) DO UPDATE
               SET name = EXCLUDED.name, email = EXCLUDED.email, manager = EXCLUDED.manager,
                   updated_at = EXCLUDED.updated_at
           RETURNING collector_id, name, email, manager, updated_at, (xmax = 0) AS created""",
        tenant,
        collector_id,
        name,
        email,
        manager,
        at,
    )
    assert row is not None
    return row, bool(row["created"])


async def get(conn: asyncpg.Connection, tenant: str, collector_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT collector_id, name, email, manager, updated_at FROM collector
           WHERE tenant = $1 AND collector_id = $2""",
        tenant,
        collector_id,
    )


async def page(
    conn: asyncpg.Connection, tenant: str, after: str | None, manager: str | None, limit: int
) -> list[asyncpg.Record]:
    """Collectors in id order after `after` (keyset), optionally those under one manager."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT collector_id, name, email, manager, updated_at FROM collector
           WHERE tenant = $1 AND ($2::text IS NULL OR collector_id > $2)
             AND ($3::text IS NULL OR manager = $3)
           ORDER BY collector_id LIMIT $4""",
        tenant,
        after,
        manager,
        limit,
    )
    return rows
