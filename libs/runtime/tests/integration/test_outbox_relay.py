"""Outbox and relay against real PostgreSQL and Kafka: committed events arrive once, in
per-subject order, as CloudEvents in the Kafka binding's structured mode, to their topic in
the deployment's namespace; rolled-back ones never exist."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from cloudevents.core.bindings.kafka import KafkaMessage, from_structured_event

from huikuan_events import Envelope, bulk
from huikuan_events.ledger import SOURCE, InvoiceIssued
from huikuan_runtime import outbox
from huikuan_runtime.db import create_pool
from huikuan_runtime.kafka import KafkaNamespace, make_producer
from huikuan_runtime.relay import OutboxRelay

pytestmark = pytest.mark.integration

ReadTopic = Callable[[str, int], Awaitable[list[Any]]]
WaitUntil = Callable[[Callable[[], Awaitable[bool]], str], Awaitable[None]]
CreateTopic = Callable[[str], Awaitable[str]]

TENANT = "acme"
AT = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


class _RollBack(Exception):
    """Raised inside a transaction to roll it back."""


def _invoice(subject: str, n: int) -> InvoiceIssued:
    return InvoiceIssued(
        invoice_id=f"inv-{subject}-{n}",
        customer_id=subject,
        number=f"2025-{n:04d}",
        issue_date=date(2025, 3, 1),
        due_date=date(2025, 3, 31),
        currency="CNY",
        amount_minor=1000 + n,
    )


async def _record(
    conn: asyncpg.Connection, topic: str, subject: str, n: int, *, trace: str | None = None
) -> Envelope:
    return await outbox.record(
        conn,
        topic=topic,
        source=SOURCE,
        tenant=TENANT,
        subject=subject,
        payload=_invoice(subject, n),
        at=AT,
        headers={"x-test-trace": trace} if trace else None,
    )


async def _commit_events(
    pool: asyncpg.Pool, topic: str, subjects: list[str], count: int
) -> list[Envelope]:
    """`count` events, one committed transaction each, round-robin over `subjects`."""
    written: list[Envelope] = []
    for n in range(count):
        async with pool.acquire() as conn, conn.transaction():
            written.append(await _record(conn, topic, subjects[n % len(subjects)], n))
    return written


async def _published_state(pool: asyncpg.Pool) -> tuple[int, int]:
    row = await pool.fetchrow(
        "SELECT count(*) AS total, count(published_at) AS published FROM outbox_event"
    )
    assert row is not None
    return row["total"], row["published"]


def _assert_in_subject_order(records: list[Any]) -> dict[str, list[int]]:
    """Each subject's events sit in one partition with sequences 1..k in offset order."""
    partitions: dict[str, set[int]] = defaultdict(set)
    sequences: dict[str, list[int]] = defaultdict(list)
    for record in records:  # ordered by (partition, offset)
        envelope = Envelope.from_bytes(record.value)
        assert record.key == envelope.partition_key
        partitions[envelope.subject].add(record.partition)
        sequences[envelope.subject].append(envelope.subjectseq)
    for subject, seen in sequences.items():
        assert len(partitions[subject]) == 1, f"{subject} spread over {partitions[subject]}"
        assert seen == list(range(1, len(seen) + 1)), f"{subject}: {seen}"
    return dict(sequences)


async def test_record_refuses_to_run_outside_a_transaction(pool: asyncpg.Pool, topic: str) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="inside the caller's transaction"):
            await _record(conn, topic, "cust-a", 1)
    assert await _published_state(pool) == (0, 0)


