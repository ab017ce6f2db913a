"""The idempotent consumer loop.

For every record: one database transaction records the event id in `processed_event`,
tracks the subject's sequence, and runs the handler registered for the event type (with
`batch_size` > 1, one transaction does this for a run of records in order, falling back
to one record at a time if any of them fails). A
duplicate (already recorded) does nothing. The offset is committed to Kafka only after
the database commit, so a crash anywhere means redelivery, never loss, and redelivery
has no effect. A handler that keeps failing is retried a few times with backoff, then
the record goes to the consumer's dead-letter topic with the error in its headers and
the loop moves on.

Records are read tolerantly (`Envelope.read`): an attribute or extension the envelope does
not declare is ignored, so an event from a newer producer is applied, not dead-lettered.
Handlers read `data` the same way (`Envelope.read_data`).

A service changes what the loop does through its hooks, never by overriding it: `handlers`
(or `run_handler`) apply the events, `batch_size` sets how many share a transaction, and
`admit` chooses, once per fetch, which records are applied at all (the others are passed
over without a transaction; their offsets are committed with the fetch's).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError
from pydantic import ValidationError

from huikuan_events import Envelope, topics
from huikuan_events.topics import tenant_of_key
from huikuan_runtime import health, metrics
from huikuan_runtime.db import TRANSIENT_ERRORS
from huikuan_runtime.logs import trace_id_from, trace_id_var

log = logging.getLogger(__name__)

_T = TypeVar("_T")

Handler = Callable[[asyncpg.Connection, Envelope], Awaitable[None]]
# A handler of a whole run of events (in order, in one transaction): a service that can
# apply many events more cheaply together than one by one brings one instead of `handlers`.
RunHandler = Callable[[asyncpg.Connection, list[Envelope]], Awaitable[None]]
# Whether to apply one record of a fetch (it is passed over, uncommitted until the fetch is).
RecordFilter = Callable[[ConsumerRecord], bool]
# The `admit` hook: called once per fetch from Kafka, before any of its records is applied,
# with a connection outside any transaction; it answers the fetch's filter. A service whose
# handlers ignore most events passes over the rest without a transaction for each.
Admit = Callable[[asyncpg.Connection], Awaitable[RecordFilter]]


def dispatching(handlers: Mapping[str, Handler]) -> RunHandler:
    """Handlers by event type as one run handler: each event's own handler, in order; an
    event of a type without one is recorded as processed and changes nothing."""

    async def run(conn: asyncpg.Connection, envelopes: list[Envelope]) -> None:
        for envelope in envelopes:
            handler = handlers.get(envelope.type)
            if handler is not None:
                await handler(conn, envelope)

    return run


class Stopping(Exception):
    """Raised inside the loop when a stop was requested while a record was waiting."""


@dataclass(frozen=True, slots=True)
class Applied:
    """What happened to one record."""

    duplicate: bool
    gap: bool = False
    out_of_order: bool = False


@dataclass(frozen=True)
class ConsumerSpec:
    """What a service's consumer (`python -m <service> consume`) reads and how it applies
    it: the hooks of `EventConsumer`, the only way a service shapes the loop. `handlers`
    (event type -> handler) or `run_handler` (a run of events at once) apply the events;
    `batch_size` > 1 applies that many records of a poll per transaction (see
    `EventConsumer.handle_many`); `admit` chooses once per fetch which records are applied
    at all (see `Admit`)."""

    topics: tuple[str, ...]
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    run_handler: RunHandler | None = None
    batch_size: int = 1
    admit: Admit | None = None

    @property
    def applier(self) -> RunHandler:
        """What applies a run of fresh events: `run_handler`, or the per-type `handlers`."""
        return self.run_handler or dispatching(self.handlers)


class EventConsumer:
    def __init__(
        self,
        *,
        name: str,
        pool: asyncpg.Pool,
        handlers: Mapping[str, Handler],
        dlq_producer: AIOKafkaProducer,
        max_retries: int = 3,
        retry_backoff_seconds: float = 0.2,
        batch_size: int = 1,
        run_handler: RunHandler | None = None,
        admit: Admit | None = None,
        dead_letter_topic: str | None = None,
    ) -> None:
        """`dead_letter_topic` is the cluster's name of the consumer's dead-letter topic
        (default: `<name>.dlq.v1`, the name outside any namespace)."""
        self.name = name
        self._dead_letter_topic = dead_letter_topic or topics.dead_letter_topic(name)
        self._batch_size = batch_size
        self._pool = pool
        self._apply_run = run_handler or dispatching(handlers)
        self._admit = admit
        self._dlq = dlq_producer
        self._max_retries = max_retries
        self._backoff = retry_backoff_seconds
        self._stop = asyncio.Event()

    async def apply(self, envelope: Envelope, record: ConsumerRecord) -> Applied:
        """Apply one event in one transaction; a second delivery of the same id is a no-op."""
        async with self._pool.acquire() as conn, conn.transaction():
            fresh = await conn.fetchval(
                """INSERT INTO processed_event
                       (consumer, event_id, event_type, topic, partition, "offset")
                   VALUES ($1, $2, $3, $4, $5, $6)
                   ON CONFLICT DO NOTHING RETURNING true""",
                self.name,
                envelope.id,
                envelope.type,
                record.topic,
                record.partition,
                record.offset,
            )
            if not fresh:
                return Applied(duplicate=True)
            applied = await self._track_sequence(conn, envelope)
            await self._dispatch(conn, [envelope])
            return applied

    async def apply_many(self, items: list[tuple[Envelope, ConsumerRecord]]) -> list[Applied]:
        """Apply events in order in one transaction: the same effects as `apply` on each in
        turn (every handler runs after the bookkeeping of the events before it), with one
        commit and three bookkeeping statements for the run instead of three per event. If
        anything fails, nothing of the run is kept."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """INSERT INTO processed_event
                       (consumer, event_id, event_type, topic, partition, "offset")
                   SELECT $1, * FROM unnest($2::uuid[], $3::text[], $4::text[], $5::int[],
                                            $6::bigint[])
                   ON CONFLICT DO NOTHING RETURNING event_id""",
                self.name,
                [e.id for e, _ in items],
                [e.type for e, _ in items],
                [r.topic for _, r in items],
                [r.partition for _, r in items],
                [r.offset for _, r in items],
            )
            fresh = {row["event_id"] for row in rows}
            todo: list[tuple[int, Envelope]] = []
            for n, (envelope, _) in enumerate(items):
                if envelope.id in fresh:  # the first of two deliveries in one run is the one
                    fresh.discard(envelope.id)
                    todo.append((n, envelope))
            results = [Applied(duplicate=True)] * len(items)
            for (n, _), applied in zip(
                todo, await self._track_sequences(conn, [e for _, e in todo]), strict=True
            ):
                results[n] = applied
            await self._dispatch(conn, [e for _, e in todo])
            return results

    async def _dispatch(self, conn: asyncpg.Connection, envelopes: list[Envelope]) -> None:
        """Run the handlers of fresh events, in order: the run handler with all of them, or
        each event's own handler."""
        if envelopes:
            await self._apply_run(conn, envelopes)

    async def _track_sequences(
        self, conn: asyncpg.Connection, envelopes: list[Envelope]
    ) -> list[Applied]:
        """`_track_sequence` for a run of events: one read (locking the cursors in a fixed
        order) and one upsert."""
        if not envelopes:
            return []
        keys = sorted({(e.source, e.tenant, e.subject) for e in envelopes})
        rows = await conn.fetch(
            """SELECT c.source, c.tenant, c.subject, c.last_sequence
               FROM subject_cursor c
               JOIN unnest($2::text[], $3::text[], $4::text[]) AS k (source, tenant, subject)
                 USING (source, tenant, subject)
               WHERE c.consumer = $1
               ORDER BY c.source, c.tenant, c.subject FOR UPDATE OF c""",
            self.name,
            [k[0] for k in keys],
            [k[1] for k in keys],
            [k[2] for k in keys],
        )
        last: dict[tuple[str, str, str], int] = {
            (r["source"], r["tenant"], r["subject"]): r["last_sequence"] for r in rows
        }
        gaps: dict[tuple[str, str, str], int] = {}
        late: dict[tuple[str, str, str], int] = {}
        out = []
        for envelope in envelopes:
            key = (envelope.source, envelope.tenant, envelope.subject)
            before = last.get(key)
            applied = self._judge(envelope, before)
            last[key] = envelope.subjectseq if before is None else max(before, envelope.subjectseq)
            gaps[key] = gaps.get(key, 0) + int(applied.gap)
            late[key] = late.get(key, 0) + int(applied.out_of_order)
            out.append(applied)
        await conn.execute(
            """INSERT INTO subject_cursor
                   (consumer, source, tenant, subject, last_sequence, gaps, out_of_order)
               SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[],
                                        $6::int[], $7::int[])
               ON CONFLICT (consumer, source, tenant, subject) DO UPDATE SET
                   last_sequence = GREATEST(subject_cursor.last_sequence, EXCLUDED.last_sequence),
                   gaps = subject_cursor.gaps + EXCLUDED.gaps,
                   out_of_order = subject_cursor.out_of_order + EXCLUDED.out_of_order""",
            self.name,
            [k[0] for k in keys],
            [k[1] for k in keys],
            [k[2] for k in keys],
            [last[k] for k in keys],
            [gaps[k] for k in keys],
            [late[k] for k in keys],
        )
        return out

    def _judge(self, envelope: Envelope, last: int | None) -> Applied:
        """Whether an event leaves a gap after, or comes at or before, the last sequence
        seen of its subject; anomalies are counted and logged. A consumer that applies
        every event expects a subject to start at 1; one with an `admit` hook starts a
        subject at whatever it applies first (what came before was passed over, or its
        tenant's cursors forgotten when its records were)."""
        expected = 1 if last is None else last + 1
        gap = envelope.subjectseq > expected and not (last is None and self._admit is not None)
        late = last is not None and envelope.subjectseq <= last
        if gap or late:
            kind = "gap" if gap else "out_of_order"
            metrics.SEQUENCE_ANOMALIES.labels(self.name, kind).inc()
            log.warning(
                "event sequence anomaly",
                extra={
                    "kind": kind,
                    "event_id": str(envelope.id),
                    "subject": envelope.subject,
                    "subjectseq": envelope.subjectseq,
                    "expected": expected,
                },
            )
        return Applied(duplicate=False, gap=gap, out_of_order=late)

    async def _track_sequence(self, conn: asyncpg.Connection, envelope: Envelope) -> Applied:
        last = await conn.fetchval(
            """SELECT last_sequence FROM subject_cursor
               WHERE consumer = $1 AND source = $2 AND tenant = $3 AND subject = $4
               FOR UPDATE""",
            self.name,
            envelope.source,
            envelope.tenant,
            envelope.subject,
        )
        applied = self._judge(envelope, last)
        await conn.execute(
            """INSERT INTO subject_cursor
                   (consumer, source, tenant, subject, last_sequence, gaps, out_of_order)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (consumer, source, tenant, subject) DO UPDATE SET
                   last_sequence = GREATEST(subject_cursor.last_sequence, EXCLUDED.last_sequence),
                   gaps = subject_cursor.gaps + EXCLUDED.gaps,
                   out_of_order = subject_cursor.out_of_order + EXCLUDED.out_of_order""",
            self.name,
            envelope.source,
            envelope.tenant,
            envelope.subject,
            envelope.subjectseq,
            int(applied.gap),
            int(applied.out_of_order),
        )
        return applied

    async def handle(self, record: ConsumerRecord) -> None:
        """Apply a record with bounded retries; dead-letter it when they run out.
        Logs written meanwhile carry the trace id that came with the event."""
        traceparent = dict(record.headers or ()).get("traceparent", b"").decode(errors="replace")
        token = trace_id_var.set(trace_id_from(traceparent))
        try:
            await self._handle(record)
        finally:
            trace_id_var.reset(token)

    async def _handle(self, record: ConsumerRecord) -> None:
        try:
            envelope = Envelope.read(record.value)
        except ValidationError as exc:
            await self._dead_letter(record, exc, attempts=1)
            return
        failures = 0  # of the handler itself: bounded, then dead-lettered
        outages = 0  # of the database: waited out, never dead-lettered
        while True:
            try:
                applied = await self.apply(envelope, record)
            except TRANSIENT_ERRORS as exc:
                outages += 1
                log.warning(
                    "database unavailable; the event waits",
                    extra={
                        "event_id": str(envelope.id),
                        "outage_attempt": outages,
                        "error": repr(exc),
                    },
                )
                await self._pause(self._outage_wait(outages))
                continue
            except Exception as exc:
                failures += 1
                log.warning(
                    "event handler failed",
                    extra={
                        "event_id": str(envelope.id),
                        "type": envelope.type,
                        "attempt": failures,
                        "error": repr(exc),
                    },
                )
                if failures >= self._max_retries:
                    await self._dead_letter(record, exc, attempts=failures)
                    return
                await self._pause(self._backoff * 2 ** (failures - 1))
                continue
            result = "duplicate" if applied.duplicate else "applied"
            metrics.EVENTS_CONSUMED.labels(self.name, envelope.type, result).inc()
            return

    async def handle_many(self, records: list[ConsumerRecord]) -> None:
        """Apply a run of records in one transaction (`batch_size` > 1); if any of them
        cannot be parsed or fails, nothing of the run is kept and each record goes through
        `handle` on its own, with its retries and dead-lettering."""
        if len(records) > 1:
            try:
                items = [(Envelope.read(r.value), r) for r in records]
                results = await self.apply_many(items)
            except Exception as exc:
                log.warning(
                    "a run of events failed together; applying them one by one",
                    extra={"events": len(records), "error": repr(exc)},
                )
            else:
                for (envelope, _), applied in zip(items, results, strict=True):
                    result = "duplicate" if applied.duplicate else "applied"
                    metrics.EVENTS_CONSUMED.labels(self.name, envelope.type, result).inc()
                return
        for record in records:
            await self.handle(record)

    def _outage_wait(self, outages: int) -> float:
        """Seconds to wait after the `outages`-th failure in a row to reach the database."""
        return min(30.0, self._backoff * 2.0 ** min(outages, 8))

    async def _admitted(self) -> RecordFilter | None:
        """The `admit` hook's filter for the fetch at hand (None: no hook, every record is
        applied). A database outage is waited out: the fetched records are not committed
        until they are applied or passed over."""
        if self._admit is None:
            return None
        return await self._through_outages(self._admit, "the fetched events wait")

    async def _through_outages(
        self, work: Callable[[asyncpg.Connection], Awaitable[_T]], waiting: str
    ) -> _T:
        """`work` on a connection of the pool, retried until the database answers: an
        outage is waited out (logged as `waiting`), never a failure of the records."""
        outages = 0
        while True:
            try:
                async with self._pool.acquire() as conn:
                    return await work(conn)
            except TRANSIENT_ERRORS as exc:
                outages += 1
                log.warning(
                    f"database unavailable; {waiting}",
                    extra={"outage_attempt": outages, "error": repr(exc)},
                )
                await self._pause(self._outage_wait(outages))

    async def _pause(self, seconds: float) -> None:
        """Sleep between attempts; a stop request ends the wait and abandons the record
        (uncommitted, so it is delivered again after the restart)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
        if self._stop.is_set():
            raise Stopping

    async def _dead_letter(self, record: ConsumerRecord, error: Exception, attempts: int) -> None:
        headers = [
            *(record.headers or ()),
            ("x-dlq-consumer", self.name.encode()),
            ("x-dlq-error-type", type(error).__name__.encode()),
            ("x-dlq-error", str(error)[:2000].encode()),
            ("x-dlq-attempts", str(attempts).encode()),
            ("x-dlq-original-topic", record.topic.encode()),
            ("x-dlq-original-partition", str(record.partition).encode()),
            ("x-dlq-original-offset", str(record.offset).encode()),
        ]
        await self._dlq.send_and_wait(
            self._dead_letter_topic, value=record.value, key=record.key, headers=headers
        )
        metrics.EVENTS_DEAD_LETTERED.labels(self.name).inc()
        log.error(
            "event dead-lettered",
            extra={
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "error": repr(error),
            },
        )

    async def run(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; offsets are committed after each partition's batch
        (its admitted records applied, the others passed over)."""
        self._stop = stop
        log.info("consumer started", extra={"consumer": self.name})
        try:
            while not stop.is_set():
                health.beat()
                batches = await consumer.getmany(timeout_ms=500)
                if not batches:
                    continue
                admitted = await self._admitted()
                for tp, records in batches.items():
                    todo = records if admitted is None else [r for r in records if admitted(r)]
                    if len(todo) < len(records):
                        await self._passed_over(r for r in records if r not in todo)
                    for start in range(0, len(todo), self._batch_size):
                        await self.handle_many(todo[start : start + self._batch_size])
                    await self._commit(consumer, tp, records[-1].offset + 1)
        except Stopping:
            pass
        log.info("consumer stopped", extra={"consumer": self.name})

    async def _passed_over(self, records: Iterable[ConsumerRecord]) -> None:
        """Forget the sequence cursors of the tenants whose records the `admit` hook passed
        over: those events were skipped, not lost, so when the tenant is admitted again its
        subjects start afresh instead of counting the skipped ones as gaps. One statement
        per fetch (a tenant never admitted has no cursor to forget); a database outage is
        waited out like any other."""
        tenants = sorted({t for r in records if (t := tenant_of_key(r.key)) is not None})
        if not tenants:
            return

        async def forget(conn: asyncpg.Connection) -> None:
            await conn.execute(
                "DELETE FROM subject_cursor WHERE consumer = $1 AND tenant = ANY($2::text[])",
                self.name,
                tenants,
            )

        await self._through_outages(forget, "the passed-over records wait")

    async def _commit(self, consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> None:
        try:
            await consumer.commit({TopicPartition(tp.topic, tp.partition): offset})
        except CommitFailedError as exc:
            # The group rebalanced: whoever owns the partition now re-reads from the last
            # committed offset, and the processed-event rows make that harmless.
            log.warning(
                "offset commit failed", extra={"partition": tp.partition, "error": repr(exc)}
            )
