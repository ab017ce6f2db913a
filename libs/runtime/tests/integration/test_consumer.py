"""The idempotent consumer against real PostgreSQL and Kafka: redelivery has no effect, a
poison event is dead-lettered without stopping the loop, sequence anomalies are counted, and
an event with attributes or fields the consumer does not know is applied all the same."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from huikuan_events import Envelope, type_name
from huikuan_events.ledger import SOURCE, InvoiceIssued
from huikuan_events.topics import dead_letter_topic, tenant_of_key
from huikuan_runtime.consumer import EventConsumer, Handler, RecordFilter
from huikuan_runtime.kafka import make_consumer

pytestmark = pytest.mark.integration

ReadTopic = Callable[[str, int], Awaitable[list[Any]]]
WaitUntil = Callable[[Callable[[], Awaitable[bool]], str], Awaitable[None]]
CreateTopic = Callable[[str], Awaitable[str]]
CaughtUp = Callable[[AIOKafkaConsumer, str], Awaitable[bool]]

TENANT = "acme"
INVOICE_ISSUED = "ledger.invoice_issued.v1"


def _name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def _event(subject: str, sequence: int, tenant: str = TENANT) -> Envelope:
    payload = InvoiceIssued(
        invoice_id=f"inv-{subject}-{sequence}",
        customer_id=subject,
        number=f"2025-{sequence:04d}",
        issue_date=date(2025, 3, 1),
        due_date=date(2025, 3, 31),
        currency="CNY",
        amount_minor=1000 * sequence,
    )
    return Envelope(
        source=SOURCE,
        type=type_name(payload),
        subject=subject,
        time=datetime(2025, 3, 1, 9, 30, tzinfo=UTC),
        tenant=tenant,
        subjectseq=sequence,
        data=payload.model_dump(mode="json"),
    )


async def _produce(producer: AIOKafkaProducer, topic: str, events: list[Envelope]) -> None:
    for event in events:
        await producer.send_and_wait(topic, value=event.to_bytes(), key=event.partition_key)


async def record_effect(conn: asyncpg.Connection, envelope: Envelope, consumer: str) -> None:
    await conn.execute(
        """INSERT INTO test_effect (consumer, event_id, event_type, subject, sequence)
           VALUES ($1, $2, $3, $4, $5)""",
        consumer,
        envelope.id,
        envelope.type,
        envelope.subject,
        envelope.subjectseq,
    )


def _effect_handler(name: str) -> Handler:
    async def handle(conn: asyncpg.Connection, envelope: Envelope) -> None:
        await record_effect(conn, envelope, name)

    return handle


async def _effects(pool: asyncpg.Pool) -> list[uuid.UUID]:
    rows = await pool.fetch("SELECT event_id FROM test_effect ORDER BY id")
    return [r["event_id"] for r in rows]


async def _processed(pool: asyncpg.Pool, consumer: str) -> list[uuid.UUID]:
    rows = await pool.fetch(
        "SELECT event_id FROM processed_event WHERE consumer = $1 ORDER BY processed_at", consumer
    )
    return [r["event_id"] for r in rows]


@asynccontextmanager
async def _running(
    event_consumer: EventConsumer, bootstrap_servers: str, group: str, topic: str
) -> AsyncIterator[tuple[AIOKafkaConsumer, asyncio.Task[None]]]:
    """`EventConsumer.run` in a task on a fresh group; stopped (and awaited) on exit."""
    kafka_consumer = make_consumer(bootstrap_servers, group, (topic,))
    await kafka_consumer.start()
    stop = asyncio.Event()
    task = asyncio.create_task(event_consumer.run(kafka_consumer, stop))
    try:
        yield kafka_consumer, task
    finally:
        stop.set()
        try:
            async with asyncio.timeout(10):
                await task
        finally:
            await kafka_consumer.stop()


async def _run_to_end(
    event_consumer: EventConsumer,
    bootstrap_servers: str,
    group: str,
    topic: str,
    wait_until: WaitUntil,
    caught_up: CaughtUp,
) -> dict[int, int]:
    """Run the loop until the group has committed the whole topic; return the commits."""
    async with _running(event_consumer, bootstrap_servers, group, topic) as (consumer, task):

        async def done() -> bool:
            if task.done():
                task.result()  # surface a crash of the loop
            return await caught_up(consumer, topic)

        await wait_until(done, f"group {group} commits to the end of {topic}")
        partitions = sorted(consumer.partitions_for_topic(topic))
        return {p: await consumer.committed(TopicPartition(topic, p)) or 0 for p in partitions}


async def test_redelivery_has_no_effect(
    pool: asyncpg.Pool,
    topic: str,
    producer: AIOKafkaProducer,
    bootstrap_servers: str,
    read_topic: ReadTopic,
    wait_until: WaitUntil,
    caught_up: CaughtUp,
) -> None:
    name = _name("it_idem")
    events = [_event(subject, seq) for seq in (1, 2, 3, 4) for subject in ("c-1", "c-2", "c-3")]
    # The relay delivers at least once: one event is on the topic twice already.
    await _produce(producer, topic, [*events, events[4]])
    handlers: Mapping[str, Handler] = {INVOICE_ISSUED: _effect_handler(name)}
    consumer = EventConsumer(name=name, pool=pool, handlers=handlers, dlq_producer=producer)

    await _run_to_end(consumer, bootstrap_servers, _name("g1"), topic, wait_until, caught_up)
    assert sorted(await _effects(pool)) == sorted(e.id for e in events)
    assert sorted(await _processed(pool, name)) == sorted(e.id for e in events)

    # Replay from offset 0 through a second group: every record delivered again.
    await _run_to_end(consumer, bootstrap_servers, _name("g2"), topic, wait_until, caught_up)
    # And handle the very same records once more by hand.
    records = await read_topic(topic, len(events) + 1)
    for record in records:
        await consumer.handle(record)

    effects = await _effects(pool)
    assert len(effects) == len(events) == 12
    assert sorted(effects) == sorted(e.id for e in events)
    assert sorted(await _processed(pool, name)) == sorted(e.id for e in events)


async def test_apply_reports_a_duplicate(
    pool: asyncpg.Pool, topic: str, producer: AIOKafkaProducer, read_topic: ReadTopic
) -> None:
    name = _name("it_apply")
    event = _event("c-1", 1)
    await _produce(producer, topic, [event])
    [record] = await read_topic(topic, 1)
    consumer = EventConsumer(
        name=name,
        pool=pool,
        handlers={INVOICE_ISSUED: _effect_handler(name)},
        dlq_producer=producer,
    )
    first = await consumer.apply(event, record)
    second = await consumer.apply(event, record)
    assert (first.duplicate, second.duplicate) == (False, True)
    assert await _effects(pool) == [event.id]
    row = await pool.fetchrow(
        'SELECT event_type, topic, partition, "offset" FROM processed_event WHERE consumer = $1',
        name,
    )
    assert row is not None
    assert dict(row) == {
        "event_type": INVOICE_ISSUED,
        "topic": topic,
        "partition": record.partition,
        "offset": record.offset,
    }


async def test_poison_event_is_dead_lettered_and_the_loop_goes_on(
    pool: asyncpg.Pool,
    topic: str,
    create_topic: CreateTopic,
    producer: AIOKafkaProducer,
    bootstrap_servers: str,
    read_topic: ReadTopic,
    wait_until: WaitUntil,
    caught_up: CaughtUp,
) -> None:
    name = _name("it_dlq")
    dlq = await create_topic(dead_letter_topic(name))
    good_before, poison, good_after = _event("c-1", 1), _event("c-1", 2), _event("c-1", 3)
    await _produce(producer, topic, [good_before, poison, good_after])
    attempts: list[uuid.UUID] = []

    async def handler(conn: asyncpg.Connection, envelope: Envelope) -> None:
        await record_effect(conn, envelope, name)  # rolled back when the handler fails
        if envelope.id == poison.id:
            attempts.append(envelope.id)
            raise RuntimeError(f"cannot apply {envelope.id}")

    consumer = EventConsumer(
        name=name,
        pool=pool,
        handlers={INVOICE_ISSUED: handler},
        dlq_producer=producer,
        max_retries=3,
        retry_backoff_seconds=0.01,
    )
    commits = await _run_to_end(
        consumer, bootstrap_servers, _name("g"), topic, wait_until, caught_up
    )

    assert await _effects(pool) == [good_before.id, good_after.id]
    assert sorted(await _processed(pool, name)) == sorted([good_before.id, good_after.id])
    assert attempts == [poison.id] * 3

    originals = {Envelope.from_bytes(r.value).id: r for r in await read_topic(topic, 3)}
    poison_record, after_record = originals[poison.id], originals[good_after.id]
    assert commits[poison_record.partition] == after_record.offset + 1 > poison_record.offset

    [dead] = await read_topic(dlq, 1)
    assert dead.value == poison.to_bytes()
    assert dead.key == poison.partition_key
    headers = dict(dead.headers)
    assert f"cannot apply {poison.id}" in headers["x-dlq-error"].decode()
    assert headers["x-dlq-error-type"] == b"RuntimeError"
    assert headers["x-dlq-attempts"] == b"3"
    assert headers["x-dlq-consumer"] == name.encode()
    assert headers["x-dlq-original-topic"] == topic.encode()
    assert headers["x-dlq-original-partition"] == str(poison_record.partition).encode()
    assert headers["x-dlq-original-offset"] == str(poison_record.offset).encode()


async def test_records_that_are_not_events_go_straight_to_the_dead_letter_topic(
    pool: asyncpg.Pool,
    topic: str,
    create_topic: CreateTopic,
    producer: AIOKafkaProducer,
    bootstrap_servers: str,
    read_topic: ReadTopic,
    wait_until: WaitUntil,
    caught_up: CaughtUp,
) -> None:
    name = _name("it_junk")
    dlq = await create_topic(dead_letter_topic(name))
    first, last = _event("c-1", 1), _event("c-1", 2)
    key = first.partition_key
    junk = [b"{not json", b'{"specversion": "1.0"}', None]
    await producer.send_and_wait(topic, value=first.to_bytes(), key=key)
    for value in junk:
        await producer.send_and_wait(topic, value=value, key=key)
    await producer.send_and_wait(topic, value=last.to_bytes(), key=key)
    calls: list[uuid.UUID] = []

    async def handler(conn: asyncpg.Connection, envelope: Envelope) -> None:
        calls.append(envelope.id)
        await record_effect(conn, envelope, name)

    consumer = EventConsumer(
        name=name,
        pool=pool,
        handlers={INVOICE_ISSUED: handler},
        dlq_producer=producer,
        max_retries=3,
        retry_backoff_seconds=0.01,
    )
    await _run_to_end(consumer, bootstrap_servers, _name("g"), topic, wait_until, caught_up)

    assert calls == [first.id, last.id], "junk never reaches a handler, nor is it retried"
    assert await _effects(pool) == [first.id, last.id]
    dead = await read_topic(dlq, len(junk))
    assert [d.value for d in dead] == junk
    originals = await read_topic(topic, 5)
    for record, original in zip(dead, originals[1:4], strict=True):
        headers = dict(record.headers)
        assert headers["x-dlq-attempts"] == b"1"
        assert headers["x-dlq-error-type"] == b"ValidationError"
        assert headers["x-dlq-original-offset"] == str(original.offset).encode()


async def test_sequence_gaps_and_late_events_are_counted_and_still_applied(
    pool: asyncpg.Pool,
    topic: str,
    producer: AIOKafkaProducer,
    bootstrap_servers: str,
    wait_until: WaitUntil,
    caught_up: CaughtUp,
) -> None:
    name = _name("it_seq")
    one, two, three = _event("c-9", 1), _event("c-9", 2), _event("c-9", 3)
    await _produce(producer, topic, [one, three, two])  # a gap, then the late one
    consumer = EventConsumer(
        name=name,
        pool=pool,
        handlers={INVOICE_ISSUED: _effect_handler(name)},
        dlq_producer=producer,
    )
    await _run_to_end(consumer, bootstrap_servers, _name("g"), topic, wait_until, caught_up)

    assert await _effects(pool) == [one.id, three.id, two.id]
    cursor = await pool.fetchrow(
        """SELECT last_sequence, gaps, out_of_order FROM subject_cursor
           WHERE consumer = $1 AND source = $2 AND tenant = $3 AND subject = $4""",
        name,
        SOURCE,
        TENANT,
        "c-9",
    )
    assert cursor is not None
    assert dict(cursor) == {"last_sequence": 3, "gaps": 1, "out_of_order": 1}


async def test_a_database_outage_is_waited_out_not_dead_lettered(
    pool: asyncpg.Pool, topic: str, producer: AIOKafkaProducer, read_topic: ReadTopic
) -> None:
    name = _name("it_outage")
    event = _event("c-1", 1)
    await _produce(producer, topic, [event])
    [record] = await read_topic(topic, 1)
    outages = 0

    async def flaky(conn: asyncpg.Connection, envelope: Envelope) -> None:
        nonlocal outages
        if outages < 5:  # more than max_retries: a handler failure would be dead-lettered
            outages += 1
            raise asyncpg.CannotConnectNowError("the database system is starting up")
        await record_effect(conn, envelope, name)

    consumer = EventConsumer(
        name=name,
        pool=pool,
        handlers={INVOICE_ISSUED: flaky},
        dlq_producer=producer,
        max_retries=3,
        retry_backoff_seconds=0.001,
    )
    await consumer.handle(record)
    assert outages == 5
    assert await _effects(pool) == [event.id]
    assert await _processed(pool, name) == [event.id]


async def _terminated(conn: asyncpg.Connection, pool: asyncpg.Pool) -> None:
    """The server ends this connection in the middle of a statement, as a fast shutdown,
    a crash or an operator does (asyncpg reports the 57P01 as a connection lost)."""
    pid = await conn.fetchval("SELECT pg_backend_pid()")

    async def terminate_when_busy() -> None:
        async with pool.acquire() as other:
            for _ in range(1000):  # bounded: the statement below starts at once
                if await other.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND state = 'active'",
                    pid,
                ):
                    await other.execute("SELECT pg_terminate_backend($1)", pid)
                    return
                await asyncio.sleep(0.01)

    killer = asyncio.create_task(terminate_when_busy())
    try:
        await conn.execute("SELECT pg_sleep(60)")
    finally:
        await killer


async def _read_only(conn: asyncpg.Connection, pool: asyncpg.Pool) -> None:
    """A write on a server that has become read-only, as a failed-over primary is (25006)."""
    await conn.execute("SET TRANSACTION READ ONLY")
    await conn.execute("CREATE TEMP TABLE failover_probe (x int)")


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (_terminated, asyncpg.ConnectionDoesNotExistError),
        (_read_only, asyncpg.ReadOnlySQLTransactionError),
    ],
)
async def test_a_database_failover_is_waited_out_not_dead_lettered(
    pool: asyncpg.Pool,
    topic: str,
    producer: AIOKafkaProducer,
    read_topic: ReadTopic,
    failure: Callable[[asyncpg.Connection, asyncpg.Pool], Awaitable[None]],
    error: type[Exception],
) -> None:
    """What a failover or a restart of the server really raises (caused here, not made up)
    is an outage: more of them in a row than `max_retries` still end in the event applied
    once, nothing dead-lettered."""
    name = _name("it_failover")
    event = _event("c-1", 1)
    await _produce(producer, topic, [event])
    [record] = await read_topic(topic, 1)
    seen: list[type[BaseException]] = []

    async def on_failing_server(conn: asyncpg.Connection, envelope: Envelope) -> None:
        if len(seen) < 4:  # more than max_retries: a handler failure would be dead-lettered
            try:
                await failure(conn, pool)
            except BaseException as exc:
                seen.append(type(exc))
                raise
        await record_effect(conn, envelope, name)

    consumer = EventConsumer(
        name=name,
        pool=pool,
        handlers={INVOICE_ISSUED: on_failing_server},
        dlq_producer=producer,
        max_retries=3,
        retry_backoff_seconds=0.001,
    )
    await consumer.handle(record)
    assert seen == [error] * 4
    assert await _effects(pool) == [event.id]
    assert await _processed(pool, name) == [event.id]


@pytest.mark.parametrize("batch_size", [1, 3])
async def test_an_event_with_attributes_and_fields_it_does_not_know_is_applied(
    pool: asyncpg.Pool,
    topic: str,
    create_topic: CreateTopic,
    producer: AIOKafkaProducer,
    bootstrap_servers: str,
    read_topic: ReadTopic,
    wait_until: WaitUntil,
    caught_up: CaughtUp,
    batch_size: int,
) -> None:
    name = _name("it_tolerant")
    dlq = await create_topic(dead_letter_topic(name))
    one, two, three = _event("c-1", 1), _event("c-1", 2), _event("c-1", 3)
    # A newer producer's event: one more extension attribute, one more data field.
    newer = json.loads(two.to_bytes())
    newer["priority"] = "high"
    newer["data"]["purchase_order"] = "PO-7"
    # An event written before `subjectseq` was renamed from `sequence`.
    older = json.loads(three.to_bytes())
    older["sequence"] = older.pop("subjectseq")
    key = one.partition_key
    for value in (one.to_bytes(), json.dumps(newer).encode(), json.dumps(older).encode()):
        await producer.send_and_wait(topic, value=value, key=key)
    read: list[InvoiceIssued] = []

    async def handler(conn: asyncpg.Connection, envelope: Envelope) -> None:
        read.append(envelope.read_data(InvoiceIssued))
        await record_effect(conn, envelope, name)

    consumer = EventConsumer(
        name=name,
        pool=pool,
        handlers={INVOICE_ISSUED: handler},
        dlq_producer=producer,
        max_retries=1,
        batch_size=batch_size,
    )
    await _run_to_end(consumer, bootstrap_servers, _name("g"), topic, wait_until, caught_up)

    assert await _effects(pool) == [one.id, two.id, three.id]
    assert sorted(await _processed(pool, name)) == sorted([one.id, two.id, three.id])
    assert read == [InvoiceIssued.model_validate(e.data) for e in (one, two, three)]
    cursor = await pool.fetchrow(
        "SELECT last_sequence, gaps, out_of_order FROM subject_cursor WHERE consumer = $1", name
    )
    assert cursor is not None
    assert dict(cursor) == {"last_sequence": 3, "gaps": 0, "out_of_order": 0}
    assert await read_topic(dlq, 0) == []


async def test_the_admit_hook_passes_records_over_and_their_offsets_are_committed(
    pool: asyncpg.Pool,
    topic: str,
    producer: AIOKafkaProducer,
    bootstrap_servers: str,
    read_topic: ReadTopic,
    wait_until: WaitUntil,
    caught_up: CaughtUp,
) -> None:
    """`admit` is asked once per fetch (an outage in it is waited out, not fatal); only the
    records it admits are applied, in runs of `batch_size`, and the rest are committed
    without a processed-event row."""
    name = _name("it_admit")
    events = [_event(subject, seq) for seq in (1, 2, 3) for subject in ("c-in", "c-out")]
    await _produce(producer, topic, events)
    fetches = 0

    async def admit(conn: asyncpg.Connection) -> RecordFilter:
        nonlocal fetches
        fetches += 1
        if fetches == 1:
            raise asyncpg.CannotConnectNowError("the database system is starting up")
        subjects = {await conn.fetchval("SELECT 'c-in'")}
        return lambda record: Envelope.from_bytes(record.value).subject in subjects

    consumer = EventConsumer(
        name=name,
        pool=pool,
        handlers={INVOICE_ISSUED: _effect_handler(name)},
        dlq_producer=producer,
        retry_backoff_seconds=0.001,
        batch_size=2,
        admit=admit,
    )
    commits = await _run_to_end(
        consumer, bootstrap_servers, _name("g"), topic, wait_until, caught_up
    )

    admitted = [e.id for e in events if e.subject == "c-in"]
    assert sorted(await _effects(pool)) == sorted(admitted)
    assert sorted(await _processed(pool, name)) == sorted(admitted)
    ends = dict.fromkeys(commits, 0)
    for record in await read_topic(topic, len(events)):
        ends[record.partition] = max(ends[record.partition], record.offset + 1)
    assert commits == ends, "passed over or applied, every record is committed"
    assert fetches >= 2


async def test_a_tenant_admitted_after_its_records_were_passed_over_has_no_false_gaps(
    pool: asyncpg.Pool,
    topic: str,
    producer: AIOKafkaProducer,
    bootstrap_servers: str,
    wait_until: WaitUntil,
    caught_up: CaughtUp,
) -> None:
    """Records passed over by `admit` were skipped, not lost: a tenant admitted later (a
    webhook subscription made after its first events) starts its subjects' cursors at what
    it applies first, and a tenant passed over again has its cursors forgotten, so neither
    counts as a gap (issue #13 item 12). A tenant admitted all along still has its gaps."""
    name, group = _name("it_later"), _name("g")
    admitted: set[str] = {"always"}

    async def admit(conn: asyncpg.Connection) -> RecordFilter:
        return lambda record: tenant_of_key(record.key) in admitted

    consumer = EventConsumer(
        name=name,
        pool=pool,
        handlers={INVOICE_ISSUED: _effect_handler(name)},
        dlq_producer=producer,
        admit=admit,
    )

    async def cursors() -> dict[str, tuple[int, int, int]]:
        rows = await pool.fetch(
            "SELECT tenant, last_sequence, gaps, out_of_order FROM subject_cursor "
            "WHERE consumer = $1",
            name,
        )
        return {r["tenant"]: (r["last_sequence"], r["gaps"], r["out_of_order"]) for r in rows}

    async def phase(events: list[Envelope]) -> None:
        await _produce(producer, topic, events)
        await _run_to_end(consumer, bootstrap_servers, group, topic, wait_until, caught_up)

    await phase([_event("c-1", 1, "late"), _event("c-1", 2, "late"), _event("c-1", 1, "always")])
    assert await cursors() == {"always": (1, 0, 0)}
    admitted.add("late")  # subscribed now
    await phase([_event("c-1", 3, "late"), _event("c-1", 4, "late")])
    assert await cursors() == {"always": (1, 0, 0), "late": (4, 0, 0)}
    admitted.discard("late")  # unsubscribed: its next records are passed over
    await phase([_event("c-1", 5, "late"), _event("c-1", 3, "always")])  # always: 2 missing
    assert await cursors() == {"always": (3, 1, 0)}
    admitted.add("late")
    await phase([_event("c-1", 6, "late")])
    assert await cursors() == {"always": (3, 1, 0), "late": (6, 0, 0)}