async def test_relay_publishes_committed_events_exactly_once_in_subject_order(
    pool: asyncpg.Pool,
    schema: str,
    topic: str,
    producer: AIOKafkaProducer,
    read_topic: ReadTopic,
) -> None:
    subjects = ["cust-a", "cust-b", "cust-c", "cust-d"]
    committed: list[Envelope] = []
    rolled_back: list[Envelope] = []
    # N committed events; between them, transactions of M events each that roll back.
    for n in range(30):
        subject = subjects[n % len(subjects)]
        async with pool.acquire() as conn:
            async with conn.transaction():
                committed.append(await _record(conn, topic, subject, n, trace=f"t-{n}"))
            if n % 5 == 0:
                with pytest.raises(_RollBack):
                    async with conn.transaction():
                        for m in range(3):
                            rolled_back.append(await _record(conn, topic, subject, 100 + m))
                        raise _RollBack
    assert len(rolled_back) == 18
    assert await _published_state(pool) == (30, 0)

    relay = OutboxRelay(pool, producer, schema, batch_size=7)
    published = []
    while count := await relay.publish_batch():
        published.append(count)
    assert published == [7, 7, 7, 7, 2]
    assert await relay.publish_batch() == 0
    assert await relay.backlog() == 0
    assert await _published_state(pool) == (30, 30)

    records = await read_topic(topic, len(committed))
    ids = [Envelope.from_bytes(r.value).id for r in records]
    assert len(ids) == len(committed), "each committed event exactly once"
    assert set(ids) == {e.id for e in committed}
    assert not set(ids) & {e.id for e in rolled_back}
    # Rolled-back transactions did not use up sequence numbers either.
    sequences = _assert_in_subject_order(records)
    assert {s: len(v) for s, v in sequences.items()} == {
        "cust-a": 8,
        "cust-b": 8,
        "cust-c": 7,
        "cust-d": 7,
    }
    # The event on the wire is the one recorded, with the headers given to `record`.
    position = {e.id: n for n, e in enumerate(committed)}
    for record in records:
        envelope = Envelope.from_bytes(record.value)
        n = position[envelope.id]
        assert envelope == committed[n]
        assert dict(record.headers)["x-test-trace"] == f"t-{n}".encode()


async def test_relay_run_is_woken_by_notify(
    pool: asyncpg.Pool,
    schema: str,
    topic: str,
    producer: AIOKafkaProducer,
    read_topic: ReadTopic,
    wait_until: WaitUntil,
) -> None:
    # A poll interval far beyond the test's deadlines: only NOTIFY can wake the relay.
    relay = OutboxRelay(pool, producer, schema, poll_seconds=3600)
    first = await _commit_events(pool, topic, ["cust-a", "cust-b"], 4)

    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        # The relay listens before its first pass, which publishes what was already there.
        records = await read_topic(topic, len(first))
        assert {Envelope.from_bytes(r.value).id for r in records} == {e.id for e in first}

        async def drained() -> bool:
            if task.done():
                task.result()  # surface a crash of the relay
            return await relay.backlog() == 0

        await wait_until(drained, "the first events are marked published")

        # Now it is waiting; these commits NOTIFY it.
        second = await _commit_events(pool, topic, ["cust-a", "cust-c"], 5)
        records = await read_topic(topic, len(first) + len(second))
        assert sorted(Envelope.from_bytes(r.value).id for r in records) == sorted(
            e.id for e in first + second
        )
        _assert_in_subject_order(records)
        await wait_until(drained, "the second events are marked published")
    finally:
        stop.set()
        async with asyncio.timeout(10):
            await task
    assert await _published_state(pool) == (9, 9)


async def test_three_relays_share_the_work_and_keep_each_subjects_order(
    database_url: str,
    schema: str,
    pool: asyncpg.Pool,
    topic: str,
    bootstrap_servers: str,
    read_topic: ReadTopic,
) -> None:
    """Three relays, each with its own pool and producer (as three replicas would have),
    publish while four writers commit events of 30 subjects in small transactions: every
    event arrives once, each subject's in sequence order, and every relay did some of it
    (issue #13 item 4: with SKIP LOCKED batches alone, two relays published one subject's
    events concurrently and out of order)."""
    subjects = [f"cust-{n:02d}" for n in range(30)]
    written: list[Envelope] = []

    async def writer(w: int) -> None:
        for n in range(60):
            async with pool.acquire() as conn, conn.transaction():
                for k in range(1 + n % 3):
                    subject = subjects[(w * 7 + n * 3 + k) % len(subjects)]
                    written.append(await _record(conn, topic, subject, n))

    pools = [await create_pool(database_url, schema, min_size=1, max_size=2) for _ in range(3)]
    producers = [make_producer(bootstrap_servers, f"it-relay-{n}") for n in range(3)]
    for producer in producers:
        await producer.start()
    writing = asyncio.gather(*(writer(w) for w in range(4)))
    published = [0, 0, 0]

    async def relay(n: int) -> None:
        one = OutboxRelay(pools[n], producers[n], schema, batch_size=5)
        while not writing.done() or await one.backlog():
            published[n] += await one.publish_batch()
            await asyncio.sleep(0)

    try:
        async with asyncio.timeout(120):
            await asyncio.gather(writing, *(relay(n) for n in range(3)))
    finally:
        for producer in producers:
            await producer.stop()
        for p in pools:
            await p.close()
    assert sum(published) == len(written) and all(published), published
    records = await read_topic(topic, len(written))
    assert sorted(Envelope.from_bytes(r.value).id for r in records) == sorted(e.id for e in written)
    sequences = _assert_in_subject_order(records)
    assert sum(len(v) for v in sequences.values()) == len(written)


