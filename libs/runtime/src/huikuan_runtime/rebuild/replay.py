"""A rebuild's replay from Kafka: the service's topics from where the rebuild's own group
stands up to where the live group has committed, in publishing order, through the
service's own handlers, publishing nothing; its progress on stderr."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TextIO

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from huikuan_events import Envelope
from huikuan_runtime.consumer import ConsumerSpec, EventConsumer, RunHandler
from huikuan_runtime.db import create_pool
from huikuan_runtime.kafka import make_admin, make_consumer
from huikuan_runtime.rebuild.tables import Refused
from huikuan_runtime.settings import ServiceSettings


async def _partitions(admin: AIOKafkaAdminClient, topics: tuple[str, ...]) -> list[TopicPartition]:
    found = []
    for topic in await admin.describe_topics(list(topics)):
        if topic["error_code"] != 0:
            raise Refused(f"topic {topic['topic']} cannot be read (error {topic['error_code']})")
        found += [TopicPartition(topic["topic"], p["partition"]) for p in topic["partitions"]]
    return sorted(found)


async def _committed(
    admin: AIOKafkaAdminClient, group: str, partitions: list[TopicPartition]
) -> dict[TopicPartition, int | None]:
    offsets = await admin.list_consumer_group_offsets(group, partitions=partitions)
    found: dict[TopicPartition, int | None] = {}
    for tp in partitions:
        meta = offsets.get(tp)
        found[tp] = meta.offset if meta is not None and meta.offset >= 0 else None
    return found


async def group_members(admin: AIOKafkaAdminClient, group: str) -> int:
    [response] = await admin.describe_consumer_groups([group])
    return sum(len(g["members"]) for g in response.to_object()["groups"])


def _or(offset: int | None, otherwise: int) -> int:
    return otherwise if offset is None else offset


class SetAside:
    """The rebuild's dead letters: an event whose handler keeps failing is listed in the
    report (the live consumer dead-lettered it too, most likely) and sent nowhere. It takes
    the place of the dead-letter producer `EventConsumer` sends such records with."""

    def __init__(self) -> None:
        self.events: list[str] = []

    async def send_and_wait(
        self,
        topic: str,
        *,
        value: bytes | None,
        key: bytes | None,
        headers: list[tuple[str, bytes]],
    ) -> None:
        h = {name: v.decode(errors="replace") for name, v in headers}
        self.events.append(
            f"{h.get('x-dlq-original-topic')}:{h.get('x-dlq-original-partition')}:"
            f"{h.get('x-dlq-original-offset')} {h.get('x-dlq-error-type')}: "
            f"{h.get('x-dlq-error', '')[:200]}"
        )


def _discarding(apply: RunHandler, target: str, tally: list[int]) -> RunHandler:
    """`apply`, then delete the outbox rows it wrote, in the same transaction: the live
    service published those events when it first applied these."""

    async def run(conn: asyncpg.Connection, envelopes: list[Envelope]) -> None:
        await apply(conn, envelopes)
        tally[0] += await conn.fetchval(
            f"WITH gone AS (DELETE FROM {target}.outbox_event RETURNING 1) "
            "SELECT count(*) FROM gone"
        )

    return run


# --- the replay ------------------------------------------------------------------------


@dataclass
class Replay:
    """The partitions' bounds: where the rebuild group stands, where the live one stands."""

    positions: dict[TopicPartition, int]
    targets: dict[TopicPartition, int]
    started: dict[TopicPartition, int] = field(init=False)

    def __post_init__(self) -> None:
        self.started = dict(self.positions)

    @property
    def total(self) -> int:
        return sum(max(0, self.targets[tp] - self.started[tp]) for tp in self.targets)

    @property
    def done(self) -> int:
        return sum(
            max(0, min(self.positions[tp], self.targets[tp]) - self.started[tp])
            for tp in self.targets
        )

    def open(self) -> set[TopicPartition]:
        return {tp for tp in self.targets if self.positions[tp] < self.targets[tp]}


