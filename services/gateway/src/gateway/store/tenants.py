"""SQL for tenants and API keys."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from gateway.domain.keys import NewKey


async def insert_tenant(
    conn: asyncpg.Connection, tenant_id: str, name: str, at: datetime
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """INSERT INTO tenant (tenant_id, name, created_at) VALUES ($1, $2, $3)
           ON CONFLICT (tenant_id) DO NOTHING RETURNING *""",
        tenant_id,
        name,
        at,
    )


async def get_tenant(conn: asyncpg.Connection, tenant_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM tenant WHERE tenant_id = $1", tenant_id)


async def set_active(
    conn: asyncpg.Connection, tenant_id: str, active: bool, at: datetime
) -> asyncpg.Record | None:
    """Suspend the tenant (at `at`, unless it already is) or make it active again; None
    when there is no such tenant."""
    return await conn.fetchrow(
        """UPDATE tenant
           SET suspended_at = CASE WHEN $2 THEN NULL ELSE coalesce(suspended_at, $3) END
           WHERE tenant_id = $1 RETURNING *""",
        tenant_id,
        active,
        at,
    )


async def insert_key(
    conn: asyncpg.Connection,
    tenant_id: str,
    name: str,
    key: NewKey,
    scopes: list[str],
    at: datetime,
) -> asyncpg.Record:
    row: asyncpg.Record = await conn.fetchrow(
        """INSERT INTO api_key (key_id, tenant_id, name, prefix, key_hash, scopes, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           RETURNING key_id, tenant_id, name, prefix, scopes, created_at, revoked_at""",
        key.key_id,
        tenant_id,
        name,
        key.prefix,
        key.hash,
        scopes,
        at,
    )
    return row


async def key_by_hash(conn: asyncpg.Connection, key_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT k.key_id, k.tenant_id, k.scopes, t.suspended_at
           FROM api_key k JOIN tenant t ON t.tenant_id = k.tenant_id
           WHERE k.key_hash = $1 AND k.revoked_at IS NULL""",
        key_hash,
    )


async def revoke_key(conn: asyncpg.Connection, key_id: uuid.UUID, at: datetime) -> bool:
    status: str = await conn.execute(
        "UPDATE api_key SET revoked_at = $2 WHERE key_id = $1 AND revoked_at IS NULL", key_id, at
    )
    return status.endswith(" 1")
