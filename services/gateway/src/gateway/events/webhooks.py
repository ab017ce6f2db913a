"""What the gateway does with each event it consumes: one pending delivery per active
subscription of the event's tenant that wants its type.

The handler runs inside the consumer's transaction (huikuan_runtime.consumer), the one
that records the event id as processed, so each event fans out exactly once however
often Kafka delivers it.

Only events of tenants with a subscription are applied at all: after each fetch from
Kafka the consumer reads which tenants have one (so a subscription committed before an
event was published always sees it) and passes over the rest by their record key
(`tenant/customer`) without a transaction. Most events concern nobody's webhook, and a
new consumer group reading the topics from the beginning must not take a transaction for
each of them.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from gateway.store import webhooks as store
from huikuan_events import Envelope, uuid7
from huikuan_events.registry import EVENT_TYPES
from huikuan_events.topics import EVENT_TOPICS
from huikuan_runtime.clock import SystemClock
from huikuan_runtime.consumer import TRANSIENT_ERRORS, EventConsumer, Handler, Stopping
from huikuan_runtime.service import run_consumer
from huikuan_runtime.settings import ServiceSettings

log = logging.getLogger(__name__)

TOPICS: tuple[str, ...] = EVENT_TOPICS
clock = SystemClock()


async def fan_out(conn: asyncpg.Connection, event: Envelope) -> None:
    subscriptions = await store.subscribers(conn, event.tenant, event.type)
    if not subscriptions:
        return
    await store.insert_deliveries(
        conn,
        [(uuid7(), subscription_id) for subscription_id in subscriptions],
        event.tenant,
        event.id,
        event.type,
        event.subject,
        event.to_bytes(),
        clock.now(),
    )


HANDLERS: dict[str, Handler] = {event_type: fan_out for event_type in EVENT_TYPES}


def tenant_of(record: ConsumerRecord[bytes, bytes]) -> str | None:
    """The tenant in a record's key (`tenant/customer`); None when the key is not one."""
    key: bytes | None = record.key
    if not key or b"/" not in key:
        return None
    return key.split(b"/", 1)[0].decode(errors="replace")


class WebhookConsumer(EventConsumer):
    """The idempotent consumer loop, applying only records of tenants with subscriptions."""

    async def run(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        self._stop = stop
        log.info("webhook consumer started", extra={"consumer": self.name})
        try:
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=500)
                if not batches:
                    continue
                subscribed = await self._subscribed()
                for tp, records in batches.items():
                    for record in records:
                        if tenant_of(record) in subscribed:
                            await self.handle(record)
                    await self._commit(consumer, tp, records[-1].offset + 1)
        except Stopping:
            pass
        log.info("webhook consumer stopped", extra={"consumer": self.name})

    async def _subscribed(self) -> frozenset[str]:
        """The tenants with subscriptions now; a database outage is waited out (the fetched
        records are not committed until they are applied or passed over)."""
        outages = 0
        while True:
            try:
                async with self._pool.acquire() as conn:
                    return await store.subscribed_tenants(conn)
            except TRANSIENT_ERRORS as exc:
                outages += 1
                log.warning(
                    "database unavailable; the fetched events wait",
                    extra={"outage_attempt": outages, "error": repr(exc)},
                )
                await self._pause(min(30.0, self._backoff * 2 ** min(outages, 8)))


async def consume(settings: ServiceSettings) -> None:
    """`python -m gateway consume`, until SIGINT or SIGTERM."""
    await run_consumer(settings, TOPICS, HANDLERS, consumer_class=WebhookConsumer)
