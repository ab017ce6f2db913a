"""Rebuilding a service's projection from the topics: `python -m <service> rebuild`.

A *projection* is what a service keeps of other services' events (credit's risk book of
ledger and reminders events, reminders' dunning book of ledger and credit events). Those
tables can be thrown away and rebuilt: the events are on the topics. The records a service
originates itself (a manual limit, a promise to pay, a reminder sent) are not on any topic
it reads; a rebuild carries them over from the live schema instead. Each service declares
which is which (`Projection`); a table it has not classified stops the rebuild.

The procedure, in two steps (docs/operations.md):

1. `python -m <service> rebuild [--into SCHEMA]`, while the service runs. Creates the schema
   (default `<schema>_rebuild`) and migrates it, copies the own records the projection is
   derived under (`Projection.inputs`: credit's hold policies, manual limits and holds,
   approved orders), and replays the service's topics from offset 0 into it with the
   service's own handlers, in the order the events were published (`_Merge`), up to the
   offsets the live consumer group has committed at the start. It reads them with a
   consumer group of its own (`<group>.rebuild.<schema>.<oid>`, partitions assigned, never
   the live group, whose offsets do not move), so running it again continues where it
   stopped. Progress (events/s, events left) goes to stderr, a
   summary to stdout.
2. Stop every process of the service, then `python -m <service> rebuild --switch`. It
   refuses while the live group has members or the live schema has connections of the
   service, replays up to where the stopped group committed, then in one transaction copies
   the service's own records (`Projection.inputs` and `Projection.carried`, the event
   sequences and any unpublished outbox rows) from the live schema and renames the live
   schema to `<schema>_retired_<UTC time>` and the rebuilt one to `<schema>`. Started
   again, the service's consumer resumes at the offsets its group committed: the rebuilt
   schema holds exactly the events before them.

A replay must not tell anyone anything again: the events the handlers emit (credit's score
changes, reminders' kept promises) were published by the live service when it first applied
them, so the outbox rows a replay writes are deleted in the transaction that wrote them, and
an event that keeps failing is set aside in the report, not sent to the dead-letter topic.
Nothing is published, no message or webhook is sent, and the live schema is only read until
the switch.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources.abc import Traversable
from typing import TextIO

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from huikuan_events import Envelope
from huikuan_runtime.consumer import ConsumerSpec, EventConsumer, RunHandler
from huikuan_runtime.db import create_pool
from huikuan_runtime.kafka import make_admin, make_consumer
from huikuan_runtime.migrations import migrate, plan
from huikuan_runtime.settings import ServiceSettings

_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_MAX_NAME = 63  # PostgreSQL's identifier length


class Refused(Exception):
    """The rebuild cannot start or switch as things are; the message says why."""


def _check_name(name: str) -> str:
    if not _NAME.fullmatch(name) or len(name) > _MAX_NAME:
        raise Refused(f"{name!r} is not a plain lower-case identifier")
    return name


@dataclass(frozen=True, slots=True)
class Carried:
    """Records a service originates itself, copied from the live schema, never replayed.

    The whole `table` by default. `rows`: only the rows this condition selects are the
    service's own (the others are projection, e.g. credit's manual holds beside the
    automatic ones); they replace the same rows of the rebuilt table. `columns` with `key`:
    only these columns are the service's own, on rows the projection writes too (a manual
    limit beside the recommended one); they are written onto the rebuilt rows by `key`
    (of the live rows `rows` selects, when given), rows the projection has none of are
    added."""

    table: str
    rows: str | None = None
    columns: tuple[str, ...] = ()
    key: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if bool(self.columns) != bool(self.key):
            raise ValueError(f"{self.table}: carried columns need the key they are matched by")
        for name in (self.table, *self.columns, *self.key):
            _check_name(name)

    @property
    def label(self) -> str:
        part = f" ({', '.join(self.columns)})" if self.columns else ""
        return f"{self.table}{part}" + (f" where {self.rows}" if self.rows else "")


@dataclass(frozen=True)
class Projection:
    """A service's tables, classified for a rebuild.

    `tables`: rebuilt by replaying the topics (a table in `carried` too is partly the
    service's own). `inputs`: own records the handlers read while they derive the
    projection; copied before the replay (so it is derived under them) and again at the
    switch. `carried`: own records the handlers would change if they were there (a promise
    that payments count toward); copied only at the switch, after the replay."""

    tables: tuple[str, ...]
    inputs: tuple[Carried, ...] = ()
    carried: tuple[Carried, ...] = ()

    def classified(self) -> set[str]:
        own = {c.table for c in (*self.inputs, *self.carried, *RUNTIME_CARRIED)}
        return {*self.tables, *RUNTIME_REBUILT, *own, "schema_migration"}


# The runtime's tables in every schema: the consumer's bookkeeping is rebuilt with the
# projection; the producer's sequence numbers and its events not yet published are the
# service's own (what it published is history: it stays in the retired schema).
RUNTIME_REBUILT = ("processed_event", "subject_cursor")
RUNTIME_CARRIED = (
    Carried("event_sequence"),
    Carried("outbox_event", rows="published_at IS NULL"),
)


def rebuild_mark(live: str) -> str:
    """The comment on a schema a rebuild of `live` created: only such a schema is written
    into, and only such a one is switched in."""
    return f"huikuan: rebuild of {live}"


# --- the database ---------------------------------------------------------------------


async def _schema_oid(conn: asyncpg.Connection, name: str) -> int | None:
    oid: int | None = await conn.fetchval("SELECT oid FROM pg_namespace WHERE nspname = $1", name)
    return oid


async def prepare_schema(
    conn: asyncpg.Connection, live: str, target: str, migrations: Traversable
) -> int:
    """Create `target` for a rebuild of `live` (or take up one a rebuild created) and migrate
    it; its oid, which names the rebuild's consumer group."""
    oid = await _schema_oid(conn, target)
    if oid is None:
        await conn.execute(f"CREATE SCHEMA {target}")
        await conn.execute(f"COMMENT ON SCHEMA {target} IS '{rebuild_mark(live)}'")
    else:
        comment = await conn.fetchval("SELECT obj_description($1::oid, 'pg_namespace')", oid)
        if comment != rebuild_mark(live):
            raise Refused(
                f"schema {target} exists and is not a rebuild of {live} (a rebuild marks the "
                f"schemas it creates); name another one with --into"
            )
    await migrate(conn, target, plan(migrations))
    created = await _schema_oid(conn, target)
    assert created is not None
    return created


async def _tables(conn: asyncpg.Connection, schema: str) -> set[str]:
    rows = await conn.fetch(
        """SELECT table_name FROM information_schema.tables
           WHERE table_schema = $1 AND table_type = 'BASE TABLE'""",
        schema,
    )
    return {r["table_name"] for r in rows}


async def check_classified(conn: asyncpg.Connection, schema: str, projection: Projection) -> None:
    """Every table of the migrated `schema` is a projection or the service's own, and every
    table the declaration names exists: a new migration's table must be classified first."""
    found = await _tables(conn, schema)
    if unclassified := sorted(found - projection.classified()):
        raise Refused(
            f"tables neither rebuilt nor carried over: {', '.join(unclassified)}; classify "
            "them in the service's Projection before rebuilding"
        )
    if missing := sorted(projection.classified() - found):
        raise Refused(f"the service's Projection names tables it does not have: {missing}")


async def _columns(conn: asyncpg.Connection, schema: str, table: str) -> list[str]:
    """The columns a copy writes: all but generated ones, in table order."""
    rows = await conn.fetch(
        """SELECT a.attname FROM pg_attribute a
           JOIN pg_class c ON c.oid = a.attrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
             AND a.attgenerated = ''
           ORDER BY a.attnum""",
        schema,
        table,
    )
    return [r["attname"] for r in rows]


async def _sequences(conn: asyncpg.Connection, schema: str, table: str) -> dict[str, str]:
    """column -> the sequence that numbers it (serial and identity columns)."""
    found: dict[str, str] = {}
    for column in await _columns(conn, schema, table):
        sequence = await conn.fetchval(
            "SELECT pg_get_serial_sequence($1, $2)", f"{schema}.{table}", column
        )
        if sequence is not None:
            found[column] = sequence
    return found


async def _identity_always(conn: asyncpg.Connection, schema: str, table: str) -> bool:
    found: bool = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM pg_attribute a
                          JOIN pg_class c ON c.oid = a.attrelid
                          JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE n.nspname = $1 AND c.relname = $2 AND a.attidentity = 'a')""",
        schema,
        table,
    )
    return found


async def carry(
    conn: asyncpg.Connection, live: str, target: str, items: Iterable[Carried]
) -> dict[str, int]:
    """Copy the service's own records from `live` into `target` (in the caller's
    transaction); rows written per item. Rows are removed children first (the reverse of
    the declared order) and written parents first; sequences continue where the live
    schema's stand."""
    todo = list(items)
    for item in reversed(todo):
        if not item.columns:
            where = f" WHERE {item.rows}" if item.rows else ""
            await conn.execute(f"DELETE FROM {target}.{item.table}{where}")
    written: dict[str, int] = {}
    for item in todo:
        copy = _carry_columns if item.columns else _carry_rows
        written[item.label] = await copy(conn, live, target, item)
    return written


