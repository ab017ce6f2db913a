"""Migrations against real PostgreSQL: applied once, checksums enforced, one applier at a
time per file (a transaction-level lock, so it holds through a transaction pooler too)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from huikuan_runtime.migrations import MigrationError, _lock_key, migrate, plan

pytestmark = pytest.mark.integration

WaitUntil = Callable[[Callable[[], Awaitable[bool]], str], Awaitable[None]]


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url)
    try:
        yield conn
    finally:
        await conn.close()


async def _applied(conn: asyncpg.Connection, schema: str) -> list[str]:
    rows = await conn.fetch(
        f"SELECT source, version, name FROM {schema}.schema_migration ORDER BY applied_at, source"
    )
    return [f"{r['source']}/{r['version']:04d}_{r['name']}" for r in rows]


async def test_each_migration_is_applied_once(
    conn: asyncpg.Connection, schema_name: str, migrations_dir: Path
) -> None:
    migrations = plan(migrations_dir)
    labels = [m.label for m in migrations]
    assert await migrate(conn, schema_name, migrations) == labels
    assert await migrate(conn, schema_name, migrations) == []
    assert sorted(await _applied(conn, schema_name)) == sorted(labels)
    tables = await conn.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema_name
    )
    assert {r["table_name"] for r in tables} >= {
        "schema_migration",
        "outbox_event",
        "event_sequence",
        "processed_event",
        "subject_cursor",
        "test_effect",
    }

    # A new file is applied alone, after the others.
    (migrations_dir / "0002_more.sql").write_text("CREATE TABLE more (x int);", encoding="utf-8")
    assert await migrate(conn, schema_name, plan(migrations_dir)) == ["service/0002_more"]
    assert await migrate(conn, schema_name, plan(migrations_dir)) == []


async def test_a_changed_migration_is_refused(
    conn: asyncpg.Connection, database_url: str, schema_name: str, migrations_dir: Path
) -> None:
    await migrate(conn, schema_name, plan(migrations_dir))
    edited = migrations_dir / "0001_test_effect.sql"
    edited.write_text(edited.read_text(encoding="utf-8") + "\n-- edited\n", encoding="utf-8")
    (migrations_dir / "0002_more.sql").write_text("CREATE TABLE more (x int);", encoding="utf-8")

    with pytest.raises(MigrationError, match=r"service/0001_test_effect changed"):
        await migrate(conn, schema_name, plan(migrations_dir))
    assert "service/0002_more" not in await _applied(conn, schema_name)
    # The advisory lock was released: another connection can take it at once.
    other = await asyncpg.connect(database_url)
    try:
        assert await other.fetchval("SELECT pg_try_advisory_lock($1)", _lock_key(schema_name))
    finally:
        await other.close()


async def test_a_failing_migration_is_not_recorded_and_releases_the_lock(
    conn: asyncpg.Connection, database_url: str, schema_name: str, migrations_dir: Path
) -> None:
    broken = migrations_dir / "0002_broken.sql"
    broken.write_text("CREATE TABLE half (x int);\nCREATE TABLE oops (;", encoding="utf-8")
    with pytest.raises(asyncpg.PostgresSyntaxError):
        await migrate(conn, schema_name, plan(migrations_dir))
    assert "service/0002_broken" not in await _applied(conn, schema_name)
    assert await conn.fetchval("SELECT to_regclass($1)", f"{schema_name}.half") is None

    broken.write_text("CREATE TABLE half (x int);", encoding="utf-8")
    other = await asyncpg.connect(database_url)
    try:
        async with asyncio.timeout(10):  # would hang if the first connection kept the lock
            assert await migrate(other, schema_name, plan(migrations_dir)) == [
                "service/0002_broken"
            ]
    finally:
        await other.close()


async def test_concurrent_migrators_apply_each_migration_once(
    database_url: str, schema_name: str, migrations_dir: Path, wait_until: WaitUntil
) -> None:
    migrations = plan(migrations_dir)
    holder, first, second = [await asyncpg.connect(database_url) for _ in range(3)]
    runs: list[asyncio.Task[list[str]]] = []
    try:
        # Hold the lock so both migrators are certainly queued on it at the same time.
        await holder.execute("SELECT pg_advisory_lock($1)", _lock_key(schema_name))
        runs += [
            asyncio.create_task(migrate(first, schema_name, migrations)),
            asyncio.create_task(migrate(second, schema_name, migrations)),
        ]
        pids = [first.get_server_pid(), second.get_server_pid()]

        async def both_waiting() -> bool:
            waiting: int = await holder.fetchval(
                """SELECT count(*) FROM pg_locks
                   WHERE locktype = 'advisory' AND NOT granted AND pid = ANY($1::int[])""",
                pids,
            )
            return waiting == 2

        await wait_until(both_waiting, "both migrators wait for the advisory lock")
        await holder.execute("SELECT pg_advisory_unlock($1)", _lock_key(schema_name))
        async with asyncio.timeout(20):
            results = await asyncio.gather(*runs)
    finally:
        for run in runs:
            run.cancel()
        for c in (holder, first, second):
            await c.close()

    labels = [m.label for m in migrations]
    # Between them they applied each migration once (they may take turns, file by file).
    assert sorted(results[0] + results[1]) == sorted(labels), results
    check = await asyncpg.connect(database_url)
    try:
        assert sorted(await _applied(check, schema_name)) == sorted(labels)
    finally:
        await check.close()
