"""asyncpg pools bound to one service's schema, directly or through a pooler.

PostgreSQL is reached one of two ways (`DATABASE_POOL_MODE`):

- `session`: `DATABASE_URL` leads to the server itself, or to a pooler that gives a client
  one server connection for as long as it stays connected. A connection is set up once:
  the service's schema goes first on its `search_path` as a startup parameter, asyncpg
  caches prepared statements, relays LISTEN for the outbox's notifications, and a
  connection returned to the pool is reset (`RESET ALL`, `UNLISTEN *` ...).
- `transaction`: it leads to a pooler in transaction mode (PgBouncer `pool_mode =
  transaction`), where each transaction may run on another server connection, so nothing
  a connection sets outlives a transaction. Nothing is set at connect: the schema comes
  from the service's own database role (`ALTER ROLE ... SET search_path`, which the server
  applies to every connection the pooler opens for that role; the pooler keeps one pool per
  role and database) and is checked once at start (`SearchPathError`). No prepared
  statement is cached: asyncpg then describes each statement unnamed and runs it with no
  Sync in between, so the pooler keeps both on one server connection. Relays poll instead
  of LISTEN (`DatabaseConnection.listen`), and a released connection is not reset (there is
  no session of its own to reset; the reset would land on a stranger's server connection
  and cost a round trip).

The schema costs no round trip per transaction: the server applies the role's
`search_path` when it opens a connection. The statement cache's absence does cost one per
statement, and a parse and plan each time (measured in deploy/README.md).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import asyncpg

if TYPE_CHECKING:
    from huikuan_runtime.settings import ServiceSettings

PoolMode = Literal["session", "transaction"]

# asyncpg's own default.
DEFAULT_STATEMENT_CACHE_SIZE = 100


@dataclass(frozen=True, slots=True)
class DatabaseConnection:
    """How a process reaches PostgreSQL (`DATABASE_*` settings)."""

    url: str = field(repr=False)
    pool_mode: PoolMode = "session"
    statement_cache_size: int = DEFAULT_STATEMENT_CACHE_SIZE
    listen: bool = True

    @classmethod
    def of(cls, database: Database) -> DatabaseConnection:
        return cls(database) if isinstance(database, str) else database


# A URL alone is a direct connection in session mode (local servers, tests, benchmarks).
Database = DatabaseConnection | str


class SearchPathError(RuntimeError):
    """Through a transaction pooler the server must put the service's schema first."""


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


async def _no_session_to_reset(conn: asyncpg.Connection) -> None:
    """Through a transaction pooler a released connection has no session state of its own
    (asyncpg has already rolled back anything left open)."""


async def create_pool(
    database: Database, schema: str, *, min_size: int = 1, max_size: int = 10
) -> asyncpg.Pool:
    """A pool whose connections see `schema` first; JSON columns map to Python values."""
    db = DatabaseConnection.of(database)
    server_settings = {"application_name": schema}  # a parameter poolers pass on
    if db.pool_mode == "session":
        server_settings["search_path"] = f"{schema},public"
    pool = await asyncpg.create_pool(
        db.url,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        server_settings=server_settings,
        statement_cache_size=db.statement_cache_size,
        reset=_no_session_to_reset if db.pool_mode == "transaction" else None,
    )
    if db.pool_mode == "transaction":
        try:
            await check_search_path(pool, schema)
        except BaseException:
            await pool.close()
            raise
    return pool


async def check_search_path(conn: asyncpg.Pool | asyncpg.Connection, schema: str) -> None:
    """Refuse to go on unless the server's own `search_path` for this role puts `schema`
    first (through a transaction pooler nothing we set would stay)."""
    user, current = await conn.fetchrow("SELECT current_user, current_schema()")
    if current != schema:
        raise SearchPathError(
            f"DATABASE_POOL_MODE=transaction: role {user!r} sees schema {current!r} first, "
            f"not {schema!r}. Give each service a role of its own whose search_path leads "
            f"to its schema (ALTER ROLE {user} SET search_path TO {schema}, public; "
            "deploy/README.md), and run its migrate step first, which creates the schema."
        )


@asynccontextmanager
async def service_pool(settings: ServiceSettings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(
        settings.database,
        settings.db_schema,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
    )
    try:
        yield pool
    finally:
        await pool.close()


async def connect(database: Database) -> asyncpg.Connection:
    """One connection, for work that needs no pool (migrations)."""
    db = DatabaseConnection.of(database)
    return await asyncpg.connect(db.url, statement_cache_size=db.statement_cache_size)


@asynccontextmanager
async def unit_of_work(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection inside a transaction: committed when the block ends, rolled back on error."""
    async with pool.acquire() as conn, conn.transaction():
        yield conn


async def xact_lock(conn: asyncpg.Connection, key: str) -> None:
    """Hold the advisory lock named `key` until the transaction ends (writers of one thing
    serialise; readers are not blocked)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", key)
