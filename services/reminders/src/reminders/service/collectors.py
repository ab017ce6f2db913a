"""The collector directory: a collector's manager must be a recorded collector, and the
chain of managers above anyone never loops (refused with 422, nothing written)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from huikuan_runtime import pagination
from huikuan_runtime.db import unit_of_work
from huikuan_runtime.problems import InvalidInput, NotFound
from reminders.store import collectors


async def save(
    pool: asyncpg.Pool,
    tenant: str,
    collector_id: str,
    name: str,
    email: str | None,
    manager: str | None,
    at: datetime,
) -> tuple[asyncpg.Record, bool]:
    """Create or replace a collector; the row and whether it was created."""
    async with unit_of_work(pool) as conn:
        await collectors.lock_directory(conn, tenant)
        if manager is not None:
            if manager == collector_id:
                raise _loop(collector_id, [collector_id, collector_id])
            if await collectors.get(conn, tenant, manager) is None:
                raise InvalidInput(
                    f"manager: no collector {manager!r} (record the manager first)",
                    errors=[{"field": "manager", "message": f"no collector {manager!r}"}],
                )
            above = await collectors.chain_from(conn, tenant, manager)
            if collector_id in above:
                loop = [collector_id, *above[: above.index(collector_id) + 1]]
                raise _loop(collector_id, loop)
        return await collectors.upsert(conn, tenant, collector_id, name, email, manager, at)


def _loop(collector_id: str, loop: list[str]) -> InvalidInput:
    chain = " -> ".join(loop)
    return InvalidInput(
        f"manager: the chain of managers would loop ({chain})",
        errors=[{"field": "manager", "message": f"managers would loop: {chain}"}],
    )


async def get(pool: asyncpg.Pool, tenant: str, collector_id: str) -> asyncpg.Record:
    async with pool.acquire() as conn:
        row = await collectors.get(conn, tenant, collector_id)
    if row is None:
        raise NotFound(f"no collector {collector_id!r}")
    return row


async def page(
    pool: asyncpg.Pool, tenant: str, manager: str | None, cursor: str | None, limit: int
) -> tuple[list[asyncpg.Record], str | None]:
    """Collectors in id order (keyset on the id), optionally those under one manager; the
    cursor of the next page."""
    key = pagination.decode(cursor, 1)
    if key is not None and not isinstance(key[0], str):
        raise pagination.invalid_cursor()
    async with pool.acquire() as conn:
        rows = await collectors.page(conn, tenant, key[0] if key else None, manager, limit + 1)
    return pagination.page(rows, limit, lambda r: [r["collector_id"]])
