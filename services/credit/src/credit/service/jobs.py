"""The periodic rescore: overdue days grow with time even when no event arrives."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from credit.service.derive import refresh
from credit.store import customers
from huikuan_runtime.clock import Clock, SystemClock
from huikuan_runtime.db import service_pool, unit_of_work
from huikuan_runtime.settings import ServiceSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Rescored:
    customers: int
    changed: int


async def rescore(pool: asyncpg.Pool, tenant: str, *, as_of: date, at: datetime) -> Rescored:
    """Re-derive every customer of the tenant as of `as_of` (a customer already scored as of
    a later date keeps that date: scores never move back in time). One unit of work per
    customer, so a long run holds no lock for long."""
    async with pool.acquire() as conn:
        ids = await customers.all_ids(conn, tenant)
    changed = 0
    for customer_id in ids:
        async with unit_of_work(pool) as conn:
            done = await refresh(conn, tenant, customer_id, as_of=as_of, at=at)
            changed += done.score_changed
    return Rescored(len(ids), changed)


INTERVAL_SECONDS = 3600.0


async def run_periodically(
    settings: ServiceSettings, *, clock: Clock | None = None, interval: float = INTERVAL_SECONDS
) -> None:
    """`python -m credit rescore`: rescore every tenant as of today (UTC) now, then every
    `interval` seconds, until SIGINT or SIGTERM. A failed run is retried next time."""
    clock = clock or SystemClock()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with service_pool(settings) as pool:
        while not stop.is_set():
            now = clock.now()
            try:
                async with pool.acquire() as conn:
                    tenants = await customers.tenants(conn)
                for tenant in tenants:
                    done = await rescore(pool, tenant, as_of=now.date(), at=now)
                    log.info("rescore", extra={"tenant": tenant, "customers": done.customers,
                                               "changed": done.changed})  # fmt: skip
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                log.exception("rescore failed; retrying at the next interval")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
