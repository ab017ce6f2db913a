"""A fresh, migrated ledger schema per test on the real PostgreSQL (`DATABASE_URL`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from huikuan_dev.testing import database_url, schema_pool
from huikuan_runtime.migrations import package_migrations

MIGRATIONS = package_migrations("ledger")


@pytest.fixture
async def pool() -> AsyncIterator[asyncpg.Pool]:
    url = database_url()
    if url is None:
        pytest.skip("needs DATABASE_URL (make test sets it)")
    async with schema_pool(url, MIGRATIONS, "ledger_it") as pool:
        yield pool
