"""Tenants and their API keys, as the operator manages them (`/v1/admin`). A suspended
tenant's keys and tokens are refused and its webhook deliveries held; this process forgets
what it cached about a suspended tenant or a revoked key at once (other gateway processes
within `GATEWAY_AUTH_CACHE_SECONDS`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

import asyncpg

from gateway.domain.keys import PrincipalCache, generate_key
from gateway.store import tenants, webhooks
from huikuan_events import uuid7
from huikuan_runtime.db import unit_of_work
from huikuan_runtime.problems import InvalidInput, NotFound


async def create_tenant(
    pool: asyncpg.Pool, tenant_id: str, name: str, at: datetime
) -> tuple[asyncpg.Record, bool]:
    """The tenant and whether it was created now (an existing one is answered as it is)."""
    async with unit_of_work(pool) as conn:
        row = await tenants.insert_tenant(conn, tenant_id, name, at)
        if row is not None:
            return row, True
        existing = await tenants.get_tenant(conn, tenant_id)
    assert existing is not None
    return existing, False


async def set_active(
    pool: asyncpg.Pool, principals: PrincipalCache, tenant_id: str, active: bool, at: datetime
) -> asyncpg.Record:
    """Suspend the tenant or make it active again, holding or releasing its webhook
    deliveries in the same transaction; 404 for no such tenant."""
    async with unit_of_work(pool) as conn:
        row = await tenants.set_active(conn, tenant_id, active, at)
        if row is None:
            raise NotFound(f"no tenant {tenant_id!r}")
        await webhooks.set_held(conn, tenant_id, not active)
    if not active:
        principals.forget_tenant(tenant_id)
    return row


async def create_key(
    pool: asyncpg.Pool, tenant_id: str, name: str, scopes: Iterable[str], at: datetime
) -> tuple[asyncpg.Record, str]:
    """A new API key of the tenant: its row and the key itself (never stored, only its
    hash); 422 for no such tenant."""
    key = generate_key(uuid7())
    async with unit_of_work(pool) as conn:
        if await tenants.get_tenant(conn, tenant_id) is None:
            raise InvalidInput(
                f"tenant_id: no tenant {tenant_id!r}",
                errors=[{"field": "tenant_id", "message": "unknown tenant"}],
            )
        row = await tenants.insert_key(conn, tenant_id, name, key, sorted(set(scopes)), at)
    return row, key.secret


async def revoke_key(
    pool: asyncpg.Pool, principals: PrincipalCache, key_id: uuid.UUID, at: datetime
) -> None:
    """404 for no active key `key_id`."""
    async with unit_of_work(pool) as conn:
        if not await tenants.revoke_key(conn, key_id, at):
            raise NotFound(f"no active API key {key_id}")
    principals.forget_key(key_id)
