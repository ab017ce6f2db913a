"""Reading the pipeline's state from Kafka itself: consumer group lag (committed offsets
against end offsets), record counts of the dead-letter topics, reading and re-publishing
dead letters. One short-lived set of clients per call: ops calls are rare and this keeps
no connection state between them.

Topics go in and come out by their logical names (`credit.dlq.v1`), as the ops API shows
them; only here are they the cluster's names in the deployment's namespace
(`KAFKA_TOPIC_PREFIX`)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from gateway.ops.dead_letters import Position, Raw
from huikuan_runtime.kafka import KafkaConnection, KafkaNamespace, make_admin, make_producer
from huikuan_runtime.problems import UpstreamUnavailable

T = TypeVar("T")
CLIENT_ID = "gateway-ops"


@dataclass(frozen=True, slots=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None  # None: the group has committed nothing there yet
    end_offset: int
    lag: int


def _raw(record: ConsumerRecord[bytes, bytes], topic: str) -> Raw:
    return Raw(
        topic=topic,
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=record.timestamp,
        key=record.key,
        value=record.value,
        headers=tuple((k, bytes(v)) for k, v in (record.headers or ())),
    )


class Kafka:
    """An admin client and a group-less consumer, open for one ops call."""

    def __init__(
        self,
        admin: AIOKafkaAdminClient,
        consumer: AIOKafkaConsumer,
        connection: KafkaConnection,
        namespace: KafkaNamespace,
    ):
        self._admin = admin
        self._consumer = consumer
        self._connection = connection
        self._namespace = namespace

    def _logical(self, tp: TopicPartition) -> str:
        """The logical name of a partition's topic (one `partitions` found: in the namespace)."""
        return self._namespace.logical(tp.topic) or tp.topic

    async def partitions(self, topics: Iterable[str]) -> list[TopicPartition]:
        """The partitions of the logical `topics` that exist, on the cluster, in the
        topics' logical order."""
        wanted = sorted(self._namespace.topics(set(topics)))
        if not wanted:
            return []
        found = []
        for topic in await self._admin.describe_topics(wanted):
            if topic["error_code"] == 0:
                for p in topic["partitions"]:
                    found.append(TopicPartition(topic["topic"], p["partition"]))
        return sorted(found, key=lambda tp: (self._logical(tp), tp.partition))

    async def bounds(
        self, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, tuple[int, int]]:
        """(first, end) offset of each partition."""
        if not partitions:
            return {}
        first = await self._consumer.beginning_offsets(partitions)
        end = await self._consumer.end_offsets(partitions)
        return {tp: (first[tp], end[tp]) for tp in partitions}

    async def lag(self, group: str, topics: Iterable[str]) -> list[PartitionLag]:
        """Per partition of `topics`: what `group` committed and how far behind the end it
        is (a partition it never committed counts from the first offset kept)."""
        partitions = await self.partitions(topics)
        if not partitions:
            return []
        committed = await self._admin.list_consumer_group_offsets(group, partitions=partitions)
        bounds = await self.bounds(partitions)
        found = []
        for tp in partitions:
            first, end = bounds[tp]
            meta = committed.get(tp)
            offset = meta.offset if meta is not None and meta.offset >= 0 else None
            behind = end - (offset if offset is not None else first)
            found.append(PartitionLag(self._logical(tp), tp.partition, offset, end, max(0, behind)))
        return found

    async def counts(self, topics: Iterable[str]) -> dict[str, int]:
        """Records kept on each topic."""
        wanted = sorted(set(topics))
        bounds = await self.bounds(await self.partitions(wanted))
        totals = dict.fromkeys(wanted, 0)
        for tp, (first, end) in bounds.items():
            totals[self._logical(tp)] += end - first
        return totals

    async def read(
        self,
        topics: Iterable[str],
        keep: Callable[[Raw], T | None],
        *,
        after: Position | None,
        limit: int,
        deadline: float,
    ) -> tuple[list[T], bool]:
        """Records of `topics` in (topic, partition, offset) order after `after`, mapped by
        `keep` (None drops one), up to `limit`; and whether more follow."""
        partitions = await self.partitions(topics)
        bounds = await self.bounds(partitions)
        found: list[T] = []
        for tp in partitions:
            first, end = bounds[tp]
            start = first
            topic = self._logical(tp)
            if after is not None:
                if (topic, tp.partition) < (after.topic, after.partition):
                    continue
                if (topic, tp.partition) == (after.topic, after.partition):
                    start = max(first, after.offset + 1)
            if start >= end:
                continue
            self._consumer.assign([tp])
            self._consumer.seek(tp, start)
            position = start
            while position < end:
                if time.monotonic() > deadline:
                    raise UpstreamUnavailable("reading the dead-letter topics took too long")
                batch = await self._consumer.getmany(tp, timeout_ms=500, max_records=500)
                for record in batch.get(tp, []):
                    position = record.offset + 1
                    if record.offset >= end:
                        break
                    item = keep(_raw(record, topic))
                    if item is not None:
                        if len(found) == limit:
                            return found, True
                        found.append(item)
                if not batch:
                    position = await self._consumer.position(tp)
        return found, False

    async def record_at(self, at: Position, deadline: float) -> Raw | None:
        tp = TopicPartition(self._namespace.topic(at.topic), at.partition)
        if tp not in await self.partitions([at.topic]):
            return None
        first, end = (await self.bounds([tp]))[tp]
        if not first <= at.offset < end:
            return None
        self._consumer.assign([tp])
        self._consumer.seek(tp, at.offset)
        while time.monotonic() < deadline:
            batch = await self._consumer.getmany(tp, timeout_ms=500, max_records=1)
            for record in batch.get(tp, []):
                return _raw(record, at.topic) if record.offset == at.offset else None
        raise UpstreamUnavailable("reading the dead letter took too long")

    async def publish(
        self, topic: str, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
    ) -> tuple[int, int]:
        """Send one record to the logical `topic` with the system's idempotent producer;
        (partition, offset)."""
        producer = make_producer(self._connection, CLIENT_ID)
        await producer.start()
        try:
            meta = await producer.send_and_wait(
                self._namespace.topic(topic), value=value, key=key, headers=headers
            )
        finally:
            await producer.stop()
        return meta.partition, meta.offset


@asynccontextmanager
async def connect(
    connection: KafkaConnection, namespace: KafkaNamespace, timeout: float
) -> AsyncIterator[Kafka]:
    """Clients for one call on the topics of `namespace`; any Kafka failure or a call over
    `timeout` is a 503."""
    admin = make_admin(connection, CLIENT_ID)
    consumer = AIOKafkaConsumer(
        **connection.options(),
        client_id=CLIENT_ID,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    try:
        async with asyncio.timeout(timeout):
            await admin.start()
            await consumer.start()
            yield Kafka(admin, consumer, connection, namespace)
    except (KafkaError, TimeoutError, OSError) as exc:
        raise UpstreamUnavailable(f"Kafka did not answer: {type(exc).__name__}") from exc
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()
        with contextlib.suppress(Exception):
            await admin.close()
