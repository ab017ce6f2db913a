"""Webhooks against the real PostgreSQL and a real HTTP receiver on localhost: the
consumer's fan-out is exactly once per event, the dispatcher signs, retries on the
backoff schedule (time passed in, no sleeps), keeps one customer's events in order and
gives up after the maximum age. The receiver is on localhost, so the dispatchers here allow
private addresses, except the one that shows they are refused by default; all of them are
confined to this machine (`HUIKUAN_OUTBOUND_ALLOW`), as the test stacks are."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from standardwebhooks import Webhook, WebhookVerificationError

from gateway.domain.webhooks import Backoff
from gateway.events.webhooks import CONSUMER, HANDLERS
from gateway.service.dispatcher import Dispatcher
from gateway.store import tenants
from gateway.store import webhooks as store
from huikuan_events import Envelope, uuid7
from huikuan_runtime.addresses import LOOPBACK, networks
from huikuan_runtime.consumer import EventConsumer
from huikuan_runtime.kafka import ensure_topics, make_consumer, make_producer
from huikuan_runtime.webhook_signing import generate_secret
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
BACKOFF = Backoff(base=timedelta(seconds=10), cap=timedelta(minutes=10), max_age=timedelta(hours=1))


# Like the test stacks', these dispatchers connect nowhere but to this machine.
CONFINED = networks(LOOPBACK)


def _dispatcher(
    pool: asyncpg.Pool, client: httpx.AsyncClient, jitter: float, *, private: bool = True
) -> Dispatcher:
    """A dispatcher with a fixed jitter that allows private addresses (the receiver is on
    localhost) unless `private` is False."""
    return Dispatcher(
        pool,
        client,
        BACKOFF,
        jitter=lambda: jitter,
        allow_private_addresses=private,
        outbound_allow=CONFINED,
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def _event(tenant: str, customer: str, sequence: int, kind: str = "invoice_issued") -> Envelope:
    return Envelope(
        source="huikuan/ledger",
        type=f"ledger.{kind}.v1",
        subject=customer,
        time=T0,
        tenant=tenant,
        subjectseq=sequence,
        data={"invoice_id": f"I-{sequence}"},
    )


async def _consume(pool: asyncpg.Pool, *events: Envelope) -> None:
    consumer = EventConsumer(
        name="gateway", pool=pool, handlers=HANDLERS, dlq_producer=cast(AIOKafkaProducer, None)
    )
    for offset, event in enumerate(events):
        record = SimpleNamespace(topic="ledger.events.v1", partition=0, offset=offset)
        await consumer.apply(event, cast(ConsumerRecord[Any, Any], record))


async def _subscribe(
    pool: asyncpg.Pool, tenant: str, url: str, types: list[str], secret: str | None = None
) -> uuid.UUID:
    async with pool.acquire() as conn:
        row = await store.insert_subscription(
            conn,
            uuid7(),
            tenant,
            url,
            types,
            "",
            secret or generate_secret(),
            T0 - timedelta(days=1),
        )
    subscription_id: uuid.UUID = row["subscription_id"]
    return subscription_id


async def _deliveries(pool: asyncpg.Pool, subscription_id: uuid.UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT * FROM webhook_delivery WHERE subscription_id = $1 ORDER BY position",
        subscription_id,
    )
    return rows


async def test_each_event_fans_out_once_to_the_tenants_matching_subscriptions(
    pool: asyncpg.Pool,
) -> None:
    every = await _subscribe(pool, "t1", "http://127.0.0.1:1/a", ["*"])
    issued = await _subscribe(pool, "t1", "http://127.0.0.1:1/b", ["ledger.invoice_issued.v1"])
    other = await _subscribe(pool, "t2", "http://127.0.0.1:1/c", ["*"])
    first, second = _event("t1", "C-1", 1), _event("t1", "C-1", 2, "invoice_settled")
    await _consume(pool, first, second)
    await _consume(pool, first, second)  # redelivered by Kafka: nothing more
    assert [r["event_id"] for r in await _deliveries(pool, every)] == [first.id, second.id]
    assert [r["event_id"] for r in await _deliveries(pool, issued)] == [first.id]
    assert await _deliveries(pool, other) == []
    row = (await _deliveries(pool, every))[0]
    assert row["state"] == "pending" and row["attempts"] == 0
    assert Envelope.from_bytes(bytes(row["payload"])) == first


async def test_an_event_of_a_newer_producer_is_forwarded_with_the_data_it_carries(
    pool: asyncpg.Pool,
) -> None:
    every = await _subscribe(pool, "t1", "http://127.0.0.1:1/a", ["*"])
    event = _event("t1", "C-1", 1)
    newer = json.loads(event.to_bytes())
    newer["channel"] = "edi"  # an extension attribute this version does not know
    newer["data"]["purchase_order"] = "PO-7"  # and a data field
    consumer = EventConsumer(
        name="gateway", pool=pool, handlers=HANDLERS, dlq_producer=cast(AIOKafkaProducer, None)
    )
    record: ConsumerRecord[bytes, bytes] = ConsumerRecord(
        topic="ledger.events.v1",
        partition=0,
        offset=0,
        timestamp=0,
        timestamp_type=0,
        key=event.partition_key,
        value=json.dumps(newer).encode(),
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=0,
        headers=[],
    )
    await consumer.handle(record)
    [row] = await _deliveries(pool, every)
    assert row["event_id"] == event.id
    forwarded = json.loads(bytes(row["payload"]))
    assert forwarded["data"] == {**event.data, "purchase_order": "PO-7"}
    # The envelope as this version reads it: the extension it does not know stays behind.
    assert forwarded == {**json.loads(event.to_bytes()), "data": forwarded["data"]}


async def test_a_failing_receiver_is_retried_on_schedule_then_gets_it_signed(
    pool: asyncpg.Pool, receiver: Receiver
) -> None:
    secret = generate_secret()
    subscription = await _subscribe(pool, "t1", receiver.url("/hook"), ["*"], secret)
    await _consume(pool, _event("t1", "C-1", 1))
    created = (await _deliveries(pool, subscription))[0]["created_at"]
    receiver.fail("/hook", 2)
    async with httpx.AsyncClient(timeout=5) as client:
        dispatcher = _dispatcher(pool, client, 1.0)
        now = created
        assert await dispatcher.deliver_one(now)  # 503
        row = (await _deliveries(pool, subscription))[0]
        assert (row["state"], row["attempts"], row["last_status"]) == ("pending", 1, 503)
        assert row["next_attempt_at"] == now + timedelta(seconds=10)
        assert not await dispatcher.deliver_one(now + timedelta(seconds=9))  # not due yet
        now += timedelta(seconds=10)
        assert await dispatcher.deliver_one(now)  # 503 again
        assert (await _deliveries(pool, subscription))[0]["next_attempt_at"] == now + timedelta(
            seconds=20
        )
        now += timedelta(seconds=20)
        assert await dispatcher.deliver_one(now)  # 204
        assert not await dispatcher.deliver_one(now + timedelta(hours=5))
    row = (await _deliveries(pool, subscription))[0]
    assert (row["state"], row["attempts"], row["last_status"]) == ("delivered", 3, 204)
    assert row["delivered_at"] == now and row["next_attempt_at"] is None
    got = receiver.at("/hook")
    assert [r.answered for r in got] == [503, 503, 204]
    # Every try is the same message to the receiver: one webhook-id, the delivery's.
    assert {r.headers["webhook-id"] for r in got} == {str(row["delivery_id"])}
    last = got[-1]
    assert int(last.headers["webhook-timestamp"]) == int(now.timestamp())
    # What a receiver does: a Standard Webhooks library verifies it with the secret.
    assert Webhook(secret).verify(last.body, last.headers)["id"] == str(row["event_id"])
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(last.body, last.headers)


async def test_one_customers_events_wait_for_the_one_before_others_do_not(
    pool: asyncpg.Pool, receiver: Receiver
) -> None:
    subscription = await _subscribe(pool, "t1", receiver.url("/order"), ["*"])
    await _consume(pool, _event("t1", "C-1", 1), _event("t1", "C-1", 2), _event("t1", "C-2", 1))
    created = (await _deliveries(pool, subscription))[-1]["created_at"]
    receiver.fail("/order", 1)
    async with httpx.AsyncClient(timeout=5) as client:
        dispatcher = _dispatcher(pool, client, 0.0)
        now = created + timedelta(seconds=1)
        while await dispatcher.deliver_one(now):
            pass
        # C-1's first failed and waits its backoff; C-1's second stays behind it; C-2 went.
        states = [(r["subject"], r["state"]) for r in await _deliveries(pool, subscription)]
        assert states == [("C-1", "pending"), ("C-1", "pending"), ("C-2", "delivered")]
        now += timedelta(seconds=5)
        while await dispatcher.deliver_one(now):
            pass
    sent = [
        (json.loads(r.body)["subject"], json.loads(r.body)["subjectseq"], r.answered)
        for r in receiver.at("/order")
    ]
    assert [s for s in sent if s[0] == "C-1"] == [("C-1", 1, 503), ("C-1", 1, 204), ("C-1", 2, 204)]
    assert ("C-2", 1, 204) in sent


async def test_a_receiver_that_never_answers_2xx_ends_failed_after_the_max_age(
    pool: asyncpg.Pool, receiver: Receiver
) -> None:
    subscription = await _subscribe(pool, "t1", receiver.url("/down"), ["*"])
    await _consume(pool, _event("t1", "C-1", 1), _event("t1", "C-1", 2))
    receiver.fail("/down", -1)
    rows = await _deliveries(pool, subscription)
    async with httpx.AsyncClient(timeout=5) as client:
        dispatcher = _dispatcher(pool, client, 0.5)
        now = rows[-1]["created_at"]
        for _ in range(100):
            row = (await _deliveries(pool, subscription))[0]
            if row["state"] != "pending":
                break
            now = max(now, row["next_attempt_at"])
            assert await dispatcher.deliver_one(now)
    first = (await _deliveries(pool, subscription))[0]
    assert first["state"] == "failed" and first["next_attempt_at"] is None
    assert first["last_status"] == 503 and first["last_error"] == "the receiver answered 503"
    assert first["last_attempt_at"] == first["created_at"] + BACKOFF.max_age
    assert first["attempts"] == len(
        [r for r in receiver.at("/down") if json.loads(r.body)["subjectseq"] == 1]
    )
    # The customer's next event is no longer held back; it is near its age too: it gets a
    # try now and one at the end of its window.
    async with httpx.AsyncClient(timeout=5) as client:
        dispatcher = _dispatcher(pool, client, 0.5)
        assert await dispatcher.deliver_one(now)
        second = (await _deliveries(pool, subscription))[1]
        assert second["next_attempt_at"] == second["created_at"] + BACKOFF.max_age
        assert await dispatcher.deliver_one(second["next_attempt_at"])
    second = (await _deliveries(pool, subscription))[1]
    assert (second["state"], second["attempts"]) == ("failed", 2)


async def _first_attempt(
    pool: asyncpg.Pool, url: str, *, private: bool = True, timeout: float = 5
) -> asyncpg.Record:
    """One event to a new subscription to `url`, attempted once: its delivery's row."""
    subscription = await _subscribe(pool, "t1", url, ["*"])
    await _consume(pool, _event("t1", "C-1", 1))
    created = (await _deliveries(pool, subscription))[0]["created_at"]
    async with httpx.AsyncClient(timeout=timeout) as client:
        assert await _dispatcher(pool, client, 0.0, private=private).deliver_one(created)
    return (await _deliveries(pool, subscription))[0]


