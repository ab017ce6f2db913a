"""The consumer applying a run of records in one transaction (`CREDIT_CONSUMER_BATCH_SIZE`)
derives exactly what it derives one record at a time, redelivery included; a run with a
failing record keeps nothing of itself and is applied record by record."""

from __future__ import annotations

import asyncpg
import pytest

from credit.events.handlers import HANDLERS
from huikuan_events import Envelope
from huikuan_runtime.consumer import EventConsumer, Handler

from .events import deliver, records, snapshot
from .test_projection import history_of_c1

pytestmark = pytest.mark.integration

WIPE = """TRUNCATE credit_fact, credit_state, credit_limit, credit_hold, score_history,
                   customer_profile, outbox_event, event_sequence, processed_event,
                   subject_cursor"""


async def _everything(pool: asyncpg.Pool) -> dict[str, object]:
    out = await snapshot(pool)
    async with pool.acquire() as conn:
        out["cursors"] = [dict(r) for r in await conn.fetch(
            """SELECT source, tenant, subject, last_sequence, gaps, out_of_order
               FROM subject_cursor ORDER BY source, tenant, subject""")]  # fmt: skip
        out["processed"] = sorted(r["event_id"] for r in await conn.fetch(
            "SELECT event_id FROM processed_event"))  # fmt: skip
    return out


def _batched(pool: asyncpg.Pool, handlers: dict[str, Handler], size: int) -> EventConsumer:
    return EventConsumer(
        name="credit", pool=pool, handlers=handlers, dlq_producer=None, batch_size=size,
        retry_backoff_seconds=0.01,
    )  # fmt: skip


async def _run(c: EventConsumer, events: list[Envelope], size: int) -> None:
    given = records(events)
    for start in range(0, len(given), size):
        await c.handle_many(given[start : start + size])


@pytest.mark.parametrize("size", [2, 5, 100])
async def test_runs_derive_what_single_events_derive(pool: asyncpg.Pool, size: int) -> None:
    events = history_of_c1()
    await deliver(_batched(pool, HANDLERS, 1), events)
    one_by_one = await _everything(pool)
    async with pool.acquire() as conn:
        await conn.execute(WIPE)
    # a redelivery inside a run and one of a whole earlier run: no effect
    redelivered = [*events[:3], events[1], *events[3:], *events[:4]]
    await _run(_batched(pool, HANDLERS, size), redelivered, size)
    assert await _everything(pool) == one_by_one


async def test_a_failing_record_makes_its_run_go_one_by_one(pool: asyncpg.Pool) -> None:
    events = history_of_c1()
    await deliver(_batched(pool, HANDLERS, 1), events)
    one_by_one = await _everything(pool)
    async with pool.acquire() as conn:
        await conn.execute(WIPE)

    failures: list[str] = []
    issued = HANDLERS["ledger.invoice_issued.v1"]

    async def flaky(conn: asyncpg.Connection, event: Envelope) -> None:
        await issued(conn, event)
        if event.data["invoice_id"] == "INV-3" and not failures:
            failures.append("INV-3")  # fails once, after writing: the write must not stay
            raise RuntimeError("a passing failure")

    handlers = {**HANDLERS, "ledger.invoice_issued.v1": flaky}
    await _run(_batched(pool, handlers, 100), events, 100)
    assert failures == ["INV-3"]
    assert await _everything(pool) == one_by_one
