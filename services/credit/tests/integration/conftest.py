"""A fresh, migrated credit schema per test on the real PostgreSQL (`DATABASE_URL`), and
credit's API on it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from credit.api.app import create_app
from credit.config import Settings
from huikuan_dev.testing import database_url, internal_client, schema_pool
from huikuan_runtime.migrations import package_migrations

MIGRATIONS = package_migrations("credit")


@pytest.fixture
async def pool() -> AsyncIterator[asyncpg.Pool]:
    url = database_url()
    if url is None:
        pytest.skip("needs DATABASE_URL (make test sets it)")
    async with schema_pool(url, MIGRATIONS, "credit_it") as pool:
        yield pool


@pytest.fixture
async def api(pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    """Credit's app on the test schema's pool, called over ASGI as the gateway would, for
    tenant t1."""
    settings = Settings()
    app = create_app(settings)
    app.state.pool, app.state.settings = pool, settings
    async with internal_client(app, "t1") as client:
        yield client
