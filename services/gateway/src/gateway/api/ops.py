"""The ops view of the pipelines (`/v1/ops/pipeline`) and the dead letters
(`/v1/ops/dead-letters`, replay). The job triggers (`/v1/ops/jobs/*`) forward 1:1 and live
with their services' routes.

Tenancy: consumer lag, outbox backlogs and dead-letter counts describe the shared
infrastructure and are system-wide (they carry no tenant's data); the reminders gauges and
the dead letters themselves are the caller's tenant's only.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from gateway.api.deps import Config, Downstreams, IdempotencyKey, Idempotent, require_scope
from gateway.api.responses import errors
from gateway.clients import Downstream
from gateway.domain.keys import Principal
from gateway.ops import kafka
from gateway.ops.dead_letters import (
    DEAD_LETTER_TOPICS,
    DeadLetter,
    describe,
    envelope_of,
    original_topic,
    parse_id,
    replay_headers,
    tenant_of,
)
from gateway.ops.status import Limits, Status, judge, merged, worst
from gateway.service.status import own_status
from huikuan_contracts.fields import ID_PATTERN
from huikuan_events.topics import EVENT_TOPICS
from huikuan_runtime.deps import Clock, Pool, app_state
from huikuan_runtime.ops import ServiceStatus
from huikuan_runtime.pagination import Cursor, invalid_cursor
from huikuan_runtime.problems import Conflict, NotFound, Problem

router = APIRouter(tags=["ops"])

OpsRead = Annotated[Principal, Depends(require_scope("ops:read"))]
OpsWrite = Annotated[Principal, Depends(require_scope("ops:write"))]
# The topics the gateway itself consumes (as create_service_app was told).
Consumes = Annotated[tuple[str, ...], Depends(app_state("ops_consumes"))]
DeadLetterId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
        examples=["credit.dlq.v1:3:17"],
        description="`<dead-letter topic>:<partition>:<offset>`, as listed",
    ),
]

TENANCY = (
    "consumers, outboxes and dead_letters are system-wide (shared infrastructure, no "
    "tenant's data); gauges are the caller's tenant's"
)


class PartitionLagOut(BaseModel):
    topic: str
    partition: int
    committed: int | None = Field(description="null: the group has committed nothing here")
    end_offset: int
    lag: int


class ConsumerGroupOut(BaseModel):
    service: str
    group: str
    status: Status
    lag: int = Field(description="records behind, summed over the partitions")
    max_partition_lag: int
    partitions: list[PartitionLagOut]


class OutboxOut(BaseModel):
    service: str
    status: Status
    backlog: int
    oldest_unpublished_at: datetime | None
    oldest_age_seconds: float | None


class GaugeOut(BaseModel):
    service: str
    name: str = Field(examples=["reminders_due_unsent"])
    value: float
    status: Status


class DeadLetterTopicOut(BaseModel):
    topic: str
    status: Status
    count: int = Field(description="records kept on the topic (replayed ones included)")


class ServiceDown(BaseModel):
    service: str
    status: Status = "critical"
    detail: str


class Threshold(BaseModel):
    warn: float
    critical: float


class Pipeline(BaseModel):
    status: Status = Field(description="the worst status of any item")
    as_of: datetime
    tenancy: str = Field(default=TENANCY)
    consumers: list[ConsumerGroupOut]
    outboxes: list[OutboxOut]
    gauges: list[GaugeOut]
    dead_letters: list[DeadLetterTopicOut]
    unavailable: list[ServiceDown] = Field(description="services that did not report")
    thresholds: dict[str, Threshold]


async def _remote(client: Downstream, tenant: str) -> ServiceStatus | ServiceDown:
    try:
        reply = await client.request("GET", "/ops/status", tenant)
    except Problem as exc:
        return ServiceDown(service=client.name, detail=exc.detail or "unavailable")
    if reply.status != 200:
        return ServiceDown(service=client.name, detail=f"{client.name} answered {reply.status}")
    return ServiceStatus.model_validate(reply.body)


@router.get(
    "/ops/pipeline",
    response_model=Pipeline,
    responses=errors(),
    openapi_extra={"x-required-scope": "ops:read"},
    summary="Consumer lag, outbox backlog, reminders due and failing, dead letters",
)
async def get_pipeline(
    who: OpsRead,
    settings: Config,
    downstreams: Downstreams,
    pool: Pool,
    consumes: Consumes,
    clock: Clock,
) -> Pipeline:
    """Every figure of the event pipelines with a status (`ok`, `warn`, `critical`) by the
    gateway's thresholds (`GATEWAY_OPS_THRESHOLDS`). Each service reports its consumer
    group, outbox and gauges; lag and dead-letter counts are read from Kafka itself.
    Consumer lag, outbox backlog and dead-letter counts are system-wide; the gauges
    (reminders due, deliveries failing) are the caller's tenant's."""
    limits = merged(settings.ops_thresholds)
    at = clock.now()
    reports = await asyncio.gather(
        *(_remote(client, who.tenant) for client in downstreams.values()),
        own_status(pool, settings, who.tenant, consumes, at),
    )
    statuses = [r for r in reports if isinstance(r, ServiceStatus)]
    down = [r for r in reports if isinstance(r, ServiceDown)]
    dlq_topics = sorted(
        set(DEAD_LETTER_TOPICS) | {s.consumer.dead_letter_topic for s in statuses if s.consumer}
    )
    namespace = settings.kafka_namespace
    async with kafka.connect(settings.kafka, namespace, settings.ops_kafka_timeout_seconds) as k:
        lags = [
            (s.service, s.consumer.group, await k.lag(s.consumer.group, s.consumer.topics))
            for s in statuses
            if s.consumer is not None
        ]
        counts = await k.counts(dlq_topics)
    consumers = [_group(service, group, parts, limits) for service, group, parts in lags]
    outboxes = [
        OutboxOut(
            service=s.service,
            status=worst(
                [
                    judge(s.outbox.backlog, limits["outbox_backlog"]),
                    judge(s.outbox.oldest_age_seconds, limits["outbox_age_seconds"]),
                ]
            ),
            backlog=s.outbox.backlog,
            oldest_unpublished_at=s.outbox.oldest_unpublished_at,
            oldest_age_seconds=s.outbox.oldest_age_seconds,
        )
        for s in statuses
    ]
    gauges = [
        GaugeOut(service=s.service, name=name, value=value, status=judge(value, limits.get(name)))
        for s in statuses
        for name, value in sorted(s.gauges.items())
    ]
    dead_letters = [
        DeadLetterTopicOut(topic=t, status=judge(n, limits["dead_letters"]), count=n)
        for t, n in counts.items()
    ]
    every: list[Status] = [
        *(c.status for c in consumers),
        *(o.status for o in outboxes),
        *(g.status for g in gauges),
        *(d.status for d in dead_letters),
        *(s.status for s in down),
    ]
    return Pipeline(
        status=worst(every),
        as_of=clock.now(),
        consumers=consumers,
        outboxes=outboxes,
        gauges=gauges,
        dead_letters=dead_letters,
        unavailable=down,
        thresholds={name: Threshold(warn=w, critical=c) for name, (w, c) in limits.items()},
    )


def _group(
    service: str, group: str, parts: list[kafka.PartitionLag], limits: dict[str, Limits]
) -> ConsumerGroupOut:
    biggest = max((p.lag for p in parts), default=0)
    return ConsumerGroupOut(
        service=service,
        group=group,
        status=judge(biggest, limits["consumer_lag"]),
        lag=sum(p.lag for p in parts),
        max_partition_lag=biggest,
        partitions=[
            PartitionLagOut(
                topic=p.topic,
                partition=p.partition,
                committed=p.committed,
                end_offset=p.end_offset,
                lag=p.lag,
            )
            for p in parts
        ],
    )


class DeadLetterPage(BaseModel):
    items: list[DeadLetter]
    next_cursor: str | None = None


@router.get(
    "/ops/dead-letters",
    response_model=DeadLetterPage,
    responses=errors(404),
    openapi_extra={"x-required-scope": "ops:read"},
    summary="Records on the dead-letter topics",
)
async def list_dead_letters(
    who: OpsRead,
    settings: Config,
    topic: Annotated[
        str | None,
        Query(
            pattern=r"^[a-z]+\.dlq\.v1$",
            examples=["credit.dlq.v1"],
            description="one dead-letter topic (default: all)",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="page size")] = 50,
    cursor: Cursor = None,
) -> DeadLetterPage:
    """The records on the `<consumer>.dlq.v1` topics, oldest first per partition, with the
    `x-dlq-*` headers and the event inside when the value is an envelope. Only the caller's
    tenant's records are listed, plus those naming no tenant at all (a value that is not an
    envelope and a key that is not `tenant/customer`), without their error text."""
    if topic is not None and topic not in DEAD_LETTER_TOPICS:
        raise NotFound(f"no dead-letter topic {topic!r}; there are {list(DEAD_LETTER_TOPICS)}")
    after = parse_id(cursor) if cursor is not None else None
    if cursor is not None and after is None:
        raise invalid_cursor()
    timeout = settings.ops_kafka_timeout_seconds
    namespace = settings.kafka_namespace
    async with kafka.connect(settings.kafka, namespace, timeout) as k:
        items, more = await k.read(
            [topic] if topic else DEAD_LETTER_TOPICS,
            lambda raw: describe(raw, who.tenant, namespace),
            after=after,
            limit=limit,
            deadline=time.monotonic() + timeout,
        )
    return DeadLetterPage(items=items, next_cursor=items[-1].id if more and items else None)


class ReplayResult(BaseModel):
    id: str = Field(description="the dead letter replayed")
    event_id: str
    event_type: str
    topic: str = Field(description="the original topic it went back to")
    partition: int
    offset: int


@router.post(
    "/ops/dead-letters/{dead_letter_id}/replay",
    response_model=ReplayResult,
    responses=errors(404, 409),
    openapi_extra={"x-required-scope": "ops:write"},
    summary="Publish a dead letter again to its original topic",
)
async def replay_dead_letter(
    dead_letter_id: DeadLetterId,
    who: OpsWrite,
    settings: Config,
    once: Idempotent,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Re-publishes the record's original key and value to the topic it was consumed from
    (`x-dlq-original-topic`), for every consumer of that topic to read again. Consumers are
    idempotent, so an event already applied somewhere is a no-op there and replaying twice
    is harmless. Only events of the caller's tenant can be replayed; the record stays on the
    dead-letter topic (Kafka is append-only)."""
    at = parse_id(dead_letter_id)
    if at is None:
        raise NotFound(f"no dead letter {dead_letter_id!r}")

    async def replay() -> Response:
        assert at is not None
        timeout = settings.ops_kafka_timeout_seconds
        namespace = settings.kafka_namespace
        async with kafka.connect(settings.kafka, namespace, timeout) as k:
            raw = await k.record_at(at, time.monotonic() + timeout)
            envelope = envelope_of(raw) if raw is not None else None
            if raw is None or tenant_of(raw, envelope) != who.tenant:
                raise NotFound(f"no dead letter {dead_letter_id!r}")
            if envelope is None:
                raise Conflict(
                    "this dead letter is not an event envelope; replaying it would "
                    "only dead-letter it again"
                )
            origin = original_topic(raw, namespace)
            if origin is None or origin not in EVENT_TOPICS:
                named = dict(raw.headers).get("x-dlq-original-topic", b"").decode(errors="replace")
                raise Conflict(f"the dead letter's original topic {named!r} is not an event topic")
            partition, offset = await k.publish(origin, raw.key, raw.value, replay_headers(raw))
        result = ReplayResult(
            id=at.id,
            event_id=str(envelope.id),
            event_type=envelope.type,
            topic=origin,
            partition=partition,
            offset=offset,
        )
        return JSONResponse(result.model_dump(mode="json"))

    return await once(who.tenant, idempotency_key, None, replay)
