"""The webhook dispatcher (`python -m gateway dispatch`): delivers pending deliveries.

Each worker, in one transaction: claims the due delivery heading its (subscription,
customer) queue (`FOR UPDATE SKIP LOCKED`, so replicas and workers share the work and a
customer's next event waits until the one before it is delivered or given up), POSTs the
event's envelope signed with the subscription's secret (and with the secret it replaced,
while a rotation's overlap lasts), records the outcome and commits.
The claim reads only the due rows of the queue table (one per (subscription, customer)
with pending deliveries) and their heads, never the backlog behind them.
Success is recorded only after the receiver's 2xx, so a crash in between means the
delivery is sent again (at least once; the receiver dedupes by `Webhook-Id` or the
event's `id`). Anything else is retried with exponential backoff and jitter until the
delivery is older than the maximum age, then it is `failed`.

Unless private addresses are allowed (a setting for local receivers), each attempt first
resolves the URL's host and fails without connecting when any of its addresses is not
public, so a name that resolves into our network later (DNS rebinding) is caught then.
In a confined deployment (`HUIKUAN_OUTBOUND_ALLOW`: every test stack) it also fails
without connecting when any of them is outside the allowed networks, private addresses
allowed or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import asyncpg
import httpx

from gateway.config import Settings
from gateway.domain.webhooks import Backoff, headers, jitter, signing_secrets
from gateway.store import webhooks as store
from huikuan_runtime import health
from huikuan_runtime.addresses import Network, resolution_problem
from huikuan_runtime.clock import Clock, SystemClock
from huikuan_runtime.db import TRANSIENT_ERRORS, service_pool

log = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 500
SWEEP_EVERY = timedelta(seconds=30)


def backoff_of(settings: Settings) -> Backoff:
    return Backoff(
        base=timedelta(seconds=settings.webhook_backoff_base_seconds),
        cap=timedelta(seconds=settings.webhook_backoff_cap_seconds),
        max_age=timedelta(seconds=settings.webhook_max_age_seconds),
    )


def http_client(settings: Settings) -> httpx.AsyncClient:
    timeout = settings.webhook_timeout_seconds
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
        follow_redirects=False,
        headers={"User-Agent": "Huikuan-Webhooks/1"},
        limits=httpx.Limits(max_connections=settings.webhook_workers * 2),
        trust_env=False,
    )


def _describe(exc: httpx.HTTPError) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:MAX_ERROR_LENGTH]


async def destination_problem(
    url: str, timeout: float, *, private: bool, only: Sequence[Network]
) -> str | None:
    """Why the dispatcher will not connect to `url`'s host now, or None: the host does not
    resolve (within `timeout` seconds), or one of its addresses is outside the networks
    `only` lists (a confined deployment) or, unless `private`, not public
    (`huikuan_runtime.addresses.resolution_problem`)."""
    problem = await resolution_problem(url, timeout, private=private, only=only)
    return None if problem is None else problem[:MAX_ERROR_LENGTH]


class Dispatcher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        client: httpx.AsyncClient,
        backoff: Backoff,
        *,
        jitter: Callable[[], float] = jitter,
        allow_private_addresses: bool = False,
        outbound_allow: Sequence[Network] = (),
    ) -> None:
        self._pool = pool
        self._client = client
        self._backoff = backoff
        self._jitter = jitter
        self._allow_private = allow_private_addresses
        self._outbound_allow = tuple(outbound_allow)
        self._swept_at: datetime | None = None

    async def deliver_one(self, now: datetime) -> bool:
        """Attempt the next delivery due at `now`; False when none is due."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await store.claim(conn, now)
            if row is None:
                return False
            body = bytes(row["payload"])
            keys = signing_secrets(
                row["secret"], row["previous_secret"], row["previous_secret_until"], now
            )
            sent = headers(str(row["delivery_id"]), keys, int(now.timestamp()), body)
            status: int | None = None
            error = await destination_problem(
                row["url"],
                self._client.timeout.connect or 5.0,
                private=self._allow_private,
                only=self._outbound_allow,
            )
            if error is None:
                try:
                    # Only the status matters: the receiver's body is never read.
                    async with self._client.stream(
                        "POST", row["url"], content=body, headers=sent
                    ) as r:
                        status = r.status_code
                except httpx.HTTPError as exc:
                    error = _describe(exc)
            delivered = status is not None and 200 <= status < 300
            if status is not None and not delivered:
                error = f"the receiver answered {status}"
            retry = (
                None
                if delivered
                else self._backoff.after_failure(
                    row["created_at"], row["attempts"] + 1, now, self._jitter()
                )
            )
            await store.record_attempt(
                conn,
                row,
                now=now,
                status=status,
                error=error,
                delivered=delivered,
                next_attempt_at=retry,
            )
        if not delivered:
            log.info(
                "webhook delivery failed",
                extra={
                    "delivery_id": str(row["delivery_id"]),
                    "status": status,
                    "error": error,
                    "gave_up": retry is None,
                },
            )
        return True

    async def _sweep(self, now: datetime) -> None:
        """At most every SWEEP_EVERY, busy or idle: clear queue rows with nothing left to
        send (store.sweep_queue), so they never pile up in front of the claims."""
        if self._swept_at is not None and now - self._swept_at < SWEEP_EVERY:
            return
        self._swept_at = now
        try:
            async with self._pool.acquire() as conn:
                await store.sweep_queue(conn, now)
        except (asyncpg.PostgresError, *TRANSIENT_ERRORS):
            log.exception("sweeping the webhook queue failed; trying again later")

    async def work(self, clock: Clock, stop: asyncio.Event, poll_seconds: float) -> None:
        """One worker: deliver while anything is due, otherwise wait `poll_seconds`."""
        while not stop.is_set():
            health.beat()
            try:
                found = await self.deliver_one(clock.now())
            except (asyncpg.PostgresError, *TRANSIENT_ERRORS):
                log.exception("webhook dispatch failed on the database; retrying")
                found = False
            await self._sweep(clock.now())
            if not found:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), poll_seconds)


async def run(settings: Settings) -> None:
    """`python -m gateway dispatch`, until SIGINT or SIGTERM; an attempt in flight ends
    (bounded by the webhook timeout) before the process does."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # httpx logs every request's URL at INFO; subscribers' URLs may carry their own tokens.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    clock = SystemClock()
    async with service_pool(settings) as pool, http_client(settings) as client:
        dispatcher = Dispatcher(
            pool,
            client,
            backoff_of(settings),
            allow_private_addresses=settings.webhook_allow_private_addresses,
            outbound_allow=settings.outbound_allow,
        )
        log.info("webhook dispatcher started", extra={"workers": settings.webhook_workers})
        await asyncio.gather(
            *(
                dispatcher.work(clock, stop, settings.webhook_poll_seconds)
                for _ in range(settings.webhook_workers)
            )
        )
        log.info("webhook dispatcher stopped")
