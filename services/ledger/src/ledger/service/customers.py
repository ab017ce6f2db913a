"""Use cases for customers: each runs in one unit of work with its events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from huikuan_events.ledger import CustomerUpserted
from huikuan_runtime import pagination
from huikuan_runtime.db import unit_of_work
from huikuan_runtime.problems import NotFound
from ledger.events.outbox import emit
from ledger.store import customers, invoices, journal


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
            if current["owner"] != fields["owner"]:
                await customers.record_owner(conn, tenant, customer_id, fields["owner"], at)
        else:
            await customers.record_owner(conn, tenant, customer_id, fields["owner"], at)
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


@dataclass(frozen=True, slots=True)
class Balance:
    currency: str
    receivable_minor: int
    unapplied_minor: int
    open_invoices: int


async def balances(pool: asyncpg.Pool, tenant: str, customer_id: str, as_of: date) -> list[Balance]:
    """Receivable and unapplied cash per currency from the journal, as of a date."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        if await customers.get(conn, tenant, customer_id) is None:
            raise NotFound(f"no customer {customer_id!r}")
        sums = await journal.customer_balances(conn, tenant, customer_id, as_of)
        counts = {
            r["currency"]: r["invoices"]
            for r in await invoices.open_counts(conn, tenant, customer_id, as_of)
        }
    return [
        Balance(
            r["currency"], r["receivable_minor"], r["unapplied_minor"], counts.get(r["currency"], 0)
        )
        for r in sums
    ]


async def list_customers(
    pool: asyncpg.Pool,
    tenant: str,
    *,
    owner: str | None,
    region: str | None,
    segment: str | None,
    overdue_as_of: date | None,
    cursor: str | None,
    limit: int,
    ids: list[str] | None = None,
) -> tuple[list[asyncpg.Record], str | None]:
    key = pagination.decode(cursor, 1)
    async with pool.acquire() as conn:
        rows = await customers.page(
            conn,
            tenant,
            owner=owner,
            region=region,
            segment=segment,
            overdue_as_of=overdue_as_of,
            ids=ids,
            after=str(key[0]) if key else None,
            limit=limit + 1,
        )
    return pagination.page(rows, limit, lambda r: [r["customer_id"]])