async def _carry_rows(conn: asyncpg.Connection, live: str, target: str, item: Carried) -> int:
    """The live rows (those `item.rows` selects) inserted whole, identities and all, and
    the sequences numbering them set to where the live ones stand. Rows written."""
    t, where = item.table, f" WHERE {item.rows}" if item.rows else ""
    names = ", ".join(await _columns(conn, target, t))
    overriding = " OVERRIDING SYSTEM VALUE" if await _identity_always(conn, target, t) else ""
    status = await conn.execute(
        f"INSERT INTO {target}.{t} ({names}){overriding} SELECT {names} FROM {live}.{t}{where}"
    )
    for column, sequence in (await _sequences(conn, target, t)).items():
        live_sequence = await conn.fetchval(
            "SELECT pg_get_serial_sequence($1, $2)", f"{live}.{t}", column
        )
        await conn.execute(
            f"SELECT setval($1::regclass, last_value, is_called) FROM {live_sequence}", sequence
        )
    return _rows_of(status)


async def _carry_columns(conn: asyncpg.Connection, live: str, target: str, item: Carried) -> int:
    """`item.columns` of the live rows (those `item.rows` selects) written onto the rebuilt
    rows with the same key, and the live rows the rebuilt table has no row for added with
    just those columns (an upsert cannot do it: PostgreSQL checks the new row's NOT NULL
    columns before it looks for the conflict). Rows written."""
    t, where = item.table, f" WHERE {item.rows}" if item.rows else ""
    source = f"(SELECT * FROM {live}.{t}{where}) AS l"
    same = " AND ".join(f"f.{k} = l.{k}" for k in item.key)
    updated = await conn.execute(
        f"UPDATE {target}.{t} AS f SET {', '.join(f'{c} = l.{c}' for c in item.columns)} "
        f"FROM {source} WHERE {same}"
    )
    names = ", ".join((*item.key, *item.columns))
    added = await conn.execute(
        f"INSERT INTO {target}.{t} ({names}) SELECT {names} FROM {source} "
        f"WHERE NOT EXISTS (SELECT 1 FROM {target}.{t} AS f WHERE {same})"
    )
    return _rows_of(updated) + _rows_of(added)


