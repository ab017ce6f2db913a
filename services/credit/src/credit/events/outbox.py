"""Credit's events go to `credit.events.v1` through the outbox, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime

import asyncpg
from pydantic import BaseModel

from huikuan_events import Envelope
from huikuan_events.credit import SOURCE
from huikuan_events.topics import CREDIT_EVENTS
from huikuan_runtime import outbox


async def emit(
    conn: asyncpg.Connection, tenant: str, customer_id: str, payload: BaseModel, at: datetime
) -> Envelope:
    return await outbox.record(
        conn,
        topic=CREDIT_EVENTS,
        source=SOURCE,
        tenant=tenant,
        subject=customer_id,
        payload=payload,
        at=at,
    )


async def emit_all(
    conn: asyncpg.Connection,
    tenant: str,
    events: list[tuple[str, BaseModel]],
    at: list[datetime],
) -> int:
    """(customer id, payload) events, in order, each at its own time: three statements.
    Returns how many were written."""
    return await outbox.record_many(
        conn, topic=CREDIT_EVENTS, source=SOURCE, tenant=tenant, events=events, at=at
    )
