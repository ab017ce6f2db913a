"""asyncpg pools bound to one service's schema."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from huikuan_runtime.settings import ServiceSettings

# Failures of the database rather than of the work: retried until they pass, never counted
# against the work (an event is not dead-lettered, a delivery not failed, for them). Besides
# lost connections and contention: the server going down under us (fast shutdown, a crash,
# a backend terminated, an idle session timed out), a server not yet accepting connections,
# and a failed-over primary now read-only (the pool reconnects to the new primary).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.IdleSessionTimeoutError,
    asyncpg.ReadOnlySQLTransactionError,
    asyncpg.TooManyConnectionsError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)


def jsonb(value: Any) -> bytes:
    """`value` encoded once in jsonb's binary form (a version byte, then the JSON text): a
    parameter or COPY field given these bytes sends them as they are, so one value written
    in many rows is encoded once, not once a row."""
    return b"\x01" + json.dumps(value).encode()


def _encode_jsonb(value: Any) -> bytes:
    return value if isinstance(value, bytes) else jsonb(value)


def _decode_jsonb(data: bytes) -> Any:
    return json.loads(data[1:])


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    # jsonb in its binary form: the same values, and COPY (binary only) can write it.
    await conn.set_type_codec(
        "jsonb",
        encoder=_encode_jsonb,
        decoder=_decode_jsonb,
        schema="pg_catalog",
        format="binary",
    )


async def create_pool(
    database_url: str, schema: str, *, min_size: int = 1, max_size: int = 10
) -> asyncpg.Pool:
    """A pool whose connections see `schema` first; JSON columns map to Python values."""
    return await asyncpg.create_pool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        server_settings={"search_path": f"{schema},public", "application_name": schema},
    )


@asynccontextmanager
async def service_pool(settings: ServiceSettings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(
        settings.database_url,
        settings.db_schema,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
    )
    try:
        yield pool
    finally:
        await pool.close()


@asynccontextmanager
async def unit_of_work(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection inside a transaction: committed when the block ends, rolled back on error."""
    async with pool.acquire() as conn, conn.transaction():
        yield conn


async def xact_lock(conn: asyncpg.Connection, key: str) -> None:
    """Hold the advisory lock named `key` until the transaction ends (writers of one thing
    serialise; readers are not blocked)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", key)