def _rows_of(status: str) -> int:
    """The row count of a command status (`UPDATE 3`, `INSERT 0 3`)."""
    return int(status.rsplit(" ", 1)[-1])


async def _row_counts(
    conn: asyncpg.Connection, schema: str, tables: Iterable[str]
) -> dict[str, int]:
    counts = {}
    for table in sorted(set(tables)):
        counts[table] = await conn.fetchval(f"SELECT count(*) FROM {schema}.{table}")
    return counts


async def _migrations(conn: asyncpg.Connection, schema: str) -> set[tuple[str, int, str]]:
    rows = await conn.fetch(f"SELECT source, version, checksum FROM {schema}.schema_migration")
    return {(r["source"], r["version"], r["checksum"]) for r in rows}


async def _live_connections(conn: asyncpg.Connection, live: str) -> list[str]:
    """Other sessions of the service's processes (their pools name themselves after the
    schema); behind a pooler in transaction mode only those busy at the moment show."""
    rows = await conn.fetch(
        """SELECT pid, coalesce(client_addr::text, 'local') AS client FROM pg_stat_activity
           WHERE datname = current_database() AND application_name = $1
             AND pid <> pg_backend_pid()""",
        live,
    )
    return [f"pid {r['pid']} from {r['client']}" for r in rows]


