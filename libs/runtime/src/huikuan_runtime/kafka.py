"""Kafka clients configured the one way this system uses them, and topic set-up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient
from aiokafka.helpers import create_ssl_context

from huikuan_events.topics import all_topics, dead_letter_topic, is_dead_letter

log = logging.getLogger(__name__)

DEFAULT_PARTITIONS = 6
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True, slots=True)
class KafkaConnection:
    """How every client reaches the brokers: addresses, TLS and SASL (`KAFKA_*` settings)."""

    bootstrap_servers: str
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    def options(self) -> dict[str, Any]:
        """Keyword arguments every aiokafka client takes."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol in ("SSL", "SASL_SSL"):
            options["ssl_context"] = create_ssl_context(
                cafile=self.ssl_cafile, certfile=self.ssl_certfile, keyfile=self.ssl_keyfile
            )
        if self.security_protocol.startswith("SASL_"):
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = self.sasl_password
        return options


# A broker address alone is a plaintext connection (local servers, tests).
Kafka = KafkaConnection | str


def client_options(kafka: Kafka) -> dict[str, Any]:
    """The keyword arguments of any aiokafka client reaching `kafka` (an address alone:
    plaintext), for clients this module does not make (test helpers, the dev tools)."""
    return (KafkaConnection(kafka) if isinstance(kafka, str) else kafka).options()


@dataclass(frozen=True, slots=True)
class TopicLayout:
    """How topics are created: partitions, replication and retention (`KAFKA_TOPIC_*`)."""

    partitions: int = DEFAULT_PARTITIONS
    replication_factor: int = 1
    min_insync_replicas: int = 1
    retention_ms: int = 7 * 24 * 3600 * 1000
    # Dead letters wait for someone to look at them: kept far longer.
    dead_letter_retention_ms: int = 90 * 24 * 3600 * 1000

    def new_topic(self, name: str) -> NewTopic:
        retention = self.dead_letter_retention_ms if is_dead_letter(name) else self.retention_ms
        return NewTopic(
            name,
            num_partitions=self.partitions,
            replication_factor=self.replication_factor,
            topic_configs={
                "min.insync.replicas": str(self.min_insync_replicas),
                "retention.ms": str(retention),
            },
        )


@dataclass(frozen=True, slots=True)
class KafkaNamespace:
    """Where one deployment's topics and consumer groups live on a cluster that others
    share (`KAFKA_TOPIC_PREFIX`): staging beside production, two regions, each test stack.

    The code names topics by their logical names (`huikuan_events.topics`: the event
    contracts, the outbox rows, the ops API's ids and listings); this maps them to the names
    on the cluster and back, and nothing else does. With a prefix `p` the topic
    `ledger.events.v1` is `p.ledger.events.v1` and the group `credit` is `p.credit` (one
    prefixed ACL covers a deployment); without one, every name is unchanged.
    """

    prefix: str = ""

    def topic(self, name: str) -> str:
        """The cluster's name of the logical topic `name`."""
        return f"{self.prefix}.{name}" if self.prefix else name

    def topics(self, names: Iterable[str]) -> tuple[str, ...]:
        return tuple(self.topic(name) for name in names)

    def logical(self, topic: str) -> str | None:
        """The logical name of the cluster's `topic`; None when it is not in this namespace."""
        if not self.prefix:
            return topic
        mine = f"{self.prefix}."
        return topic[len(mine) :] if topic.startswith(mine) and len(topic) > len(mine) else None

    def group(self, name: str) -> str:
        """The cluster's name of the consumer group `name`."""
        return self.topic(name)

    def dead_letter_topic(self, consumer: str) -> str:
        """The cluster's name of `consumer`'s dead-letter topic."""
        return self.topic(dead_letter_topic(consumer))

    @property
    def all_topics(self) -> tuple[str, ...]:
        """Every topic of the namespace, as `migrate` creates them."""
        return self.topics(all_topics())


# The names as they are: a deployment alone on its cluster (`KAFKA_TOPIC_PREFIX` unset).
NO_PREFIX = KafkaNamespace()


def make_producer(kafka: Kafka, client_id: str) -> AIOKafkaProducer:
    """An idempotent producer: acks from all in-sync replicas, no duplicates from its own
    retries."""
    return AIOKafkaProducer(
        **client_options(kafka),
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
    )


def make_consumer(
    kafka: Kafka, group_id: str, topics: tuple[str, ...] = (), *, max_poll_records: int = 500
) -> AIOKafkaConsumer:
    """A consumer that never commits by itself and starts from the beginning: a member of
    `group_id` reading `topics`, or, without topics, one reading the partitions the caller
    assigns and seeks (no membership: no rebalance, nobody sharing them), its offsets
    committed under `group_id` when it says so."""
    return AIOKafkaConsumer(
        *topics,
        **client_options(kafka),
        group_id=group_id,
        client_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_poll_records,
    )


def make_admin(kafka: Kafka, client_id: str) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**client_options(kafka), client_id=client_id)


async def ensure_topics(
    kafka: Kafka,
    topics: tuple[str, ...],
    layout: TopicLayout | None = None,
    *,
    partitions: int | None = None,
) -> list[str]:
    """Create the topics that do not exist yet, as `layout` says (or with `partitions`);
    return the ones created. Existing topics are left as they are."""
    layout = layout or TopicLayout()
    if partitions is not None:
        layout = replace(layout, partitions=partitions)
    admin = make_admin(kafka, "huikuan-setup")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            await admin.create_topics([layout.new_topic(t) for t in missing])
            log.info(
                "topics created",
                extra={
                    "topics": missing,
                    "partitions": layout.partitions,
                    "replication_factor": layout.replication_factor,
                },
            )
        return missing
    finally:
        await admin.close()


class KafkaProbe:
    """A metadata-only client for readiness checks."""

    def __init__(self, kafka: Kafka, client_id: str) -> None:
        self._client = AIOKafkaClient(**client_options(kafka), client_id=client_id)
        self._started = False

    async def check(self) -> None:
        async with asyncio.timeout(2.0):
            if not self._started:
                await self._client.bootstrap()
                self._started = True
            await self._client.fetch_all_metadata()

    async def close(self) -> None:
        await self._client.close()
