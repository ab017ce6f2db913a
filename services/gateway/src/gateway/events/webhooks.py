"""What the gateway does with each event it consumes: one pending delivery per active
subscription of the event's tenant that wants its type.

The handler runs inside the consumer's transaction (huikuan_runtime.consumer), the one
that records the event id as processed, so each event fans out exactly once however
often Kafka delivers it.
"""

from __future__ import annotations

import asyncpg

from gateway.store import webhooks as store
from huikuan_events import Envelope, uuid7
from huikuan_events.registry import EVENT_TYPES
from huikuan_events.topics import EVENT_TOPICS
from huikuan_runtime.clock import SystemClock
from huikuan_runtime.consumer import Handler

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
