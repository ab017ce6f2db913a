"""The outbox relay: publishes committed outbox rows to Kafka, in `position` order.

Each batch is claimed with `FOR UPDATE SKIP LOCKED` (so replicas share the work), sent
through the idempotent producer, and marked published in the same transaction that
claimed it. A crash after sending but before the commit re-sends the batch: delivery is
at least once, and consumers drop duplicates by event id. The relay wakes on
LISTEN/NOTIFY and also polls, so a lost notification only delays publishing.

Every record is a CloudEvent in the structured content mode of the Kafka protocol binding:
the value is the envelope as the outbox holds it, the key `tenant/subject`, and the headers
the binding's (`content-type: application/cloudevents+json`) followed by the row's own
(trace context ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
from aiokafka import AIOKafkaProducer

from huikuan_events import KAFKA_HEADERS
from huikuan_runtime import health, metrics
from huikuan_runtime.outbox import notify_channel

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        schema: str,
        *,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
    ) -> None:
        self._pool = pool
        self._producer = producer
        self._schema = schema
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._wake = asyncio.Event()

    async def publish_batch(self) -> int:
        """Publish up to one batch of unpublished events; return how many were published."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """SELECT position, topic, key, payload, headers FROM outbox_event
                   WHERE published_at IS NULL ORDER BY position
                   LIMIT $1 FOR UPDATE SKIP LOCKED""",
                self._batch_size,
            )
            if not rows:
                return 0
            pending = [
                await self._producer.send(
                    row["topic"],
                    value=row["payload"],
                    key=row["key"],
                    headers=_headers(row["headers"]),
                )
                for row in rows
            ]
            await asyncio.gather(*pending)
            await conn.execute(
                "UPDATE outbox_event SET published_at = clock_timestamp() "
                "WHERE position = ANY($1::bigint[])",
                [row["position"] for row in rows],
            )
        for row in rows:
            metrics.OUTBOX_PUBLISHED.labels(row["topic"]).inc()
        return len(rows)

    async def backlog(self) -> int:
        count: int = await self._pool.fetchval(
            "SELECT count(*) FROM outbox_event WHERE published_at IS NULL"
        )
        return count

    def _notified(self, *_: object) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set."""
        listener = await self._pool.acquire()
        channel = notify_channel(self._schema)
        await listener.add_listener(channel, self._notified)
        log.info("relay started", extra={"schema": self._schema, "channel": channel})
        try:
            failures = 0
            while not stop.is_set():
                health.beat()
                self._wake.clear()
                try:
                    published = await self.publish_batch()
                    if published < self._batch_size:
                        metrics.OUTBOX_BACKLOG.set(await self.backlog())
                except Exception:
                    # Kafka or the database is away: nothing was marked, so try again later.
                    failures += 1
                    log.exception("relay batch failed", extra={"attempt": failures})
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), min(30.0, 0.5 * 2 ** min(failures, 6)))
                    continue
                failures = 0
                if published >= self._batch_size:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_first(self._wake, stop), self._poll_seconds)
        finally:
            with contextlib.suppress(Exception):
                await listener.remove_listener(channel, self._notified)
            await self._pool.release(listener)
            log.info("relay stopped", extra={"schema": self._schema})


def _headers(own: dict[str, object]) -> list[tuple[str, bytes]]:
    """The binding's headers, then the row's own (never a second `content-type`)."""
    ours = {name for name, _ in KAFKA_HEADERS}
    return [
        *KAFKA_HEADERS,
        *((k, str(v).encode()) for k, v in own.items() if k.lower() not in ours),
    ]


async def _first(*events: asyncio.Event) -> None:
    """Return as soon as any of `events` is set."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
