"""Use cases for customers: each runs in one unit of work with its events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from huikuan_events.ledger import CustomerUpserted
from huikuan_runtime.db import unit_of_work
from huikuan_runtime.problems import NotFound
from ledger.events.outbox import emit
from ledger.store import customers, invoices


@dataclass(frozen=True, slots=True)
class Upserted:
    row: asyncpg.Record
    created: bool


async def upsert_customer(
    pool: asyncpg.Pool, tenant: str, customer_id: str, fields: dict[str, Any], at: datetime
) -> Upserted:
    """Create or update; an update that changes nothing writes nothing and emits nothing."""
    async with unit_of_work(pool) as conn:
        row = await customers.insert(conn, tenant, customer_id, fields, at)
        created = row is not None
        if row is None:
            current = await customers.lock(conn, tenant, customer_id)
            assert current is not None
            if all(current[c] == fields[c] for c in customers.COLUMNS):
                return Upserted(current, created=False)
            row = await customers.update(conn, tenant, customer_id, fields, at)
        await emit(
            conn, tenant, customer_id, CustomerUpserted(customer_id=customer_id, **fields), at
        )
        return Upserted(row, created=created)


async def get_customer(pool: asyncpg.Pool, tenant: str, customer_id: str) -> asyncpg.Record:
    async with pool.acquire() as conn:
        row = await customers.get(conn, tenant, customer_id)
    if row is None:
        raise NotFound(f"no customer {customer_id!r}")
    return row


async def open_balances(pool: asyncpg.Pool, tenant: str, customer_id: str) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        if await customers.get(conn, tenant, customer_id) is None:
            raise NotFound(f"no customer {customer_id!r}")
        return await invoices.open_totals(conn, tenant, customer_id)
