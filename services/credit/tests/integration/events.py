"""Envelopes of ledger and reminders events for driving credit's handlers, and a snapshot of
everything credit derived from them."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time
from typing import Any

import asyncpg
from aiokafka import ConsumerRecord
from pydantic import BaseModel

from credit.events.handlers import run_handler
from credit.service.derive import FactCache
from huikuan_events import Envelope, type_name
from huikuan_runtime.consumer import Applied, EventConsumer

_seq = itertools.count(1)


def envelope(payload: BaseModel, on: date, *, tenant: str = "t1", sequence: int = 0) -> Envelope:
    """An event as the producer would publish it, at noon UTC of `on`."""
    source = "huikuan/" + type_name(payload).split(".")[0]
    return Envelope(
        source=source,
        type=type_name(payload),
        subject=payload.model_dump()["customer_id"],
        time=datetime.combine(on, time(12), UTC),
        tenant=tenant,
        subjectseq=sequence or next(_seq),
        data=payload.model_dump(mode="json"),
    )


def consumer(
    pool: asyncpg.Pool, *, batch_size: int = 1, cache: FactCache | None = None
) -> EventConsumer:
    """Credit's consumer loop (no Kafka), with a fact cache of its own unless given one."""
    return EventConsumer(
        name="credit",
        pool=pool,
        handlers={},
        dlq_producer=None,
        batch_size=batch_size,
        retry_backoff_seconds=0.01,
        run_handler=run_handler(cache or FactCache(1_000_000)),
    )


def records(events: list[Envelope]) -> list[ConsumerRecord[bytes, bytes]]:
    """The events as Kafka would hand them over, at offsets 0, 1, ..."""
    return [
        ConsumerRecord(
            topic="ledger.events.v1",
            partition=0,
            offset=offset,
            timestamp=0,
            timestamp_type=0,
            key=None,
            value=e.to_bytes(),
            checksum=None,
            serialized_key_size=0,
            serialized_value_size=0,
            headers=(),
        )
        for offset, e in enumerate(events)
    ]


async def deliver(c: EventConsumer, events: list[Envelope]) -> list[Applied]:
    return [await c.apply(e, record) for e, record in zip(events, records(events), strict=True)]


async def snapshot(pool: asyncpg.Pool, *, history: bool = True) -> dict[str, Any]:
    """Every derived row (and the events credit produced), in a stable order."""
    queries = {
        "facts": "SELECT * FROM credit_fact ORDER BY tenant, event_id",
        "state": "SELECT * FROM credit_state ORDER BY tenant, customer_id",
        "limits": "SELECT * FROM credit_limit ORDER BY tenant, customer_id, currency",
        "holds": "SELECT * FROM credit_hold ORDER BY tenant, customer_id, cause",
        "profiles": "SELECT * FROM customer_profile ORDER BY tenant, customer_id",
    }
    if history:
        queries["history"] = """SELECT as_of, old_score, new_score, old_grade, new_grade,
                                       reasons::text, changed_at
                                FROM score_history ORDER BY position"""
    async with pool.acquire() as conn:
        out: dict[str, Any] = {
            k: [dict(r) for r in await conn.fetch(q)] for k, q in queries.items()
        }
        for state in out["state"]:  # names which fact rows exist; those are compared above
            del state["facts_digest"]
        if history:
            rows = await conn.fetch("SELECT payload FROM outbox_event ORDER BY position")
            out["produced"] = [
                (e.type, e.subject, e.subjectseq, e.data)
                for e in (Envelope.from_bytes(r["payload"]) for r in rows)
            ]
    return out


async def produced(pool: asyncpg.Pool, kind: str) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT payload FROM outbox_event ORDER BY position")
    return [e.data for e in (Envelope.from_bytes(r["payload"]) for r in rows) if e.type == kind]
