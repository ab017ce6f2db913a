"""Idempotency keys on the real PostgreSQL: a key replays its response for its time to live
and then starts afresh, and a claim abandoned mid-request (the gateway stopped between
taking the key and storing the answer) is taken over once older than the claim timeout,
instead of answering 409 for ever (issue #13 item 5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from fastapi import Response

from gateway.service import idempotency
from gateway.store import idempotency as store
from huikuan_runtime.clock import FixedClock
from huikuan_runtime.problems import Conflict

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
LIFETIMES = idempotency.Lifetimes(ttl=timedelta(hours=24), claim_timeout=timedelta(minutes=2))


class Service:
    """What the gateway would forward to: counts the calls that really ran."""

    def __init__(self) -> None:
        self.calls = 0

    async def create(self) -> Response:
        self.calls += 1
        return Response(f'{{"n": {self.calls}}}'.encode(), 201, media_type="application/json")


async def _post(pool: asyncpg.Pool, clock: FixedClock, service: Service, body: str) -> Response:
    request_print = idempotency.fingerprint("POST", "/v1/invoices", {"body": body})
    return await idempotency.once(
        pool, clock, LIFETIMES, "acme", "key-1", request_print, service.create
    )


async def test_a_key_replays_for_its_time_to_live_then_starts_afresh(pool: asyncpg.Pool) -> None:
    clock, service = FixedClock(T0), Service()
    first = await _post(pool, clock, service, "a")
    assert (first.status_code, first.body, service.calls) == (201, b'{"n": 1}', 1)
    clock.advance(timedelta(hours=23, minutes=59))
    replayed = await _post(pool, clock, service, "a")
    assert (replayed.body, replayed.headers["Idempotent-Replayed"]) == (b'{"n": 1}', "true")
    with pytest.raises(idempotency.KeyReused):  # still its first request's key
        await _post(pool, clock, service, "b")
    assert service.calls == 1
    clock.advance(timedelta(minutes=2))  # past 24 hours since the first use
    fresh = await _post(pool, clock, service, "b")  # a new request, any body
    assert (fresh.body, "Idempotent-Replayed" in fresh.headers) == (b'{"n": 2}', False)
    again = await _post(pool, clock, service, "b")
    assert (again.body, again.headers["Idempotent-Replayed"]) == (b'{"n": 2}', "true")
    row = await pool.fetchrow("SELECT created_at, completed_at FROM idempotency_key")
    assert row is not None and row["created_at"] == row["completed_at"] == clock.now()


async def test_an_abandoned_claim_is_taken_over_after_the_claim_timeout(
    pool: asyncpg.Pool,
) -> None:
    clock, service = FixedClock(T0), Service()
    request_print = idempotency.fingerprint("POST", "/v1/invoices", {"body": "a"})
    async with pool.acquire() as conn:  # taken, then the gateway died: never completed
        assert await store.claim(
            conn,
            "acme",
            "key-1",
            request_print,
            T0,
            expired_before=T0 - LIFETIMES.ttl,
            abandoned_before=T0 - LIFETIMES.claim_timeout,
        )
    clock.advance(timedelta(minutes=1, seconds=59))  # it could still be running
    with pytest.raises(Conflict, match="still in progress"):
        await _post(pool, clock, service, "a")
    assert service.calls == 0
    clock.advance(timedelta(seconds=2))
    taken_over = await _post(pool, clock, service, "a")
    assert (taken_over.status_code, taken_over.body, service.calls) == (201, b'{"n": 1}', 1)
    replayed = await _post(pool, clock, service, "a")
    assert replayed.headers["Idempotent-Replayed"] == "true" and service.calls == 1
