"""A tenant's webhook subscriptions, their delivery logs and redelivery (`/v1/webhooks`).
Every read and change is the tenant's own: another tenant's subscription or delivery is a
404, as if it did not exist. The deliveries themselves are written by the consumer
(gateway.events.webhooks) and sent by the dispatcher (gateway.service.dispatcher)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg

from gateway.store import webhooks as store
from huikuan_events import uuid7
from huikuan_runtime import pagination
from huikuan_runtime.db import unit_of_work
from huikuan_runtime.problems import Conflict, NotFound
from huikuan_runtime.webhook_signing import generate_secret

REDELIVER_AT_MOST = 1000


async def create_subscription(
    pool: asyncpg.Pool,
    tenant: str,
    url: str,
    event_types: Sequence[str],
    description: str,
    at: datetime,
) -> tuple[asyncpg.Record, str]:
    """The new subscription and its signing secret (which nothing answers again)."""
    secret = generate_secret()
    async with unit_of_work(pool) as conn:
        row = await store.insert_subscription(
            conn, uuid7(), tenant, url, event_types, description, secret, at
        )
    return row, secret


async def list_subscriptions(
    pool: asyncpg.Pool, tenant: str, cursor: str | None, limit: int
) -> tuple[list[asyncpg.Record], str | None]:
    """Oldest first (keyset on the id); the cursor of the next page."""
    key = pagination.decode(cursor, 1)
    try:
        after = uuid.UUID(key[0]) if key is not None else None
    except (ValueError, TypeError, AttributeError):
        raise pagination.invalid_cursor() from None
    async with pool.acquire() as conn:
        rows = await store.list_subscriptions(conn, tenant, after, limit + 1)
    return pagination.page(rows, limit, lambda r: [str(r["subscription_id"])])


async def get_subscription(
    pool: asyncpg.Pool, tenant: str, subscription_id: uuid.UUID
) -> asyncpg.Record:
    async with pool.acquire() as conn:
        return await _subscription(conn, tenant, subscription_id)


async def _subscription(
    conn: asyncpg.Connection, tenant: str, subscription_id: uuid.UUID
) -> asyncpg.Record:
    row = await store.get_subscription(conn, tenant, subscription_id)
    if row is None:
        raise NotFound(f"no webhook {subscription_id}")
    return row


async def delete_subscription(
    pool: asyncpg.Pool, tenant: str, subscription_id: uuid.UUID, at: datetime
) -> None:
    """Nothing more is sent to it; its pending deliveries end as failed."""
    async with unit_of_work(pool) as conn:
        if not await store.disable_subscription(conn, tenant, subscription_id, at):
            raise NotFound(f"no webhook {subscription_id}")


async def rotate_secret(
    pool: asyncpg.Pool,
    tenant: str,
    subscription_id: uuid.UUID,
    at: datetime,
    overlap: timedelta,
) -> tuple[asyncpg.Record, str]:
    """A new signing secret; the one it replaces signs beside it for `overlap`. The row
    (with `previous_secret_until`) and the new secret."""
    secret = generate_secret()
    async with unit_of_work(pool) as conn:
        row = await store.rotate_secret(conn, tenant, subscription_id, secret, at, overlap)
    if row is None:
        raise NotFound(f"no webhook {subscription_id}")
    return row, secret


async def list_deliveries(
    pool: asyncpg.Pool,
    tenant: str,
    subscription_id: uuid.UUID,
    state: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[asyncpg.Record], str | None]:
    """Newest first (keyset on the order they were written); the cursor of the next page."""
    key = pagination.decode(cursor, 1)
    if key is not None and not (isinstance(key[0], int) and key[0] > 0):
        raise pagination.invalid_cursor()
    async with pool.acquire() as conn:
        await _subscription(conn, tenant, subscription_id)
        rows = await store.list_deliveries(
            conn, tenant, subscription_id, state, key[0] if key else None, limit + 1
        )
    return pagination.page(rows, limit, lambda r: [r["position"]])


async def redeliver(
    pool: asyncpg.Pool,
    tenant: str,
    subscription_id: uuid.UUID,
    delivery_id: uuid.UUID,
    at: datetime,
) -> asyncpg.Record:
    """A new delivery of the same event, queued behind the customer's pending ones; 409 for
    a delivery still pending."""
    async with unit_of_work(pool) as conn:
        await _subscription(conn, tenant, subscription_id)
        row = await store.get_delivery(conn, tenant, subscription_id, delivery_id)
        if row is None:
            raise NotFound(f"no delivery {delivery_id} of webhook {subscription_id}")
        if row["state"] == "pending":
            raise Conflict(f"delivery {delivery_id} is still pending")
        return await store.redeliver(conn, delivery_id, uuid7(), at)


async def redeliver_failed(
    pool: asyncpg.Pool,
    tenant: str,
    subscription_id: uuid.UUID,
    since: datetime,
    at: datetime,
) -> list[asyncpg.Record]:
    """A new delivery for each failed one written at or after `since` and not redelivered
    yet, oldest first, at most `REDELIVER_AT_MOST`."""
    async with unit_of_work(pool) as conn:
        await _subscription(conn, tenant, subscription_id)
        return [
            await store.redeliver(conn, original, uuid7(), at)
            for original in await store.failed_since(
                conn, tenant, subscription_id, since, REDELIVER_AT_MOST
            )
        ]
