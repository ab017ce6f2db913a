"""Transactional outbox: events are rows written in the caller's transaction.

`record` appends an event (assigning the subject's next sequence number) on the caller's
connection, inside the caller's transaction, and NOTIFYs the relay on commit. If the
transaction rolls back, the event never existed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

import asyncpg
from pydantic import BaseModel

from huikuan_events import Envelope, type_name, uuid7
from huikuan_runtime.logs import traceparent_header

NOTIFY_PREFIX = "huikuan_outbox_"


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
    [envelope] = await record_many(
        conn,
        topic=topic,
        source=source,
        tenant=tenant,
        events=[(subject, payload)],
        at=at,
        headers=headers,
    )
    return envelope


async def record_many(
    conn: asyncpg.Connection,
    *,
    topic: str,
    source: str,
    tenant: str,
    events: Sequence[tuple[str, BaseModel]],
    at: datetime | Sequence[datetime],
    headers: dict[str, str] | None = None,
) -> list[Envelope]:
    """Write many (subject, payload) events at once, in order; each subject's events get
    consecutive sequence numbers. Three statements, whatever the number of events. `at` is
    the time of every event, or one time per event."""
    if not conn.is_in_transaction():
        raise RuntimeError("the outbox must be written inside the caller's transaction")
    if not events:
        return []
    counts = Counter(subject for subject, _ in events)
    subjects = sorted(counts)  # one lock order for every writer: no deadlocks
    rows = await conn.fetch(
        """INSERT INTO event_sequence (tenant, subject, last_value)
           SELECT $1, s, n FROM unnest($2::text[], $3::bigint[]) AS x(s, n)
           ON CONFLICT (tenant, subject)
           DO UPDATE SET last_value = event_sequence.last_value + EXCLUDED.last_value
           RETURNING subject, last_value""",
        tenant,
        subjects,
        [counts[s] for s in subjects],
    )
    next_value = {r["subject"]: r["last_value"] - counts[r["subject"]] + 1 for r in rows}
    times = [at] * len(events) if isinstance(at, datetime) else list(at)
    if len(times) != len(events):
        raise ValueError("one time per event, or one for all")
    envelopes = []
    for (subject, payload), time in zip(events, times, strict=True):
        # Every value here is ours and already valid: skip re-validating each envelope.
        envelopes.append(
            Envelope.model_construct(
                id=uuid7(),
                source=source,
                type=type_name(payload),
                subject=subject,
                time=time,
                tenant=tenant,
                subjectseq=next_value[subject],
                data=payload.model_dump(mode="json"),
            )
        )
        next_value[subject] += 1
    await conn.execute(
        """INSERT INTO outbox_event (event_id, topic, key, payload, headers)
           SELECT i, $1, k, p, $5
           FROM unnest($2::uuid[], $3::bytea[], $4::bytea[]) AS x(i, k, p)""",
        topic,
        [e.id for e in envelopes],
        [e.partition_key for e in envelopes],
        [e.to_bytes() for e in envelopes],
        {"traceparent": traceparent_header(), **(headers or {})},
    )
    await conn.execute("SELECT pg_notify($1 || current_schema(), '')", NOTIFY_PREFIX)
    return envelopes
