"""A fresh, migrated reminders schema per test on the real PostgreSQL (`DATABASE_URL`) and a
real SMTP server (aiosmtpd) on a free localhost port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from aiosmtpd.controller import Controller

from huikuan_dev.testing import database_url, migrated_schema
from huikuan_runtime.db import create_pool
from huikuan_runtime.migrations import package_migrations
from services.reminders.tests.integration.support import PoolFactory, Sink

MIGRATIONS = package_migrations("reminders")


@pytest.fixture
def smtp() -> Iterator[Sink]:
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
async def schema() -> AsyncIterator[tuple[str, str]]:
    url = database_url()
    if url is None:
        pytest.skip("needs DATABASE_URL (make test sets it)")
    async with migrated_schema(url, MIGRATIONS, "reminders_it") as name:
        yield url, name


@pytest.fixture
async def pools(schema: tuple[str, str]) -> AsyncIterator[PoolFactory]:
    """Make pools on the test schema (each like a separate scheduler replica)."""
    made: list[asyncpg.Pool] = []

    async def make() -> asyncpg.Pool:
        pool = await create_pool(schema[0], schema[1], min_size=1, max_size=5)
        made.append(pool)
        return pool

    yield make
    await asyncio.gather(*(p.close() for p in made if not p.is_closing()))


@pytest.fixture
async def pool(pools: PoolFactory) -> asyncpg.Pool:
    return await pools()
