"""Pools in transaction mode (DATABASE_POOL_MODE=transaction, for PgBouncer's transaction
pooling) against real PostgreSQL: nothing is set at connect, so the schema must come from
the role, which is checked at start; no prepared statement stays on the server."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from huikuan_runtime.db import DatabaseConnection, SearchPathError, create_pool

pytestmark = pytest.mark.integration

PREPARED = "SELECT count(*) FROM pg_prepared_statements"


def _as_user(url: str, user: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


@pytest.fixture
async def role(database_url: str, schema: str) -> AsyncIterator[str]:
    """A login role whose own search_path (in this database) puts `schema` first, as an
    operator sets up each service's role for a pooler (deploy/README.md)."""
    name = f"it_role_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(database_url)
    try:
        database = await admin.fetchval("SELECT current_database()")
        await admin.execute(
            f"CREATE ROLE {name} LOGIN; GRANT USAGE ON SCHEMA {schema} TO {name}; "
            f'ALTER ROLE {name} IN DATABASE "{database}" SET search_path TO {schema}, public'
        )
        yield name
    finally:
        await admin.execute(f"DROP OWNED BY {name}; DROP ROLE {name}")
        await admin.close()


async def test_the_schema_comes_from_the_role_and_no_statement_is_kept(
    database_url: str, schema: str, role: str
) -> None:
    pooled = DatabaseConnection(_as_user(database_url, role), "transaction", 0, listen=False)
    pool = await create_pool(pooled, schema, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT current_schema()") == schema
            for _ in range(3):
                assert await conn.fetchval("SELECT $1::int + 1", 1) == 2
            # Nothing named was prepared: another server connection would not have it.
            assert await conn.fetchval(PREPARED) == 0
    finally:
        await pool.close()

    # The same role in session mode: the startup parameter, and cached statements.
    pool = await create_pool(_as_user(database_url, role), schema, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT $1::int + 1", 1) == 2
            assert await conn.fetchval(PREPARED) > 0
    finally:
        await pool.close()


async def test_a_role_without_the_schema_is_refused_at_start(
    database_url: str, schema: str
) -> None:
    # The test server's superuser has the default search_path ("$user", public).
    pooled = DatabaseConnection(database_url, "transaction", 0, listen=False)
    with pytest.raises(SearchPathError, match=rf"sees schema 'public' first, not '{schema}'"):
        await create_pool(pooled, schema, min_size=1, max_size=2)
