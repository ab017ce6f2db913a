"""Test support shared by the services' integration tests: a fresh migrated schema on the
real PostgreSQL, dropped afterwards."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from huikuan_runtime.db import create_pool
from huikuan_runtime.migrations import migrate, plan


def database_url() -> str | None:
    """`DATABASE_URL`, which `make test` always sets; None when a test is run by hand."""
    return os.environ.get("DATABASE_URL") or None


@asynccontextmanager
async def migrated_schema(url: str, migrations: Path, prefix: str) -> AsyncIterator[str]:
    """A new schema `<prefix>_<random>` with the runtime's and the service's migrations."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn, name, plan(migrations))
        yield name
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        await conn.close()


@asynccontextmanager
async def schema_pool(url: str, migrations: Path, prefix: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool bound to a fresh migrated schema, as the service would get it."""
    async with migrated_schema(url, migrations, prefix) as schema:
        pool = await create_pool(url, schema, min_size=2, max_size=10)
        try:
            yield pool
        finally:
            await pool.close()