async def test_an_unreachable_receiver_is_an_error_not_a_crash(pool: asyncpg.Pool) -> None:
    row = await _first_attempt(pool, "http://127.0.0.1:9/nothing", timeout=2)
    assert row["state"] == "pending" and row["last_status"] is None
    assert row["last_error"] and "Connect" in row["last_error"]


async def test_by_default_a_private_address_is_a_failed_attempt_and_nothing_is_sent(
    pool: asyncpg.Pool, receiver: Receiver
) -> None:
    subscription = await _subscribe(pool, "t1", receiver.url("/inside"), ["*"])
    await _consume(pool, _event("t1", "C-1", 1))
    created = (await _deliveries(pool, subscription))[0]["created_at"]
    async with httpx.AsyncClient(timeout=5) as client:
        dispatcher = _dispatcher(pool, client, 0.0, private=False)
        assert await dispatcher.deliver_one(created)
        row = (await _deliveries(pool, subscription))[0]
        assert (row["state"], row["attempts"], row["last_status"]) == ("pending", 1, None)
        assert row["last_error"] == "the address 127.0.0.1 is not public"
        assert row["next_attempt_at"] == created + timedelta(seconds=5)
        # Retried like any failure, until it is given up at the maximum age.
        assert await dispatcher.deliver_one(created + BACKOFF.max_age)
    row = (await _deliveries(pool, subscription))[0]
    assert (row["state"], row["attempts"]) == ("failed", 2)
    assert row["last_error"] and "is not public" in row["last_error"]
    assert receiver.at("/inside") == []


