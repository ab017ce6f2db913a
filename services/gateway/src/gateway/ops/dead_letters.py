"""Dead letters as the ops API shows them: ids, headers, the event inside, its tenant.

A dead letter's id is `<dlq topic>:<partition>:<offset>` (e.g. `credit.dlq.v1:3:17`): it
fits the path pattern of every id (letters, digits, `.`, `_`, `:`, `-`), names exactly one
record for as long as Kafka keeps it, and needs no table of ours.

Tenancy: a record belongs to the tenant of the envelope inside it; when the value is not an
envelope, to the tenant of its key (`tenant/customer`, as every producer keys events); when
neither says, it is *unattributed*: listed to every ops caller, but without the error text
or the key (they could carry another tenant's data), and never replayable.

Topics are shown by their logical names: the dead-letter topic in the id, and the topic a
record was consumed from (`x-dlq-original-topic` holds the cluster's name, in the
deployment's namespace), so ids and listings read the same whatever `KAFKA_TOPIC_PREFIX`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, Field, ValidationError

from huikuan_events import Envelope
from huikuan_events.topics import CONSUMERS, EVENT_TOPICS, dead_letter_topic, tenant_of_key
from huikuan_runtime.kafka import KafkaNamespace

DEAD_LETTER_TOPICS: tuple[str, ...] = tuple(dead_letter_topic(c) for c in CONSUMERS)
_ID = re.compile(r"^(?P<topic>[A-Za-z0-9._\-]+):(?P<partition>[0-9]{1,6}):(?P<offset>[0-9]{1,19})$")
DLQ_PREFIX = "x-dlq-"


@dataclass(frozen=True, slots=True)
class Position:
    topic: str
    partition: int
    offset: int

    @property
    def id(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"


def parse_id(value: str) -> Position | None:
    """The record a dead-letter id names; None unless it is on a dead-letter topic."""
    match = _ID.match(value)
    if match is None or match["topic"] not in DEAD_LETTER_TOPICS:
        return None
    return Position(match["topic"], int(match["partition"]), int(match["offset"]))


class EventRef(BaseModel):
    id: str
    type: str
    tenant: str
    subject: str
    source: str
    sequence: int


class DeadLetter(BaseModel):
    id: str = Field(examples=["credit.dlq.v1:3:17"], description="use it to replay")
    topic: str = Field(examples=["credit.dlq.v1"])
    partition: int
    offset: int
    dead_lettered_at: datetime | None = None
    consumer: str | None = Field(None, description="x-dlq-consumer")
    error_type: str | None = Field(None, description="x-dlq-error-type")
    error: str | None = Field(
        None, description="x-dlq-error (withheld when the record has no tenant)"
    )
    attempts: int | None = Field(None, description="x-dlq-attempts")
    original_topic: str | None = Field(None, description="x-dlq-original-topic")
    original_partition: int | None = Field(None, description="x-dlq-original-partition")
    original_offset: int | None = Field(None, description="x-dlq-original-offset")
    tenant: str | None = Field(None, description="null: the record names no tenant")
    event: EventRef | None = Field(None, description="null: the value is not an event envelope")
    replayable: bool = Field(
        description="an event of the caller's tenant whose original topic is an event topic"
    )


@dataclass(frozen=True, slots=True)
class Raw:
    """What we need of a Kafka record."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def envelope_of(raw: Raw) -> Envelope | None:
    if raw.value is None:
        return None
    try:
        return Envelope.read(raw.value)
    except (ValidationError, ValueError):
        return None


def tenant_of(raw: Raw, envelope: Envelope | None) -> str | None:
    return envelope.tenant if envelope is not None else tenant_of_key(raw.key)


def original_topic(raw: Raw, namespace: KafkaNamespace) -> str | None:
    """The logical name of the topic the record was consumed from; None when the record
    does not say, or names a topic outside `namespace`."""
    found = dict(raw.headers).get("x-dlq-original-topic")
    return namespace.logical(found.decode(errors="replace")) if found is not None else None


def describe(raw: Raw, caller: str, namespace: KafkaNamespace) -> DeadLetter | None:
    """The record as `caller` may see it; None when it is another tenant's."""
    envelope = envelope_of(raw)
    tenant = tenant_of(raw, envelope)
    if tenant is not None and tenant != caller:
        return None
    headers = {k: v.decode(errors="replace") for k, v in raw.headers if k.startswith(DLQ_PREFIX)}
    origin = original_topic(raw, namespace)
    return DeadLetter(
        id=Position(raw.topic, raw.partition, raw.offset).id,
        topic=raw.topic,
        partition=raw.partition,
        offset=raw.offset,
        dead_lettered_at=(
            datetime.fromtimestamp(raw.timestamp_ms / 1000, UTC)
            if raw.timestamp_ms is not None and raw.timestamp_ms >= 0
            else None
        ),
        consumer=headers.get("x-dlq-consumer"),
        error_type=headers.get("x-dlq-error-type"),
        error=headers.get("x-dlq-error") if tenant is not None else None,
        attempts=_int(headers.get("x-dlq-attempts")),
        original_topic=origin or headers.get("x-dlq-original-topic"),
        original_partition=_int(headers.get("x-dlq-original-partition")),
        original_offset=_int(headers.get("x-dlq-original-offset")),
        tenant=tenant,
        event=(
            EventRef(
                id=str(envelope.id),
                type=envelope.type,
                tenant=envelope.tenant,
                subject=envelope.subject,
                source=envelope.source,
                sequence=envelope.subjectseq,
            )
            if envelope is not None
            else None
        ),
        replayable=envelope is not None and origin in EVENT_TOPICS,
    )


def replay_headers(raw: Raw) -> list[tuple[str, bytes]]:
    """The record's own headers (trace context ...) without ours, plus where it came from."""
    kept = [
        (k, v) for k, v in raw.headers if not k.startswith(DLQ_PREFIX) and k != "x-replayed-from"
    ]
    kept.append(("x-replayed-from", Position(raw.topic, raw.partition, raw.offset).id.encode()))
    return kept
