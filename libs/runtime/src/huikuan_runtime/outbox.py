"""Transactional outbox: events are rows written in the caller's transaction.

`record` appends an event (assigning the subject's next sequence number) on the caller's
connection, inside the caller's transaction, and NOTIFYs the relay on commit. If the
transaction rolls back, the event never existed. `record_many` does the same for many
events in three statements; besides (subject, payload) pairs, each built into an `Envelope`,
it takes blocks of events by the thousand as `huikuan_events.bulk.Columns`: checked and
serialised by the same models' schemas in bulk, to the same bytes, with no instance each.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import datetime

import asyncpg
from pydantic import BaseModel

from huikuan_events import Envelope, bulk, type_name, uuid7_texts
from huikuan_events.envelope import partition_key
from huikuan_runtime import db
from huikuan_runtime.logs import traceparent_header

NOTIFY_PREFIX = "huikuan_outbox_"

# What `record_many` takes: one event as (subject, payload), or a block of many.
Events = Sequence[tuple[str, BaseModel] | bulk.Columns]

# From this many events on, the rows go in by COPY: less work on both sides (asyncpg checks
# every element of a query's arrays) but one more round trip, which only pays off for many.
_COPY_AT = 100

# A block's envelopes are checked and serialised per slice of this many: what is built for
# them stays small whatever the number of events, and COPY takes in one slice while the next
# is built.
_SLICE = 1000


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector over code that allocates many short-lived,
    acyclic containers and never awaits (nothing else runs meanwhile): reference counting
    frees them all the same. Without the pause, every few hundred allocations the collector
    scans what is still being built, promotes it, and soon rescans the whole heap: in a
    dunning run of half a million events that was half the Python time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def notify_channel(schema: str) -> str:
    return NOTIFY_PREFIX + schema


async def record(
    conn: asyncpg.Connection,
    *,
    topic: str,
    source: str,
    tenant: str,
    subject: str,
    payload: BaseModel,
    at: datetime,
    headers: dict[str, str] | None = None,
) -> Envelope:
    """Write `payload` as an event to the outbox inside the caller's open transaction."""
    _, [envelope] = await _write(conn, topic, source, tenant, [(subject, payload)], at, headers)
    return envelope


async def record_many(
    conn: asyncpg.Connection,
    *,
    topic: str,
    source: str,
    tenant: str,
    events: Events,
    at: datetime | Sequence[datetime],
    headers: dict[str, str] | None = None,
) -> int:
    """Write many events at once, in order: (subject, payload) pairs and `Columns` blocks
    of many; each subject's events get consecutive sequence numbers. Three statements,
    whatever the number of events. `at` is the time of every event, or one time per event.
    Returns how many were written."""
    written, _ = await _write(conn, topic, source, tenant, events, at, headers)
    return written


async def _write(
    conn: asyncpg.Connection,
    topic: str,
    source: str,
    tenant: str,
    events: Events,
    at: datetime | Sequence[datetime],
    headers: dict[str, str] | None,
) -> tuple[int, list[Envelope]]:
    """How many events were written, and the envelopes of those given one by one."""
    if not conn.is_in_transaction():
        raise RuntimeError("the outbox must be written inside the caller's transaction")
    subjects: list[str] = []
    for item in events:
        if isinstance(item, bulk.Columns):
            subjects.extend(item.subjects)
        else:
            subjects.append(item[0])
    if not subjects:
        return 0, []
    times = [at] * len(subjects) if isinstance(at, datetime) else list(at)
    if len(times) != len(subjects):
        raise ValueError("one time per event, or one for all")
    counts = Counter(subjects)
    ordered = sorted(counts)  # one lock order for every writer: no deadlocks
    rows = await conn.fetch(
        """INSERT INTO event_sequence (tenant, subject, last_value)
           SELECT $1, s, n FROM unnest($2::text[], $3::bigint[]) AS x(s, n)
           ON CONFLICT (tenant, subject)
           DO UPDATE SET last_value = event_sequence.last_value + EXCLUDED.last_value
           RETURNING subject, last_value""",
        tenant,
        ordered,
        [counts[s] for s in ordered],
    )
    next_value = {r["subject"]: r["last_value"] - counts[r["subject"]] + 1 for r in rows}
    sequences = []
    for subject in subjects:
        sequences.append(next_value[subject])
        next_value[subject] += 1
    ids = uuid7_texts(len(subjects))  # text: a parameter and JSON; no UUID object each

    def single(n: int, payload: BaseModel) -> Envelope:
        return Envelope(
            id=ids[n],
            source=source,
            type=type_name(payload),
            subject=subjects[n],
            time=times[n],
            tenant=tenant,
            subjectseq=sequences[n],
            data=payload.model_dump(mode="json"),
        )

    def block(item: bulk.Columns, n: int, start: int, stop: int) -> list[bytes]:
        """Events `start` to `stop` of a block that begins at position `n`."""
        a, b = n + start, n + stop
        return bulk.envelope_bytes(
            item.model,
            {"source": source, "type": type_name(item.model), "tenant": tenant},
            {
                "id": ids[a:b],
                "subject": subjects[a:b],
                "time": times[a:b],
                "subjectseq": sequences[a:b],
            },
            {name: values[start:stop] for name, values in item.values.items()},
        )

    singles: list[Envelope] = []

    def slices() -> Iterator[list[bytes]]:
        """The events' envelopes, as bytes, a slice at a time; those given one by one are
        also kept as models in `singles`."""
        n = 0
        for item in events:
            if isinstance(item, bulk.Columns):
                for start in range(0, len(item.subjects), _SLICE):
                    stop = min(start + _SLICE, len(item.subjects))
                    with _collector_paused():
                        made = block(item, n, start, stop)
                    yield made
                n += len(item.subjects)
            else:
                singles.append(single(n, item[1]))
                yield [singles[-1].to_bytes()]
                n += 1

    key = {subject: partition_key(tenant, subject) for subject in counts}
    keys = [key[subject] for subject in subjects]
    trace = db.jsonb({"traceparent": traceparent_header(), **(headers or {})})
    if len(subjects) < _COPY_AT:
        await conn.execute(
            """INSERT INTO outbox_event (event_id, topic, key, payload, headers)
               SELECT i, $1, k, p, $5
               FROM unnest($2::uuid[], $3::bytea[], $4::bytea[]) AS x(i, k, p)""",
            topic,
            ids,
            keys,
            [payload for made in slices() for payload in made],
            trace,
        )
    else:

        async def rows() -> AsyncIterator[tuple[str, str, bytes, bytes, bytes]]:
            # Each slice is built while PostgreSQL takes in the one before; between slices
            # the event loop serves the rest of the process (another chunk, requests).
            n = 0
            for made in slices():
                for k, payload in enumerate(made, n):
                    yield ids[k], topic, keys[k], payload, trace
                n += len(made)
                if len(made) > 1:  # a slice of a block, not one event
                    await asyncio.sleep(0)

        await conn.copy_records_to_table(
            "outbox_event",
            columns=["event_id", "topic", "key", "payload", "headers"],
            records=rows(),
        )
    await conn.execute("SELECT pg_notify($1 || current_schema(), '')", NOTIFY_PREFIX)
    return len(subjects), singles
