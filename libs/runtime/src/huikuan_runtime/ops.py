"""`GET /ops/status`: what a service tells the gateway's ops view about itself.

Every service app serves it (mounted by `create_service_app`, behind the internal
credential): its consumer group and the topics it reads (so the gateway can ask Kafka for
that group's lag), its dead-letter topic, its outbox backlog and the age of the oldest
unpublished event, and service-specific gauges (e.g. reminders due but not sent).

The consumer group and the outbox are system-wide; gauges are the calling tenant's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

import asyncpg
from fastapi import APIRouter
from pydantic import BaseModel, Field

from huikuan_events.topics import dead_letter_topic
from huikuan_runtime.deps import Pool
from huikuan_runtime.http import TenantId
from huikuan_runtime.settings import ServiceSettings

# Service-specific gauges of one tenant, read on the service's own connection.
Gauges = Callable[[asyncpg.Connection, str], Awaitable[Mapping[str, float]]]


class OutboxStatus(BaseModel):
    backlog: int = Field(ge=0, description="events written but not yet published")
    oldest_unpublished_at: datetime | None = None
    oldest_age_seconds: float | None = Field(
        None, description="how long the oldest unpublished event has waited"
    )


class ConsumerInfo(BaseModel):
    """Topics by their logical names (the gateway reads them in its namespace, the same
    `KAFKA_TOPIC_PREFIX`); the group by its id on the cluster."""

    group: str = Field(description="the Kafka consumer group id")
    topics: list[str]
    dead_letter_topic: str


class ServiceStatus(BaseModel):
    service: str
    consumer: ConsumerInfo | None = Field(None, description="null: the service consumes nothing")
    outbox: OutboxStatus
    gauges: dict[str, float] = Field(
        default_factory=dict, description="service-specific counts, for the calling tenant"
    )


async def outbox_status(conn: asyncpg.Connection) -> OutboxStatus:
    row = await conn.fetchrow(
        """SELECT count(*) AS backlog, min(created_at) AS oldest,
                  extract(epoch FROM clock_timestamp() - min(created_at))::float8 AS age
           FROM outbox_event WHERE published_at IS NULL"""
    )
    assert row is not None
    return OutboxStatus(
        backlog=row["backlog"], oldest_unpublished_at=row["oldest"], oldest_age_seconds=row["age"]
    )


async def service_status(
    pool: asyncpg.Pool,
    settings: ServiceSettings,
    tenant: str,
    *,
    consumes: tuple[str, ...] = (),
    gauges: Gauges | None = None,
) -> ServiceStatus:
    consumer = (
        ConsumerInfo(
            group=settings.consumer_group,
            topics=list(consumes),
            dead_letter_topic=dead_letter_topic(settings.service_name),
        )
        if consumes
        else None
    )
    async with pool.acquire() as conn:
        outbox = await outbox_status(conn)
        values = dict(await gauges(conn, tenant)) if gauges is not None else {}
    return ServiceStatus(
        service=settings.service_name, consumer=consumer, outbox=outbox, gauges=values
    )


def ops_router(
    settings: ServiceSettings, *, consumes: tuple[str, ...] = (), gauges: Gauges | None = None
) -> APIRouter:
    """`GET /ops/status` for one service (mount it behind the internal credential)."""
    router = APIRouter(tags=["ops"], include_in_schema=False)

    @router.get("/ops/status", response_model=ServiceStatus)
    async def ops_status(tenant: TenantId, pool: Pool) -> ServiceStatus:
        return await service_status(pool, settings, tenant, consumes=consumes, gauges=gauges)

    return router
