"""The worklist of open collector tasks; completing a task records its outcome and emits
`task_completed`."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import asyncpg

from huikuan_events.reminders import SOURCE, TaskCompleted
from huikuan_events.topics import REMINDERS_EVENTS
from huikuan_runtime import outbox
from huikuan_runtime.db import unit_of_work
from huikuan_runtime.problems import Conflict, NotFound
from reminders.store import dunning


async def worklist(
    pool: asyncpg.Pool, tenant: str, owner: str | None, on: date
) -> list[asyncpg.Record]:
    """Open tasks due by `on`: the owner's own and those escalated to the owner as manager
    (every owner's without one)."""
    async with pool.acquire() as conn:
        return await dunning.worklist(conn, tenant, owner, on)


async def complete_task(
    pool: asyncpg.Pool,
    tenant: str,
    task_id: UUID,
    outcome: str,
    note: str | None,
    on: date,
    at: datetime,
) -> asyncpg.Record:
    """`complete`, in a transaction of its own."""
    async with unit_of_work(pool) as conn:
        return await complete(conn, tenant, task_id, outcome, note, on, at)


async def complete(
    conn: asyncpg.Connection,
    tenant: str,
    task_id: UUID,
    outcome: str,
    note: str | None,
    on: date,
    at: datetime,
) -> asyncpg.Record:
    row = await dunning.task_for_update(conn, tenant, task_id)
    if row is None:
        raise NotFound(f"no task {task_id}")
    if row["status"] == "done":
        if row["outcome"] == outcome and row["note"] == note:
            return row
        raise Conflict(f"task {task_id} was already completed as {row['outcome']!r}")
    await dunning.complete_task(conn, task_id, outcome, note, on)
    await outbox.record(
        conn,
        topic=REMINDERS_EVENTS,
        source=SOURCE,
        tenant=tenant,
        subject=row["customer_id"],
        at=at,
        payload=TaskCompleted(
            task_id=str(task_id),
            customer_id=row["customer_id"],
            outcome=outcome,
            note=note,
            completed_on=on,
        ),
    )
    done = await dunning.task_for_update(conn, tenant, task_id)
    assert done is not None
    return done
