"""Transactional outbox: events are rows written in the caller's transaction.

`record` appends an event (assigning the subject's next sequence number) on the caller's
connection, inside the caller's transaction, and NOTIFYs the relay on commit. If the
transaction rolls back, the event never existed.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
from pydantic import BaseModel

from huikuan_events import Envelope, type_name
from huikuan_runtime.logs import traceparent_header

NOTIFY_PREFIX = "huikuan_outbox_"


def notify_channel(schema: str) -> str:
    return NOTIFY_PREFIX + schema


async def next_sequence(conn: asyncpg.Connection, tenant: str, subject: str) -> int:
    """The next per-subject sequence number; the row lock orders concurrent writers."""
    value: int = await conn.fetchval(
        """INSERT INTO event_sequence (tenant, subject, last_value) VALUES ($1, $2, 1)
           ON CONFLICT (tenant, subject)
           DO UPDATE SET last_value = event_sequence.last_value + 1
           RETURNING last_value""",
        tenant,
        subject,
    )
    return value


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
    if not conn.is_in_transaction():
        raise RuntimeError("outbox.record must run inside the caller's transaction")
    envelope = Envelope(
        source=source,
        type=type_name(payload),
        subject=subject,
        time=at,
        tenant=tenant,
        sequence=await next_sequence(conn, tenant, subject),
        data=payload.model_dump(mode="json"),
    )
    await conn.execute(
        """INSERT INTO outbox_event (event_id, topic, key, payload, headers)
           VALUES ($1, $2, $3, $4, $5)""",
        envelope.id,
        topic,
        envelope.partition_key,
        envelope.to_bytes(),
        {"traceparent": traceparent_header(), **(headers or {})},
    )
    await conn.execute("SELECT pg_notify($1 || current_schema(), '')", NOTIFY_PREFIX)
    return envelope
