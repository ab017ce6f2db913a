"""Health of the processes that are not HTTP APIs (relays, consumers, the dispatcher, the
schedulers): with `<PREFIX>HEALTH_PORT` set, such a process also serves, on that port,

- `/healthz`: the process is up (its event loop answers);
- `/readyz`: the database and Kafka answer, and its loop is alive — the loop beats
  (`beat()`) every time round, and a loop that has not beaten for `<PREFIX>LOOP_STALL_SECONDS`
  is stuck: not ready (503), so an orchestrator stops sending it work and may restart it;
- `/metrics`: its Prometheus counters, which nobody could scrape before.

Off (no port) by default: several workers share one machine under `make run`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import uvicorn
from fastapi import FastAPI

from huikuan_runtime.db import create_pool
from huikuan_runtime.http import health_router
from huikuan_runtime.kafka import KafkaProbe
from huikuan_runtime.settings import ServiceSettings


class Heartbeat:
    """When the process's loop last went round (monotonic seconds)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last = clock()

    def beat(self) -> None:
        self._last = self._clock()

    def stalled_for(self) -> float:
        return self._clock() - self._last


# The process's one loop beats here (a process runs one mode).
HEARTBEAT = Heartbeat()


def beat() -> None:
    """The loop went round: call once per iteration of a worker's main loop."""
    HEARTBEAT.beat()


class Stalled(Exception):
    pass


def loop_check(heartbeat: Heartbeat, stall_seconds: float) -> Callable[[], Any]:
    async def loop() -> None:
        stalled = heartbeat.stalled_for()
        if stalled > stall_seconds:
            raise Stalled(f"the loop has not gone round for {stalled:.0f} s")

    return loop


def health_app(
    settings: ServiceSettings, heartbeat: Heartbeat, pool: Any, probe: KafkaProbe
) -> FastAPI:
    app = FastAPI(title=f"{settings.service_name} health", openapi_url=None, docs_url=None)

    async def database() -> None:
        await pool.fetchval("SELECT 1")

    def checks() -> dict[str, Callable[[], Any]]:
        return {
            "database": database,
            "kafka": probe.check,
            "loop": loop_check(heartbeat, settings.loop_stall_seconds),
        }

    app.include_router(health_router(checks))
    return app


@contextlib.asynccontextmanager
async def serving(settings: ServiceSettings, mode: str) -> AsyncIterator[None]:
    """Serve the health endpoints while the block runs, when the settings name a port."""
    if settings.health_port is None:
        yield
        return
    HEARTBEAT.beat()
    probe = KafkaProbe(settings.kafka, f"{settings.service_name}-{mode}-health")
    # One connection is all a readiness check needs, beside the worker's own pool.
    pool = await create_pool(settings.database, settings.db_schema, min_size=0, max_size=1)
    try:
        app = health_app(settings, HEARTBEAT, pool, probe)
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.health_port,
            log_config=None,
            access_log=False,
            lifespan="off",
        )
        server = uvicorn.Server(config)
        # The process's own SIGTERM handling stops its loop (and then this server); uvicorn
        # must not take the signals over while it serves beside it.
        server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
        task = asyncio.create_task(server.serve())
        try:
            yield
        finally:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 5)
            await probe.close()
    finally:
        await pool.close()