async def test_a_name_is_checked_by_what_it_resolves_to(pool: asyncpg.Pool) -> None:
    row = await _first_attempt(pool, "http://localhost:1/x", private=False)
    assert row["state"] == "pending" and row["last_status"] is None
    assert row["last_error"] and "is not public (localhost resolves to it)" in row["last_error"]


async def test_a_confined_dispatcher_never_connects_outside_its_networks(
    pool: asyncpg.Pool,
) -> None:
    # Public, and private addresses allowed too: outside the allow-list, never connected.
    row = await _first_attempt(pool, "http://1.1.1.1/hook")
    assert (row["state"], row["attempts"], row["last_status"]) == ("pending", 1, None)
    assert row["last_error"] == (
        "the address 1.1.1.1 is outside the outbound allow-list "
        "(HUIKUAN_OUTBOUND_ALLOW=127.0.0.0/8,::1/128)"
    )


async def test_two_dispatchers_never_take_the_same_customers_queue_at_once(
    pool: asyncpg.Pool,
) -> None:
    subscription = await _subscribe(pool, "t1", "http://127.0.0.1:1/x", ["*"])
    await _consume(pool, _event("t1", "C-1", 1), _event("t1", "C-1", 2), _event("t1", "C-2", 1))
    now = (await _deliveries(pool, subscription))[-1]["created_at"]
    async with pool.acquire() as a, pool.acquire() as b, a.transaction(), b.transaction():
        first = await store.claim(a, now)
        second = await store.claim(b, now)
        assert first is not None and second is not None
        third = await store.claim(b, now)
    subjects = await pool.fetch(
        "SELECT delivery_id, subject FROM webhook_delivery WHERE subscription_id = $1",
        subscription,
    )
    subject_of = {r["delivery_id"]: r["subject"] for r in subjects}
    assert {subject_of[first["delivery_id"]], subject_of[second["delivery_id"]]} == {"C-1", "C-2"}
    assert third is None or third["delivery_id"] == second["delivery_id"]


