"""The consumer applying a run of records in one transaction (`CREDIT_CONSUMER_BATCH_SIZE`)
derives exactly what it derives one record at a time, redelivery included; a run with a
failing record keeps nothing of itself (not even in the fact cache) and is applied record
by record; facts kept in memory are never used once another consumer added to them."""

from __future__ import annotations

import asyncpg
import pytest

from credit.events.handlers import run_handler
from credit.service.derive import FactCache
from huikuan_events import Envelope
from huikuan_runtime.consumer import EventConsumer

from .events import consumer, deliver, records, snapshot
from .test_projection import history_of_c1

pytestmark = pytest.mark.integration

WIPE = """TRUNCATE credit_fact, credit_state, credit_limit, credit_hold, score_history,
                   customer_profile, outbox_event, event_sequence, processed_event,
                   subject_cursor"""


async def _everything(pool: asyncpg.Pool) -> dict[str, object]:
    out = await snapshot(pool)
    async with pool.acquire() as conn:
        out["cursors"] = [
            dict(r)
            for r in await conn.fetch(
                """SELECT source, tenant, subject, last_sequence, gaps, out_of_order
               FROM subject_cursor ORDER BY source, tenant, subject"""
            )
        ]
        out["processed"] = sorted(
            r["event_id"] for r in await conn.fetch("SELECT event_id FROM processed_event")
        )
    return out


async def _one_by_one(pool: asyncpg.Pool, events: list[Envelope]) -> dict[str, object]:
    """What one event per transaction derives; the tables are emptied again afterwards."""
    await deliver(consumer(pool), events)
    out = await _everything(pool)
    async with pool.acquire() as conn:
        await conn.execute(WIPE)
    return out


async def _run(c: EventConsumer, events: list[Envelope], size: int) -> None:
    given = records(events)
    for start in range(0, len(given), size):
        await c.handle_many(given[start : start + size])


@pytest.mark.parametrize("size", [2, 5, 100])
async def test_runs_derive_what_single_events_derive(pool: asyncpg.Pool, size: int) -> None:
    events = history_of_c1()
    one_by_one = await _one_by_one(pool, events)
    # a redelivery inside a run and one of a whole earlier run: no effect
    redelivered = [*events[:3], events[1], *events[3:], *events[:4]]
    await _run(consumer(pool, batch_size=size), redelivered, size)
    assert await _everything(pool) == one_by_one


async def test_a_failing_record_makes_its_run_go_one_by_one(pool: asyncpg.Pool) -> None:
    events = history_of_c1()
    one_by_one = await _one_by_one(pool, events)

    failures: list[str] = []
    real = run_handler(FactCache(1_000_000))

    async def flaky(conn: asyncpg.Connection, run: list[Envelope]) -> None:
        await real(conn, run)
        if any(e.data.get("invoice_id") == "INV-3" for e in run) and not failures:
            failures.append("INV-3")  # fails once, after writing: the write must not stay
            raise RuntimeError("a passing failure")

    batched = EventConsumer(
        name="credit",
        pool=pool,
        handlers={},
        dlq_producer=None,
        batch_size=100,
        retry_backoff_seconds=0.01,
        run_handler=flaky,
    )
    await _run(batched, events, 100)
    assert failures == ["INV-3"]
    assert await _everything(pool) == one_by_one


async def test_facts_in_memory_give_way_to_what_another_consumer_added(
    pool: asyncpg.Pool,
) -> None:
    events = history_of_c1()
    one_by_one = await _one_by_one(pool, events)
    # two replicas taking turns over the same customer (a rebalance back and forth), and
    # one that can keep only two facts in memory
    a, b = consumer(pool, batch_size=3), consumer(pool, batch_size=3)
    small = consumer(pool, batch_size=3, cache=FactCache(2))
    given = records(events)
    for n, start in enumerate(range(0, len(given), 3)):
        await (a, b, small)[n % 3].handle_many(given[start : start + 3])
    assert await _everything(pool) == one_by_one