# --- Kafka -----------------------------------------------------------------------------


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


async def _members(admin: AIOKafkaAdminClient, group: str) -> int:
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


async def _catch_up(
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
        partitions = await _partitions(admin, spec.topics)
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


# --- the command -----------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    target: str | None = None  # default: `<schema>_rebuild`
    switch: bool = False
    batch_size: int | None = None  # default: the consumer's, at least 200
    progress_seconds: float = 2.0


async def run(
    settings: ServiceSettings,
    spec: ConsumerSpec,
    projection: Projection,
    migrations: Traversable,
    options: Options,
    *,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """The `rebuild` mode; its exit status (0 done, 1 interrupted, 2 refused)."""
    try:
        return await _run(settings, spec, projection, migrations, options, out, err)
    except Refused as exc:
        print(f"{settings.service_name} rebuild refused: {exc}", file=err, flush=True)
        return 2


async def _run(
    settings: ServiceSettings,
    spec: ConsumerSpec,
    projection: Projection,
    migrations: Traversable,
    options: Options,
    out: TextIO,
    err: TextIO,
) -> int:
    service, live = settings.service_name, _check_name(settings.db_schema)
    target = _check_name(options.target or f"{live}_rebuild")
    if target == live:
        raise Refused(f"the rebuild cannot go into the live schema {live}")
    if spec.admit is not None:  # what it passes over depends on the state it reads now
        raise Refused("a consumer with an `admit` hook cannot be replayed into a projection")
    conn = await asyncpg.connect(settings.database_url)
    try:
        oid, inputs = await _prepare(conn, settings, projection, migrations, target, options)
    finally:
        await conn.close()
    outcome = await _catch_up(
        settings,
        spec,
        target,
        oid,
        batch_size=options.batch_size or max(spec.batch_size, 200),
        progress_seconds=options.progress_seconds,
        err=err,
    )
    lines = outcome.lines(spec.topics, settings.consumer_group)
    if outcome.interrupted:
        _summary(out, f"{service}: rebuild into {target} interrupted; run it again", lines)
        return 1
    conn = await asyncpg.connect(settings.database_url)
    try:
        counts = await _row_counts(conn, target, (*projection.tables, *RUNTIME_REBUILT))
        lines.append("rebuilt         " + _written(counts))
        if not options.switch:
            lines += [
                "copied          " + _written(inputs) + f" (the service's own, from {live})"
                if projection.inputs
                else "own records     carried over at the switch, not now (the replay would "
                "apply events to them a second time)",
                f"next            run this again to catch up; to switch, stop every {service} "
                f"process and run `python -m {service} rebuild --into {target} --switch`",
            ]
            _summary(out, f"{service}: rebuilt into schema {target} (not live)", lines)
            return 0
        retired, own = await _switch(conn, settings, projection, target)
    finally:
        await conn.close()
    lines += [
        "copied          " + _written(own) + f" (the service's own, from {live})",
        f"retired         the old schema is {retired}: rename it back to undo, drop it "
        f"(DROP SCHEMA {retired} CASCADE) once the service is checked",
        f"next            start {service}'s processes; its consumer group resumes where it stopped",
    ]
    _summary(out, f"{service}: switched; schema {live} is the rebuilt one", lines)
    return 0


async def _prepare(
    conn: asyncpg.Connection,
    settings: ServiceSettings,
    projection: Projection,
    migrations: Traversable,
    target: str,
    options: Options,
) -> tuple[int, dict[str, int]]:
    """The target schema, created or taken up, migrated and checked, with the service's
    inputs copied in: its oid and what was copied. A switch is refused before anything is
    written while the service runs."""
    live = settings.db_schema
    if await _schema_oid(conn, live) is None:
        raise Refused(f"the live schema {live} does not exist (run `migrate` first)")
    if options.switch:
        await _service_stopped(settings, conn, live)
    oid = await prepare_schema(conn, live, target, migrations)
    await check_classified(conn, target, projection)
    if options.switch and await _migrations(conn, live) != await _migrations(conn, target):
        raise Refused(
            f"{live} and {target} are not at the same migrations: run "
            f"`python -m {settings.service_name} migrate`, then the rebuild again"
        )
    async with conn.transaction():
        inputs = await carry(conn, live, target, projection.inputs)
    return oid, inputs


async def _switch(
    conn: asyncpg.Connection, settings: ServiceSettings, projection: Projection, target: str
) -> tuple[str, dict[str, int]]:
    """In one transaction: the service's own records copied into `target`, the live schema
    renamed out of the way and `target` renamed into its place. The retired schema's name
    and what was copied."""
    live = settings.db_schema
    await _service_stopped(settings, conn, live)  # nobody started it during the catch-up
    retired = f"{live}_retired_{datetime.now(UTC):%Y%m%d%H%M%S}"[:_MAX_NAME]
    async with conn.transaction():
        own = await carry(
            conn, live, target, (*projection.inputs, *projection.carried, *RUNTIME_CARRIED)
        )
        await conn.execute(f"ALTER SCHEMA {live} RENAME TO {retired}")
        await conn.execute(f"ALTER SCHEMA {target} RENAME TO {live}")
        await conn.execute(f"COMMENT ON SCHEMA {live} IS NULL")
        await conn.execute(f"COMMENT ON SCHEMA {retired} IS 'huikuan: {live} before a rebuild'")
    return retired, own


async def _service_stopped(settings: ServiceSettings, conn: asyncpg.Connection, live: str) -> None:
    """Refuse the switch while the service runs: its group has members, or its processes
    are connected."""
    admin = make_admin(settings.kafka, f"{settings.consumer_group}.rebuild")
    await admin.start()
    try:
        members = await _members(admin, settings.consumer_group)
    finally:
        await admin.close()
    if members:
        raise Refused(
            f"consumer group {settings.consumer_group} has {members} member(s): stop every "
            f"`python -m {settings.service_name} consume` first"
        )
    if sessions := await _live_connections(conn, live):
        raise Refused(
            f"processes of {settings.service_name} are connected ({', '.join(sessions[:5])}): "
            "stop every one of its processes (api, relay, consume and the periodic ones) first"
        )


def _written(counts: dict[str, int]) -> str:
    return " · ".join(f"{label} {n:,}" for label, n in counts.items()) or "nothing"


def _summary(out: TextIO, head: str, lines: list[str]) -> None:
    print(head, *(f"  {line}" for line in lines), sep="\n", file=out, flush=True)
