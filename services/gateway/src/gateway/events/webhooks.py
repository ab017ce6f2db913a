"""What the gateway does with each event it consumes: one pending delivery per active
subscription of the event's tenant that wants its type.

The handler runs inside the consumer's transaction (huikuan_runtime.consumer), the one
that records the event id as processed, so each event fans out exactly once however
often Kafka delivers it.

Only events of tenants with a subscription are applied at all: after each fetch from
Kafka the consumer's `admit` hook reads which tenants have one (so a subscription
committed before an event was published always sees it), and the loop passes over the
rest by their record key (`tenant/customer`) without a transaction. Most events concern
nobody's webhook, and a new consumer group reading the topics from the beginning must not
take a transaction for each of them.
"""

from __future__ import annotations

import asyncpg

from gateway.store import webhooks as store
from huikuan_events import Envelope, uuid7
from huikuan_events.registry import EVENT_TYPES
from huikuan_events.topics import EVENT_TOPICS, tenant_of_key
from huikuan_runtime.clock import SystemClock
from huikuan_runtime.consumer import ConsumerSpec, Handler, RecordFilter

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


async def subscribed_tenants_only(conn: asyncpg.Connection) -> RecordFilter:
    """The consumer's `admit` hook: read which tenants have a subscription now, and admit
    the fetch's records of those tenants only."""
    subscribed = await store.subscribed_tenants(conn)
    return lambda record: tenant_of_key(record.key) in subscribed


CONSUMER = ConsumerSpec(TOPICS, HANDLERS, admit=subscribed_tenants_only)