class _Merge:
    """The records before the targets, fetched partition by partition and handed out in the
    order they were published (record timestamp, then topic, partition and offset): the
    order a live consumer that keeps up applies them in, across topics too — credit sees a
    promise after the invoices it covers, as it did live, not when its partition happens
    to be read. A record is handed out only once every partition still being read has a
    record buffered (or has none left before its target), so nothing earlier can follow."""

    def __init__(self, reader: AIOKafkaConsumer, replay: Replay) -> None:
        self._reader = reader
        self._replay = replay
        # the offset after the last record fetched
        self._fetched: dict[TopicPartition, int] = dict(replay.positions)
        self._buffers: dict[TopicPartition, deque[ConsumerRecord]] = {
            tp: deque() for tp in replay.targets
        }
        for tp, offset in replay.positions.items():
            reader.seek(tp, offset)
        for tp in replay.targets:
            if self._drained(tp):
                reader.pause(tp)

    def _drained(self, tp: TopicPartition) -> bool:
        """Every record of `tp` before its target has been fetched."""
        return self._fetched[tp] >= self._replay.targets[tp]

    def _waiting(self) -> list[TopicPartition]:
        return [tp for tp, b in self._buffers.items() if not b and not self._drained(tp)]

    def finished(self) -> bool:
        return not any(self._buffers.values()) and not self._waiting()

    async def fill(self) -> None:
        """Fetch until every partition still being read has a record buffered."""
        while waiting := self._waiting():
            batches = await self._reader.getmany(*waiting, timeout_ms=500)
            for tp, records in batches.items():
                due = [r for r in records if r.offset < self._replay.targets[tp]]
                self._buffers[tp].extend(due)
                self._fetched[tp] = records[-1].offset + 1
            for tp in waiting:
                if tp not in batches:  # offsets without a record to return also count
                    self._fetched[tp] = max(self._fetched[tp], await self._reader.position(tp))
                if self._drained(tp):
                    self._reader.pause(tp)  # nothing more of it is wanted
            if not batches:
                return  # let the caller look at its stop signal

    def take(self, limit: int) -> list[ConsumerRecord]:
        """Up to `limit` records in publishing order, while that order is known."""
        taken: list[ConsumerRecord] = []
        while len(taken) < limit and not self._waiting():
            heads = [(b[0].timestamp, tp, b[0].offset) for tp, b in self._buffers.items() if b]
            if not heads:
                break
            _, tp, _ = min(heads)
            taken.append(self._buffers[tp].popleft())
        return taken


async def _replay(
    reader: AIOKafkaConsumer,
    loop: EventConsumer,
    replay: Replay,
    batch_size: int,
    stop: asyncio.Event,
) -> None:
    """Apply every record before the targets in publishing order (`_Merge`), `batch_size`
    per transaction, committing the rebuild group's offsets after each run; records at or
    past a target are left for later."""
    merge = _Merge(reader, replay)
    while not stop.is_set():
        await merge.fill()
        run = merge.take(batch_size)
        if not run:
            if merge.finished():
                break
            continue
        await loop.handle_many(run)
        done = {TopicPartition(r.topic, r.partition): r.offset + 1 for r in run}
        replay.positions.update(done)
        await reader.commit(done)
    if merge.finished() and (rest := {tp: replay.targets[tp] for tp in replay.open()}):
        replay.positions.update(rest)  # no record was left before these targets
        await reader.commit(rest)


async def _progress(
    replay: Replay, label: str, every: float, err: TextIO, stop: asyncio.Event
) -> None:
    """A line on stderr every `every` seconds: events replayed, their rate, what is left."""
    last_done, last_at = replay.done, time.monotonic()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        now, done = time.monotonic(), replay.done
        rate = (done - last_done) / max(now - last_at, 1e-9)
        share = 100 * done / replay.total if replay.total else 100
        print(
            f"{label}: {done:,} of {replay.total:,} events ({share:.0f}%), "
            f"{rate:,.0f} events/s, {replay.total - done:,} left",
            file=err,
            flush=True,
        )
        last_done, last_at = done, now


