"""Test support shared by the services' integration tests (a fresh migrated schema on the
real PostgreSQL, dropped afterwards), the end-to-end tests and the benchmarks (new consumer
groups that start at the end of the shared topics; the topics of a stack's own namespace
deleted when it is done)."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib.resources.abc import Traversable

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI

from huikuan_runtime.db import create_pool
from huikuan_runtime.http import INTERNAL_TOKEN_HEADER, TENANT_HEADER
from huikuan_runtime.kafka import NO_PREFIX, Kafka, KafkaNamespace, client_options, make_admin
from huikuan_runtime.migrations import migrate, plan


def database_url() -> str | None:
    """`DATABASE_URL`, which `make test` always sets; None when a test is run by hand."""
    return os.environ.get("DATABASE_URL") or None


@asynccontextmanager
async def migrated_schema(url: str, migrations: Traversable, prefix: str) -> AsyncIterator[str]:
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
async def schema_pool(
    url: str, migrations: Traversable, prefix: str
) -> AsyncIterator[asyncpg.Pool]:
    """A pool bound to a fresh migrated schema, as the service would get it."""
    async with migrated_schema(url, migrations, prefix) as schema:
        pool = await create_pool(url, schema, min_size=2, max_size=10)
        try:
            yield pool
        finally:
            await pool.close()


async def start_groups_at_end(
    kafka: Kafka, groups: Sequence[str], namespace: KafkaNamespace = NO_PREFIX
) -> None:
    """Commit the current end of every topic of `namespace` for `groups`, so that the
    consumers of a new stack on a shared broker start there instead of replaying what
    earlier test sessions and benchmarks published (a fresh database has no use for it, and
    it takes minutes). `kafka` is the broker's address, or a connection with its TLS and
    SASL settings."""
    probe = AIOKafkaConsumer(**client_options(kafka), enable_auto_commit=False)
    await probe.start()
    try:
        cluster = await probe._client.fetch_all_metadata()
        partitions = [
            TopicPartition(topic, p)
            for topic in namespace.all_topics
            for p in cluster.partitions_for_topic(topic) or ()
        ]
        ends = await probe.end_offsets(partitions)
    finally:
        await probe.stop()
    for group in groups:
        consumer = AIOKafkaConsumer(
            **client_options(kafka), group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            consumer.assign(partitions)
            await consumer.commit(ends)
        finally:
            await consumer.stop()


async def delete_namespace(kafka: Kafka, namespace: KafkaNamespace) -> None:
    """Delete the topics of a stack's own namespace from a shared broker, when the stack is
    done with them (those that exist; never the topics outside any namespace)."""
    if not namespace.prefix:
        raise ValueError("only a namespace of its own (a prefix) is deleted")
    admin = make_admin(kafka, "huikuan-dev-cleanup")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [t for t in namespace.all_topics if t in existing]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


def internal_client(app: FastAPI, tenant: str) -> httpx.AsyncClient:
    """A client of a service's `app` over ASGI, calling as the gateway does: the internal
    credential (from `app.state.settings`) and `tenant` in the headers."""
    settings = app.state.settings
    headers = {
        INTERNAL_TOKEN_HEADER: settings.internal_token.get_secret_value(),
        TENANT_HEADER: tenant,
    }
    transport = httpx.ASGITransport(app=app)
    base_url = f"http://{settings.service_name}"
    return httpx.AsyncClient(transport=transport, base_url=base_url, headers=headers)
