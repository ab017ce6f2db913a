"""Kafka clients configured the one way this system uses them, and topic set-up."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient

log = logging.getLogger(__name__)

DEFAULT_PARTITIONS = 6


def make_producer(bootstrap_servers: str, client_id: str) -> AIOKafkaProducer:
    """An idempotent producer: acks from all replicas, no duplicates from its own retries."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
    )


def make_consumer(
    bootstrap_servers: str, group_id: str, topics: tuple[str, ...], *, max_poll_records: int = 500
) -> AIOKafkaConsumer:
    """A group consumer that never commits by itself and starts from the beginning."""
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        client_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_poll_records,
    )


async def ensure_topics(
    bootstrap_servers: str, topics: tuple[str, ...], partitions: int = DEFAULT_PARTITIONS
) -> list[str]:
    """Create the topics that do not exist yet; return the ones created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="huikuan-setup")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            await admin.create_topics(
                [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in missing]
            )
            log.info("topics created", extra={"topics": missing, "partitions": partitions})
        return missing
    finally:
        await admin.close()


class KafkaProbe:
    """A metadata-only client for readiness checks."""

    def __init__(self, bootstrap_servers: str, client_id: str) -> None:
        self._client = AIOKafkaClient(bootstrap_servers=bootstrap_servers, client_id=client_id)
        self._started = False

    async def check(self) -> None:
        async with asyncio.timeout(2.0):
            if not self._started:
                await self._client.bootstrap()
                self._started = True
            await self._client.fetch_all_metadata()

    async def close(self) -> None:
        await self._client.close()