@dataclass
class Outcome:
    """What a replay did."""

    replayed: int = 0
    seconds: float = 0.0
    discarded: int = 0
    set_aside: list[str] = field(default_factory=list)
    interrupted: bool = False

    def lines(self, topics: tuple[str, ...], group: str) -> list[str]:
        rate = self.replayed / max(self.seconds, 1e-9)
        return [
            f"replayed        {self.replayed:,} events of {', '.join(topics)} in "
            f"{self.seconds:.1f} s ({rate:,.0f} events/s), up to the offsets consumer group "
            f"{group} committed",
            f"not published   {self.discarded:,} events the handlers emitted (the live service "
            "published them when it first applied these); nothing was sent",
            f"set aside       {len(self.set_aside)} events whose handler failed (not applied)",
            *(f"                {event}" for event in self.set_aside[:20]),
        ]


async def catch_up(
    settings: ServiceSettings,
    spec: ConsumerSpec,
    target: str,
    oid: int,
    *,
    batch_size: int,
    progress_seconds: float,
    err: TextIO,
) -> Outcome:
    """Replay the topics into `target` up to the live group's committed offsets."""
    group = f"{settings.consumer_group}.rebuild.{target}.{oid}"
    admin = make_admin(settings.kafka, group)
    reader = make_consumer(settings.kafka, group, max_poll_records=max(500, batch_size))
    await admin.start()
    await reader.start()
    stop, done = asyncio.Event(), asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    try:
        partitions = await _partitions(admin, settings.kafka_namespace.topics(spec.topics))
        live = await _committed(admin, settings.consumer_group, partitions)
        mine = await _committed(admin, group, partitions)
        first = await reader.beginning_offsets(partitions)
        for tp in partitions:
            if mine[tp] is None and first[tp] > 0 and (live[tp] or 0) > first[tp]:
                raise Refused(
                    f"{tp.topic} partition {tp.partition} begins at offset {first[tp]}: its "
                    "first events are gone (retention), so a replay cannot rebuild them; keep "
                    "the event topics longer (KAFKA_TOPIC_RETENTION_MS) on a system that rebuilds"
                )
        # A partition the rebuild never committed starts at its beginning; one the live
        # group never committed is not to be read (the live consumer has applied nothing).
        replay = Replay(
            positions={tp: _or(mine[tp], first[tp]) for tp in partitions},
            targets={tp: _or(live[tp], first[tp]) for tp in partitions},
        )
        reader.assign(partitions)
        set_aside, tally = SetAside(), [0]
        async with _target_pool(settings, target) as pool:
            loop = EventConsumer(
                name=settings.service_name,
                pool=pool,
                handlers={},
                run_handler=_discarding(spec.applier, target, tally),
                dlq_producer=set_aside,
                max_retries=settings.consumer_max_retries,
                retry_backoff_seconds=settings.consumer_retry_backoff_seconds,
                batch_size=batch_size,
            )
            label = f"{settings.service_name} rebuild into {target}"
            started = time.monotonic()
            progress = asyncio.create_task(_progress(replay, label, progress_seconds, err, done))
            try:
                await _replay(reader, loop, replay, batch_size, stop)
            finally:
                done.set()
                await progress
        return Outcome(
            replayed=replay.done,
            seconds=time.monotonic() - started,
            discarded=tally[0],
            set_aside=set_aside.events,
            interrupted=bool(replay.open()),
        )
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().remove_signal_handler(sig)
        with contextlib.suppress(Exception):
            await reader.stop()
        await admin.close()


@contextlib.asynccontextmanager
async def _target_pool(settings: ServiceSettings, target: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(settings.database_url, target, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()
