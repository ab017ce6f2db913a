"""Fixtures for the runtime's integration tests: real PostgreSQL and real Kafka.

They read `DATABASE_URL` and `KAFKA_BOOTSTRAP_SERVERS`; when either is unset the tests are
skipped with the reason (`make test` always sets both, so only a hand-run pytest skips).
Each test gets its own schema (migrated with the runtime's tables plus `test_effect`, and
dropped afterwards) and its own topics (3 partitions, deleted afterwards). Waits are
bounded polls with a deadline, never fixed sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from huikuan_runtime.db import create_pool
from huikuan_runtime.kafka import ensure_topics, make_producer
from huikuan_runtime.migrations import migrate, plan

PARTITIONS = 3
DEADLINE_SECONDS = 20.0
POLL_SECONDS = 0.05

# The test service's own migration: a table handlers write their effects to. No unique
# constraint on event_id on purpose, so a handler run twice shows up as two rows.
TEST_MIGRATION = """
CREATE TABLE test_effect (
    id          bigserial PRIMARY KEY,
    consumer    text NOT NULL,
    event_id    uuid NOT NULL,
    event_type  text NOT NULL,
    subject     text NOT NULL,
    sequence    bigint NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
"""

ReadTopic = Callable[[str, int], Awaitable[list[Any]]]
WaitUntil = Callable[[Callable[[], Awaitable[bool]], str], Awaitable[None]]
CreateTopic = Callable[[str], Awaitable[str]]


def _required_env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        pytest.skip(
            f"{name} is not set: integration tests need real PostgreSQL and Kafka. "
            "`make test` sets it; by hand, run `deploy/infra.sh up test` and export the "
            "variables in .run/test/infra.env"
        )
    return value


def unique_name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def database_url() -> str:
    return _required_env("DATABASE_URL")


@pytest.fixture(scope="session")
def bootstrap_servers() -> str:
    return _required_env("KAFKA_BOOTSTRAP_SERVERS")


@pytest.fixture
def migrations_dir(tmp_path: Path) -> Path:
    """A service migrations directory holding the test table."""
    directory = tmp_path / "migrations"
    directory.mkdir()
    (directory / "0001_test_effect.sql").write_text(TEST_MIGRATION, encoding="utf-8")
    return directory


@pytest.fixture
async def schema_name(database_url: str) -> AsyncIterator[str]:
    """A fresh schema name, not yet created; whatever exists under it is dropped at the end."""
    name = unique_name("it_")
    try:
        yield name
    finally:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        finally:
            await conn.close()


@pytest.fixture
async def schema(database_url: str, schema_name: str, migrations_dir: Path) -> str:
    """A fresh schema with the runtime's tables and `test_effect`."""
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn, schema_name, plan(migrations_dir))
    finally:
        await conn.close()
    return schema_name


@pytest.fixture
async def pool(database_url: str, schema: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool bound to the test's schema, as services get it."""
    pool = await create_pool(database_url, schema, min_size=1, max_size=5)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def create_topic(bootstrap_servers: str) -> AsyncIterator[CreateTopic]:
    """`await create_topic(name)` creates `name` with 3 partitions; it is deleted afterwards."""
    created: list[str] = []
    probe = make_producer(bootstrap_servers, "it-topic-probe")
    await probe.start()

    async def create(name: str) -> str:
        await ensure_topics(bootstrap_servers, (name,), partitions=PARTITIONS)
        created.append(name)
        # Wait (bounded by the producer's metadata timeout) until the broker serves it.
        partitions = await probe.partitions_for(name)
        assert len(partitions) == PARTITIONS, f"{name} has partitions {partitions}"
        return name

    try:
        yield create
    finally:
        await probe.stop()
        if created:
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
            await admin.start()
            try:
                with contextlib.suppress(Exception):
                    await admin.delete_topics(created)
            finally:
                await admin.close()


@pytest.fixture
async def topic(create_topic: CreateTopic) -> str:
    """One fresh topic for the test."""
    return await create_topic(unique_name("it.events."))


@pytest.fixture
async def producer(bootstrap_servers: str) -> AsyncIterator[AIOKafkaProducer]:
    """The idempotent producer services use, started."""
    producer = make_producer(bootstrap_servers, unique_name("it-producer-"))
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def _wait_until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    try:
        async with asyncio.timeout(DEADLINE_SECONDS):
            while not await check():  # noqa: ASYNC110 - the state polled is in Postgres/Kafka
                await asyncio.sleep(POLL_SECONDS)
    except TimeoutError:
        pytest.fail(f"not within {DEADLINE_SECONDS}s: {what}")


@pytest.fixture
def wait_until() -> WaitUntil:
    """`await wait_until(check, what)`: poll `check()` until true, fail after the deadline."""
    return _wait_until


@pytest.fixture
def read_topic(bootstrap_servers: str) -> ReadTopic:
    """`await read_topic(topic, n)`: every record of `topic`, read by a fresh group.

    Reads until at least `n` records arrived and the group's position is at the end of
    every partition (so records beyond `n` are returned too); fails after the deadline.
    Records come back ordered by (partition, offset).
    """

    async def read(topic: str, expected: int) -> list[Any]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap_servers,
            group_id=unique_name("it-reader-"),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        records: list[Any] = []

        async def at_end() -> bool:
            assignment = consumer.assignment()
            if len(assignment) < PARTITIONS:
                return False
            ends = await consumer.end_offsets(list(assignment))
            for tp in assignment:
                if await consumer.position(tp) < ends[tp]:
                    return False
            return True

        try:
            async with asyncio.timeout(DEADLINE_SECONDS):
                while True:
                    batches = await consumer.getmany(timeout_ms=200)
                    for batch in batches.values():
                        records.extend(batch)
                    if len(records) >= expected and await at_end():
                        break
        except TimeoutError:
            pytest.fail(f"{topic}: {len(records)} of {expected} records within {DEADLINE_SECONDS}s")
        finally:
            await consumer.stop()
        return sorted(records, key=lambda r: (r.partition, r.offset))

    return read


async def committed_to_end(consumer: AIOKafkaConsumer, topic: str) -> bool:
    """Whether `consumer`'s group has committed every partition of `topic` up to its end."""
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    ends = await consumer.end_offsets(tps)
    for tp in tps:
        if (await consumer.committed(tp) or 0) < ends[tp]:
            return False
    return True


@pytest.fixture
def caught_up() -> Callable[[AIOKafkaConsumer, str], Awaitable[bool]]:
    """`await caught_up(consumer, topic)`: the group's commits reached the topic's end."""
    return committed_to_end
