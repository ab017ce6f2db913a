"""The periodic rescore: overdue days grow with time even when no event arrives."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from credit.service.derive import FactCache, Learnt, learn
from credit.store import customers
from huikuan_runtime.clock import Clock, SystemClock
from huikuan_runtime.db import unit_of_work
from huikuan_runtime.service import run_every
from huikuan_runtime.settings import ServiceSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Rescored:
    customers: int
    changed: int


async def rescore(
    pool: asyncpg.Pool, tenant: str, *, as_of: date, at: datetime, chunk: int = 500
) -> Rescored:
    """Re-derive every customer of the tenant as of `as_of` (a customer already scored as of
    a later date keeps that date: scores never move back in time). One unit of work per
    `chunk` customers, derived together (`derive.learn`), so a long run holds no lock for
    long."""
    async with pool.acquire() as conn:
        ids = await customers.all_ids(conn, tenant)
    cache = FactCache(0)  # each customer is read once: nothing worth keeping
    changed = 0
    for start in range(0, len(ids), chunk):
        run = [Learnt(tenant, c, None, None, as_of, at) for c in ids[start : start + chunk]]
        async with unit_of_work(pool) as conn:
            changed += await learn(conn, run, cache)
    return Rescored(len(ids), changed)


INTERVAL_SECONDS = 3600.0


async def run_periodically(
    settings: ServiceSettings, *, clock: Clock | None = None, interval: float = INTERVAL_SECONDS
) -> None:
    """`python -m credit rescore`: rescore every tenant as of today (UTC) now, then every
    `interval` seconds."""
    clock = clock or SystemClock()

    async def once(pool: asyncpg.Pool) -> None:
        now = clock.now()
        async with pool.acquire() as conn:
            tenants = await customers.tenants(conn)
        for tenant in tenants:
            done = await rescore(pool, tenant, as_of=now.date(), at=now)
            log.info(
                "rescore",
                extra={"tenant": tenant, "customers": done.customers, "changed": done.changed},
            )

    await run_every(settings, interval, once, "rescore")