async def test_a_relay_that_does_not_listen_polls_and_holds_no_connection(
    database_url: str,
    schema: str,
    topic: str,
    producer: AIOKafkaProducer,
    read_topic: ReadTopic,
    wait_until: WaitUntil,
) -> None:
    # One connection in all: a relay that held one to LISTEN would leave the writers none.
    pool = await create_pool(database_url, schema, min_size=1, max_size=1)
    relay = OutboxRelay(pool, producer, schema, poll_seconds=0.05, listen=False)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        async with asyncio.timeout(20):
            written = await _commit_events(pool, topic, ["cust-a", "cust-b"], 6)
        records = await read_topic(topic, len(written))
        assert sorted(Envelope.from_bytes(r.value).id for r in records) == sorted(
            e.id for e in written
        )

        async def drained() -> bool:
            if task.done():
                task.result()  # surface a crash of the relay
            return await relay.backlog() == 0

        await wait_until(drained, "the polled events are marked published")
    finally:
        stop.set()
        async with asyncio.timeout(10):
            await task
        await pool.close()


async def test_concurrent_writers_get_distinct_consecutive_sequences(
    pool: asyncpg.Pool, topic: str
) -> None:
    async def write(n: int) -> Envelope:
        async with pool.acquire() as conn, conn.transaction():
            return await _record(conn, topic, "cust-busy", n)

    envelopes = await asyncio.gather(*(write(n) for n in range(20)))
    assert sorted(e.subjectseq for e in envelopes) == list(range(1, 21))
    assert len({e.id for e in envelopes}) == 20
    stored = await pool.fetchval(
        "SELECT last_value FROM event_sequence WHERE tenant = $1 AND subject = $2",
        TENANT,
        "cust-busy",
    )
    assert stored == 20
    assert isinstance(envelopes[0].id, uuid.UUID)


async def test_records_are_structured_cloudevents_the_sdk_decodes(
    pool: asyncpg.Pool,
    schema: str,
    topic: str,
    producer: AIOKafkaProducer,
    read_topic: ReadTopic,
) -> None:
    committed = await _commit_events(pool, topic, ["cust-a", "cust-b"], 4)
    relay = OutboxRelay(pool, producer, schema)
    assert await relay.publish_batch() == 4

    records = await read_topic(topic, len(committed))
    by_id = {e.id: e for e in committed}
    assert len(records) == len(by_id)
    for record in records:
        headers = dict(record.headers)
        assert headers["content-type"] == b"application/cloudevents+json"
        assert [name for name, _ in record.headers].count("content-type") == 1
        assert "traceparent" in headers  # the row's own headers follow
        message = KafkaMessage(headers=headers, key=record.key, value=record.value)
        event = from_structured_event(message)
        ours = by_id[uuid.UUID(event.get_id())]
        assert event.get_specversion() == "1.0"
        assert event.get_source() == SOURCE == ours.source
        assert event.get_type() == "ledger.invoice_issued.v1" == ours.type
        assert event.get_subject() == ours.subject
        assert event.get_time() == AT == ours.time
        assert event.get_datacontenttype() == "application/json"
        assert event.get_extension("tenant") == TENANT
        assert event.get_extension("subjectseq") == ours.subjectseq
        assert event.get_extension("partitionkey") == f"{TENANT}/{ours.subject}"
        assert event.get_data() == ours.data
        assert InvoiceIssued.model_validate(event.get_data()) == _invoice(
            ours.subject, committed.index(ours)
        )


