"""SQL of a tenant's own channel settings (one row per tenant; null = the process-wide
setting)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from huikuan_runtime.db import xact_lock

FIELDS = (
    "mail_from",
    "webhook_url",
    "webhook_secret",
    "sms_url",
    "sms_token",
    "send_window_start",
    "send_window_end",
    "default_timezone",
)


async def lock(conn: asyncpg.Connection, tenant: str) -> None:
    """Serialise the tenant's settings writes (each merges its changes into what is stored)."""
    await xact_lock(conn, f"{tenant}/settings")


async def get(conn: asyncpg.Connection, tenant: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM channel_settings WHERE tenant = $1", tenant)


async def of_tenants(conn: asyncpg.Connection, tenants: list[str]) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT * FROM channel_settings WHERE tenant = ANY($1::text[])", tenants
    )
    return rows


async def put(
    conn: asyncpg.Connection, tenant: str, values: dict[str, Any], at: datetime
) -> asyncpg.Record:
    """Store the tenant's whole settings row (every field of `FIELDS`)."""
    cols = ", ".join(FIELDS)
    params = ", ".join(f"${i + 3}" for i in range(len(FIELDS)))
    updates = ", ".join(f"{f} = EXCLUDED.{f}" for f in FIELDS)
    row = await conn.fetchrow(
        f"""INSERT INTO channel_settings (tenant, updated_at, {cols})
            VALUES ($1, $2, {params})
            ON CONFLICT (tenant) DO UPDATE SET updated_at = EXCLUDED.updated_at, {updates}
            RETURNING *""",
        tenant,
        at,
        *(values[f] for f in FIELDS),
    )
    assert row is not None
    return row
