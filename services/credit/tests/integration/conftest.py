"""A fresh, migrated credit schema per test on the real PostgreSQL (`DATABASE_URL`)."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from huikuan_runtime.db import create_pool
from huikuan_runtime.migrations import migrate, plan

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


@pytest.fixture
async def pool() -> AsyncIterator[asyncpg.Pool]:
    url = os.environ.get("DATABASE_URL")
    if not url:
        pytest.skip("needs DATABASE_URL (make test sets it)")
    schema = f"credit_it_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn, schema, plan(MIGRATIONS))
        pool = await create_pool(url, schema, min_size=2, max_size=10)
        try:
            yield pool
        finally:
            await pool.close()
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close()