async def test_record_many_takes_pairs_and_column_blocks_in_one_order(
    pool: asyncpg.Pool, topic: str
) -> None:
    """A block of events as columns numbers each subject's events after its pairs before
    it, in order; its envelopes are those an instance of the model would give. Enough of
    them to be built on a worker thread."""
    subjects = [f"cust-{k % 7}" for k in range(2500)]
    block = bulk.Columns(
        InvoiceIssued,
        subjects,
        {
            "invoice_id": [f"inv-{k}" for k in range(2500)],
            "customer_id": subjects,
            "number": [f"2025-{k:04d}" for k in range(2500)],
            "issue_date": [date(2025, 3, 1)] * 2500,
            "due_date": [date(2025, 3, 31)] * 2500,
            "currency": ["CNY"] * 2500,
            "amount_minor": [1000 + k for k in range(2500)],
        },
    )
    async with pool.acquire() as conn, conn.transaction():
        first = await _record(conn, topic, "cust-3", 1)
        written = await outbox.record_many(
            conn,
            topic=topic,
            source=SOURCE,
            tenant=TENANT,
            events=[("cust-3", _invoice("cust-3", 2)), block, ("cust-3", _invoice("cust-3", 3))],
            at=AT,
        )
    assert written == 2502
    rows = await pool.fetch("SELECT key, payload, headers FROM outbox_event ORDER BY position")
    stored = [Envelope.from_bytes(r["payload"]) for r in rows]
    assert stored[0] == first
    mine = [e for e in stored if e.subject == "cust-3"]
    assert [e.subjectseq for e in mine] == list(range(1, len(mine) + 1))
    assert [e.data["invoice_id"] for e in mine[:3]] == ["inv-cust-3-1", "inv-cust-3-2", "inv-3"]
    assert mine[-1].data["invoice_id"] == "inv-cust-3-3"
    for k, (row, envelope) in enumerate(zip(rows[2:-1], stored[2:-1], strict=True)):
        payload = InvoiceIssued(
            invoice_id=f"inv-{k}",
            customer_id=subjects[k],
            number=f"2025-{k:04d}",
            issue_date=date(2025, 3, 1),
            due_date=date(2025, 3, 31),
            currency="CNY",
            amount_minor=1000 + k,
        )
        assert row["payload"] == envelope.to_bytes()  # the model's own serialisation
        assert envelope.data == payload.model_dump(mode="json")
        assert (envelope.type, envelope.time) == ("ledger.invoice_issued.v1", AT)
        assert row["key"] == envelope.partition_key
        assert set(row["headers"]) == {"traceparent"}
    assert len({e.id for e in stored}) == 2503


async def test_a_bad_value_in_a_block_writes_nothing(pool: asyncpg.Pool, topic: str) -> None:
    block = bulk.Columns(
        InvoiceIssued,
        ["cust-a"],
        {
            "invoice_id": ["inv-1"],
            "customer_id": ["cust-a"],
            "number": ["2025-0001"],
            "issue_date": [date(2025, 3, 1)],
            "due_date": [date(2025, 3, 31)],
            "currency": ["CNY"],
            "amount_minor": [0],  # must be > 0
        },
    )
    with pytest.raises(ValueError, match=r"InvoiceIssued\.amount_minor"):
        async with pool.acquire() as conn, conn.transaction():
            await outbox.record_many(
                conn, topic=topic, source=SOURCE, tenant=TENANT, events=[block], at=AT
            )
    assert await _published_state(pool) == (0, 0)


async def test_the_relay_publishes_outbox_rows_to_their_topic_in_its_namespace(
    pool: asyncpg.Pool,
    schema: str,
    create_topic: CreateTopic,
    producer: AIOKafkaProducer,
    read_topic: ReadTopic,
) -> None:
    """Rows keep the logical topic name, whatever the namespace: the relay adds the
    deployment's prefix as it publishes. (The plain topic does not exist, and the test
    broker creates none by itself: a row sent there would fail.)"""
    logical = f"it.events.{uuid.uuid4().hex[:12]}"
    namespace = KafkaNamespace(f"it-ns-{uuid.uuid4().hex[:12]}")
    prefixed = await create_topic(namespace.topic(logical))
    committed = await _commit_events(pool, logical, ["cust-a", "cust-b"], 5)
    assert await pool.fetchval("SELECT array_agg(DISTINCT topic) FROM outbox_event") == [logical]

    relay = OutboxRelay(pool, producer, schema, namespace=namespace)
    published = 0
    while count := await relay.publish_batch():
        published += count
    assert published == 5
    records = await read_topic(prefixed, len(committed))
    assert sorted(Envelope.from_bytes(r.value).id for r in records) == sorted(
        e.id for e in committed
    )
    _assert_in_subject_order(records)
