"""The outbox relay: publishes committed outbox rows to Kafka, each subject's in order.

Replicas share the work by lanes: each row falls in one of `LANES` lanes by a hash of its
key (`outbox_lane`, the runtime's migration 0003), so a subject's events share a lane. A
batch first takes the transaction-level advisory locks of up to `LANES_PER_BATCH` lanes
that have unpublished rows (those another replica holds are skipped, and each replica
starts its search at a random lane), then reads those lanes' oldest rows in `position`
order, sends them through the idempotent producer and marks them published in the same
transaction. Two replicas never publish one lane at once, so per-subject order holds with
any number of them (with `SKIP LOCKED` alone, two replicas took disjoint batches of one
subject and published them concurrently). A crash after sending but before the commit
re-sends the batch: delivery is at least once, and consumers drop duplicates by event id.
The relay wakes on LISTEN/NOTIFY and also polls, so a lost notification only delays
publishing; without LISTEN (`listen=False`: through a transaction pooler, where a
listening session cannot be had) it only polls, every `poll_seconds`.

Every record is a CloudEvent in the structured content mode of the Kafka protocol binding:
the value is the envelope as the outbox holds it, the key `tenant/subject`, and the headers
the binding's (`content-type: application/cloudevents+json`) followed by the row's own
(trace context ...).

Outbox rows name their topic by its logical name (`ledger.events.v1`); the relay sends each
to that topic in the deployment's namespace (`KAFKA_TOPIC_PREFIX`) as it is when the row is
published, not when it was written. So a row written before the prefix changed goes where
the consumers now read, never to a namespace nobody reads any more, and the code that
writes events needs no settings to name their topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator

import asyncpg
from aiokafka import AIOKafkaProducer

from huikuan_events import KAFKA_HEADERS
from huikuan_runtime import health, metrics
from huikuan_runtime.kafka import NO_PREFIX, KafkaNamespace
from huikuan_runtime.outbox import notify_channel

log = logging.getLogger(__name__)

LANES = 64  # `outbox_lane(key)` is a hash of the key & 63
LANES_PER_BATCH = 8  # so that several replicas find lanes of their own

# The lanes of this batch: those with unpublished rows, in the order given, whose lock this
# transaction gets (LIMIT stops the search, so at most $2 locks are taken). The locks' class
# is the schema: services sharing a database never wait for each other.
_CLAIM_LANES = """
    SELECT lane FROM (
        SELECT lane FROM unnest($1::int[]) AS x(lane)
        WHERE EXISTS (SELECT 1 FROM outbox_event
                      WHERE published_at IS NULL AND outbox_lane(key) = x.lane)
        OFFSET 0
    ) busy
    WHERE pg_try_advisory_xact_lock(hashtext(current_schema()), lane)
    LIMIT $2"""

# The oldest unpublished rows of the claimed lanes, by position: each lane's are a prefix of
# its own order (read lane by lane through the index, never the whole backlog).
_LANE_ROWS = """
    SELECT o.position, o.topic, o.key, o.payload, o.headers
    FROM unnest($1::int[]) AS l(lane)
    CROSS JOIN LATERAL (
        SELECT position, topic, key, payload, headers FROM outbox_event
        WHERE published_at IS NULL AND outbox_lane(key) = l.lane
        ORDER BY position LIMIT $2
    ) o
    ORDER BY o.position LIMIT $2"""


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        schema: str,
        *,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
        listen: bool = True,
        namespace: KafkaNamespace = NO_PREFIX,
    ) -> None:
        self._pool = pool
        self._namespace = namespace
        self._producer = producer
        self._schema = schema
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._listen = listen
        self._wake = asyncio.Event()

    async def publish_batch(self) -> int:
        """Publish up to one batch of unpublished events; return how many were published."""
        start = random.randrange(LANES)
        order = [(start + n) % LANES for n in range(LANES)]
        async with self._pool.acquire() as conn, conn.transaction():
            lanes = [r["lane"] for r in await conn.fetch(_CLAIM_LANES, order, LANES_PER_BATCH)]
            if not lanes:
                return 0
            rows = await conn.fetch(_LANE_ROWS, lanes, self._batch_size)
            if not rows:
                return 0
            pending = [
                await self._producer.send(
                    self._namespace.topic(row["topic"]),
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
        async with self._listening():
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

    @contextlib.asynccontextmanager
    async def _listening(self) -> AsyncIterator[None]:
        """While the relay runs, one connection of the pool LISTENs on the schema's channel
        and wakes it; a relay that only polls holds no connection between batches."""
        if not self._listen:
            log.info("relay started, polling", extra={"schema": self._schema})
            try:
                yield
            finally:
                log.info("relay stopped", extra={"schema": self._schema})
            return
        listener = await self._pool.acquire()
        channel = notify_channel(self._schema)
        await listener.add_listener(channel, self._notified)
        log.info("relay started", extra={"schema": self._schema, "channel": channel})
        try:
            yield
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