async def test_the_consumer_passes_over_tenants_without_subscriptions(
    pool: asyncpg.Pool,
) -> None:
    """Through real Kafka: the subscribed tenant's event fans out, another tenant's and a
    record that is no event are passed over without a transaction, and all are committed."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        pytest.skip("needs KAFKA_BOOTSTRAP_SERVERS (make test sets it)")
    topic = f"it.gateway.webhooks.{secrets.token_hex(4)}"
    await ensure_topics(bootstrap, (topic,), partitions=1)
    subscription = await _subscribe(pool, "t1", "http://127.0.0.1:1/a", ["*"])
    mine, theirs = _event("t1", "C-1", 1), _event("t2", "C-1", 1)
    producer = make_producer(bootstrap, "it-gateway-webhooks")
    consumer = make_consumer(bootstrap, f"it-{topic}", (topic,))
    await producer.start()
    await consumer.start()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    stop = asyncio.Event()
    loop = EventConsumer(
        name="gateway",
        pool=pool,
        handlers=CONSUMER.handlers,
        dlq_producer=producer,
        admit=CONSUMER.admit,
    )
    running = asyncio.create_task(loop.run(consumer, stop))
    try:
        for event in (theirs, mine):
            await producer.send_and_wait(topic, event.to_bytes(), key=event.partition_key)
        await producer.send_and_wait(topic, b"not an event", key=None)
        partition = TopicPartition(topic, 0)
        for _ in range(600):  # at most a minute
            if await consumer.committed(partition) == 3:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the three records were not committed within a minute")
    finally:
        stop.set()
        await running
        await consumer.stop()
        await producer.stop()
        await admin.delete_topics([topic])
        await admin.close()
    assert [r["event_id"] for r in await _deliveries(pool, subscription)] == [mine.id]
    processed = await pool.fetch("SELECT event_id FROM processed_event")
    assert [r["event_id"] for r in processed] == [mine.id]


def _examined(plan: dict[str, Any], relation: str) -> int:
    """Rows a plan (EXPLAIN ANALYZE, JSON) read from `relation`: those its scans returned
    and those they threw away, over all their loops."""
    own = 0
    if plan.get("Relation Name") == relation:
        loops = plan.get("Actual Loops", 1)
        kept = plan.get("Actual Rows", 0)
        thrown = plan.get("Rows Removed by Filter", 0)
        thrown += plan.get("Rows Removed by Index Recheck", 0)
        own = round((kept + thrown) * loops)
    return own + sum(_examined(child, relation) for child in plan.get("Plans", []))


async def _claim_plan(pool: asyncpg.Pool, now: datetime) -> tuple[Any, dict[str, Any]]:
    """What the claim returns at `now` and how it was found; nothing stays locked."""
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            explained = await conn.fetchval(
                "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + store.CLAIM, now
            )
            claimed = await store.claim(conn, now)
        finally:
            await tx.rollback()
    document = json.loads(explained) if isinstance(explained, str) else explained
    plan: dict[str, Any] = document[0]["Plan"]
    return (claimed["delivery_id"] if claimed is not None else None), plan


async def test_a_claim_does_not_read_the_backlog_behind_a_dead_receiver(
    pool: asyncpg.Pool, receiver: Receiver
) -> None:
    """20,000 deliveries pending for a dead receiver (1,000 customers, 20 each, their heads
    waiting for a retry in an hour): the claim finds the one due delivery of a live
    subscription reading a handful of rows, not the backlog; when one of the dead
    receiver's customers comes due, its head — the earliest of its 20 — is the one
    claimed, and what waits behind it is still not read."""
    dead = await _subscribe(pool, "t-dead", "http://127.0.0.1:9/dead", ["*"])
    live = await _subscribe(pool, "t1", receiver.url("/live"), ["*"])
    now = datetime.now(UTC)
    # The backlog, written as the consumer writes it (the consumer path is the test above;
    # one statement here keeps 20,000 rows quick): deliveries in each customer's order,
    # then one queue row per customer due when its head is.
    await pool.execute(
        """INSERT INTO webhook_delivery
               (delivery_id, subscription_id, tenant, event_id, event_type, subject, payload,
                created_at, next_attempt_at, attempts)
           SELECT gen_random_uuid(), $1, 't-dead', gen_random_uuid(), 'ledger.invoice_issued.v1',
                  'C-' || c, convert_to(repeat('x', 300), 'UTF8'), $2::timestamptz,
                  CASE WHEN n = 1 THEN $3::timestamptz ELSE $2::timestamptz END,
                  CASE WHEN n = 1 THEN 9 ELSE 0 END
           FROM generate_series(1, 1000) c, generate_series(1, 20) n
           ORDER BY c, n""",
        dead,
        now - timedelta(minutes=10),
        now + timedelta(hours=1),
    )
    await pool.execute(
        """INSERT INTO webhook_queue (subscription_id, subject, tenant, next_attempt_at)
           SELECT DISTINCT ON (subject) subscription_id, subject, tenant, next_attempt_at
           FROM webhook_delivery WHERE subscription_id = $1 AND state = 'pending'
           ORDER BY subject, position""",
        dead,
    )
    await _consume(pool, _event("t1", "C-LIVE", 1))
    (mine,) = await _deliveries(pool, live)
    await pool.execute("ANALYZE webhook_delivery")
    await pool.execute("ANALYZE webhook_queue")
    assert (
        await pool.fetchval("SELECT count(*) FROM webhook_delivery WHERE state = 'pending'")
        == 20_001
    )

    at = mine["created_at"] + timedelta(seconds=1)
    claimed, plan = await _claim_plan(pool, at)
    assert claimed == mine["delivery_id"]
    assert _examined(plan, "webhook_delivery") <= 5, plan
    assert _examined(plan, "webhook_queue") <= 5, plan

    # One dead customer comes due (before the live one): its head is claimed.
    await pool.execute(
        """UPDATE webhook_queue SET next_attempt_at = $2
           WHERE subscription_id = $1 AND subject = 'C-7'""",
        dead,
        now - timedelta(minutes=1),
    )
    head = await pool.fetchval(
        """SELECT delivery_id FROM webhook_delivery
           WHERE subscription_id = $1 AND subject = 'C-7' ORDER BY position LIMIT 1""",
        dead,
    )
    claimed, plan = await _claim_plan(pool, at)
    assert claimed == head
    assert _examined(plan, "webhook_delivery") <= 5, plan
    assert _examined(plan, "webhook_queue") <= 5, plan

    # Delivered for real: C-7's head fails (nothing listens there) and waits its retry;
    # the live delivery goes next; nothing more is due.
    async with httpx.AsyncClient(timeout=2) as client:
        dispatcher = _dispatcher(pool, client, 1.0)
        assert await dispatcher.deliver_one(at)
        assert await dispatcher.deliver_one(at)
        assert not await dispatcher.deliver_one(at)
    assert [r.answered for r in receiver.at("/live")] == [204]
    tried = await pool.fetchrow(
        "SELECT state, attempts FROM webhook_delivery WHERE delivery_id = $1", head
    )
    assert (tried["state"], tried["attempts"]) == ("pending", 10)
    assert (
        await pool.fetchval("SELECT count(*) FROM webhook_queue WHERE subscription_id = $1", live)
        == 0
    )


async def test_after_a_rotation_both_secrets_sign_until_the_overlap_ends(
    pool: asyncpg.Pool, receiver: Receiver
) -> None:
    """From a secret made before secrets were standard base64 (it verifies as its UTF-8
    bytes) to a standard one, as a subscription made then would move over. The instants
    are near the real clock: the receiver's library refuses timestamps more than five
    minutes from it."""
    old, new = "whsec_" + secrets.token_urlsafe(32), generate_secret()
    subscription = await _subscribe(pool, "t1", receiver.url("/rotated"), ["*"], old)
    await _consume(pool, _event("t1", "C-1", 1), _event("t1", "C-2", 1))
    created = (await _deliveries(pool, subscription))[-1]["created_at"]
    rotated_at = created - timedelta(minutes=59)
    async with pool.acquire() as conn:
        assert (
            await store.rotate_secret(
                conn, "t2", subscription, generate_secret(), rotated_at, timedelta(hours=1)
            )
            is None
        )  # another tenant's: nothing changes
        rotated = await store.rotate_secret(
            conn, "t1", subscription, new, rotated_at, timedelta(hours=1)
        )
    assert rotated is not None
    assert rotated["previous_secret_until"] == created + timedelta(minutes=1)
    async with httpx.AsyncClient(timeout=5) as client:
        dispatcher = _dispatcher(pool, client, 1.0)
        during = created
        assert await dispatcher.deliver_one(during)
        await _consume(pool, _event("t1", "C-1", 2))
        after = created + timedelta(minutes=1)
        while await dispatcher.deliver_one(after):
            pass
    first, *later = receiver.at("/rotated")
    assert int(first.headers["webhook-timestamp"]) == int(during.timestamp())
    signatures = first.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2
    # A receiver holding either secret accepts it; the new secret's signature is first.
    Webhook(new).verify(first.body, first.headers)
    Webhook(old.encode()).verify(first.body, first.headers)
    Webhook(new).verify(first.body, {**first.headers, "webhook-signature": signatures[0]})
    assert len(later) == 2
    for request in later:
        assert request.answered == 204
        assert " " not in request.headers["webhook-signature"]
        Webhook(new).verify(request.body, request.headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(old.encode()).verify(request.body, request.headers)


async def _set_active(pool: asyncpg.Pool, tenant: str, active: bool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        assert await tenants.set_active(conn, tenant, active, T0) is not None
        await store.set_held(conn, tenant, not active)


async def test_a_suspended_tenants_deliveries_are_held_not_failed_until_it_is_active(
    pool: asyncpg.Pool, receiver: Receiver
) -> None:
    async with pool.acquire() as conn:
        await tenants.insert_tenant(conn, "t-s", "Suspended", T0)
        await tenants.insert_tenant(conn, "t-a", "Active", T0)
    held = await _subscribe(pool, "t-s", receiver.url("/held"), ["*"])
    other = await _subscribe(pool, "t-a", receiver.url("/other"), ["*"])
    await _consume(pool, _event("t-s", "C-1", 1))
    await _set_active(pool, "t-s", False)
    # Events keep fanning out while it is suspended, held behind the others or on their own.
    await _consume(pool, _event("t-s", "C-1", 2), _event("t-s", "C-2", 1), _event("t-a", "C-1", 1))
    created = (await _deliveries(pool, held))[-1]["created_at"]
    queues = await pool.fetch(
        "SELECT subject, held FROM webhook_queue WHERE subscription_id = $1 ORDER BY subject", held
    )
    assert [(r["subject"], r["held"]) for r in queues] == [("C-1", True), ("C-2", True)]
    async with httpx.AsyncClient(timeout=5) as client:
        dispatcher = _dispatcher(pool, client, 1.0)
        later = created + 2 * BACKOFF.max_age  # long past the age a delivery is given up at
        while await dispatcher.deliver_one(later):
            pass
        assert [r.answered for r in receiver.at("/other")] == [204]
        assert receiver.at("/held") == []
        rows = await _deliveries(pool, held)
        assert [(r["state"], r["attempts"]) for r in rows] == [("pending", 0)] * 3
        await _set_active(pool, "t-s", True)
        while await dispatcher.deliver_one(later):
            pass
    sent = [
        (json.loads(r.body)["subject"], json.loads(r.body)["subjectseq"], r.answered)
        for r in receiver.at("/held")
    ]
    assert sorted(sent) == [("C-1", 1, 204), ("C-1", 2, 204), ("C-2", 1, 204)]
    assert [s for s in sent if s[0] == "C-1"] == [("C-1", 1, 204), ("C-1", 2, 204)]
    assert [r["state"] for r in await _deliveries(pool, held)] == ["delivered"] * 3
    assert await pool.fetchval("SELECT count(*) FROM webhook_queue") == 0
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM webhook_delivery WHERE subscription_id = $1", other
        )
        == 1
    )


async def test_the_sweep_removes_only_queue_rows_with_nothing_left_to_send(
    pool: asyncpg.Pool,
) -> None:
    """Rows a race could leave behind — a queue with nothing pending, a queue of a
    subscription deleted while the consumer was writing to it — go (the latter's pending
    delivery ends failed, as deleting does); a queue with a pending head stays."""
    kept = await _subscribe(pool, "t1", "http://127.0.0.1:9/kept", ["*"])
    deleted = await _subscribe(pool, "t1", "http://127.0.0.1:9/deleted", ["*"])
    await _consume(pool, _event("t1", "C-1", 1))  # one pending delivery for each
    now = (await _deliveries(pool, kept))[0]["created_at"]
    await pool.execute(
        """INSERT INTO webhook_queue (subscription_id, subject, tenant, next_attempt_at)
           VALUES ($1, 'C-EMPTY', 't1', $2)""",
        kept,
        now,
    )
    await pool.execute(
        "UPDATE webhook_subscription SET disabled_at = $2 WHERE subscription_id = $1",
        deleted,
        now,
    )
    async with pool.acquire() as conn:
        assert await store.sweep_queue(conn, now) == 2
        assert await store.sweep_queue(conn, now) == 0
    left = await pool.fetch("SELECT subscription_id, subject FROM webhook_queue")
    assert [(r["subscription_id"], r["subject"]) for r in left] == [(kept, "C-1")]
    (gone,) = await _deliveries(pool, deleted)
    assert gone["state"] == "failed" and gone["last_error"] == "the subscription was deleted"
    assert (await _deliveries(pool, kept))[0]["state"] == "pending"


async def _wait_until_blocked(pool: asyncpg.Pool, pid: int) -> None:
    """Until the backend `pid` waits for a row lock (bounded)."""
    for _ in range(200):
        waiting = await pool.fetchval(
            "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid
        )
        if waiting:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"backend {pid} never waited for a lock")


async def test_a_delivery_queued_while_its_subscription_is_deleted_ends_failed(
    pool: asyncpg.Pool,
) -> None:
    """The consumer queues a delivery behind a customer's pending one while the
    subscription is being deleted: the delete waits for the queue row, then removes it —
    the delivery it could not see when it failed the pending ones must end failed too, not
    stay pending forever with no queue row (never claimed, never swept)."""
    subscription = await _subscribe(pool, "t1", "http://127.0.0.1:9/gone", ["*"])
    await _consume(pool, _event("t1", "C-1", 1))  # pending, its queue row exists
    second = _event("t1", "C-1", 2)
    async with pool.acquire() as consumer, pool.acquire() as deleter:
        writing = consumer.transaction()
        await writing.start()
        await store.insert_deliveries(
            consumer,
            [(uuid7(), subscription)],
            "t1",
            second.id,
            second.type,
            "C-1",
            second.to_bytes(),
            T0,
        )

        async def delete() -> bool:
            async with deleter.transaction():
                return await store.disable_subscription(deleter, "t1", subscription, T0)

        deleting = asyncio.create_task(delete())
        await _wait_until_blocked(pool, deleter.get_server_pid())
        await writing.commit()
        assert await asyncio.wait_for(deleting, 10)
    rows = await _deliveries(pool, subscription)
    assert [r["state"] for r in rows] == ["failed", "failed"]
    assert {r["last_error"] for r in rows} == {"the subscription was deleted"}
    left = await pool.fetchval(
        "SELECT count(*) FROM webhook_queue WHERE subscription_id = $1", subscription
    )
    assert left == 0


async def test_a_retry_recorded_after_its_queue_row_went_with_the_subscription_is_swept(
    pool: asyncpg.Pool,
) -> None:
    """A dispatcher has a delivery in flight that the subscription's delete did not see
    pending (queued after it read) and so skipped, removing its queue row: the retry the
    dispatcher records puts the row back, and the sweep then ends the delivery failed —
    it does not stay pending with no queue row."""
    subscription = await _subscribe(pool, "t1", "http://127.0.0.1:9/late", ["*"])
    await _consume(pool, _event("t1", "C-1", 1))
    now = (await _deliveries(pool, subscription))[0]["created_at"]
    async with pool.acquire() as conn, conn.transaction():
        claimed = await store.claim(conn, now)
        assert claimed is not None
        # What the delete committed meanwhile: the subscription gone, its queue rows too.
        await pool.execute(
            "UPDATE webhook_subscription SET disabled_at = $2 WHERE subscription_id = $1",
            subscription,
            now,
        )
        await pool.execute("DELETE FROM webhook_queue WHERE subscription_id = $1", subscription)
        retry = now + timedelta(seconds=10)
        await store.record_attempt(
            conn,
            claimed,
            now=now,
            status=503,
            error="the receiver answered 503",
            delivered=False,
            next_attempt_at=retry,
        )
    queued = await pool.fetch(
        "SELECT subject, next_attempt_at FROM webhook_queue WHERE subscription_id = $1",
        subscription,
    )
    assert [(r["subject"], r["next_attempt_at"]) for r in queued] == [("C-1", retry)]
    async with pool.acquire() as conn:
        assert await store.sweep_queue(conn, retry) == 1
    (row,) = await _deliveries(pool, subscription)
    assert row["state"] == "failed" and row["last_error"] == "the subscription was deleted"
    assert await pool.fetchval("SELECT count(*) FROM webhook_queue") == 0
