"""Process plumbing shared by the services: the app factory, and the `api`, `relay`,
`consume` and `migrate` modes behind `python -m <service> <mode>`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from typing import Any, TypeVar

import asyncpg
import uvicorn
import uvloop
from fastapi import APIRouter, Depends, FastAPI

from huikuan_runtime import health, rebuild
from huikuan_runtime.consumer import ConsumerSpec, EventConsumer
from huikuan_runtime.db import (
    TRANSIENT_ERRORS,
    check_search_path,
    connect,
    create_pool,
    service_pool,
)
from huikuan_runtime.http import (
    RequestContextMiddleware,
    health_router,
    install_problem_handlers,
    internal_auth,
)
from huikuan_runtime.kafka import KafkaProbe, ensure_topics, make_consumer, make_producer
from huikuan_runtime.logs import configure_logging
from huikuan_runtime.migrations import migrate, plan
from huikuan_runtime.ops import Gauges, ops_router
from huikuan_runtime.relay import OutboxRelay
from huikuan_runtime.settings import ServiceSettings

log = logging.getLogger(__name__)

S = TypeVar("S", bound=ServiceSettings)


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    routers: Sequence[APIRouter],
    internal: bool = True,
    version: str = "0.1.0",
    resources: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
    consumes: tuple[str, ...] = (),
    ops_gauges: Gauges | None = None,
    **fastapi_options: Any,
) -> FastAPI:
    """A service's internal HTTP app: a pool and a Kafka probe for its lifetime, problem+json
    errors, request context, health endpoints; every router behind the internal credential
    unless `internal` is false. `resources` opens what else the app needs for its lifetime.
    `GET /ops/status` (always internal) reports the group reading `consumes`, the outbox and
    `ops_gauges` to the gateway's ops view."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        probe = KafkaProbe(settings.kafka, f"{settings.service_name}-api")
        async with service_pool(settings) as pool:
            app.state.pool = pool
            app.state.settings = settings
            app.state.kafka_probe = probe
            try:
                if resources is None:
                    yield
                else:
                    async with resources(app):
                        yield
            finally:
                await probe.close()

    app = FastAPI(title=title, version=version, lifespan=lifespan, **fastapi_options)
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_request_bytes)

    def checks() -> dict[str, Any]:
        async def database() -> None:
            await app.state.pool.fetchval("SELECT 1")

        return {"database": database, "kafka": app.state.kafka_probe.check}

    app.include_router(health_router(checks))
    internal_only = [Depends(internal_auth(settings.internal_token.get_secret_value()))]
    for router in routers:
        app.include_router(router, dependencies=internal_only if internal else [])
    app.state.ops_consumes = consumes
    app.include_router(
        ops_router(settings, consumes=consumes, gauges=ops_gauges), dependencies=internal_only
    )
    return app


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def run_relay(settings: ServiceSettings) -> None:
    stop = asyncio.Event()
    _stop_on_signals(stop)
    producer = make_producer(settings.kafka, f"{settings.service_name}-relay")
    await producer.start()
    try:
        async with service_pool(settings) as pool:
            relay = OutboxRelay(
                pool,
                producer,
                settings.db_schema,
                batch_size=settings.relay_batch_size,
                poll_seconds=settings.relay_poll_seconds,
                listen=settings.database.listen,
                namespace=settings.kafka_namespace,
            )
            await relay.run(stop)
    finally:
        await producer.stop()


async def run_consumer(settings: ServiceSettings, spec: ConsumerSpec) -> None:
    """Consume `spec.topics` (logical names) in the deployment's namespace as `spec` says,
    until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    _stop_on_signals(stop)
    namespace = settings.kafka_namespace
    dlq = make_producer(settings.kafka, f"{settings.consumer_group}-dlq")
    consumer = make_consumer(
        settings.kafka,
        settings.consumer_group,
        namespace.topics(spec.topics),
        max_poll_records=max(500, spec.batch_size),
    )
    await dlq.start()
    await consumer.start()
    try:
        async with service_pool(settings) as pool:
            loop = EventConsumer(
                name=settings.service_name,
                pool=pool,
                handlers=spec.handlers,
                dlq_producer=dlq,
                max_retries=settings.consumer_max_retries,
                retry_backoff_seconds=settings.consumer_retry_backoff_seconds,
                batch_size=spec.batch_size,
                run_handler=spec.run_handler,
                admit=spec.admit,
                dead_letter_topic=namespace.dead_letter_topic(settings.service_name),
            )
            await loop.run(consumer, stop)
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()
        await dlq.stop()


async def run_every(
    settings: ServiceSettings,
    interval: float,
    job: Callable[[asyncpg.Pool], Awaitable[None]],
    what: str,
) -> None:
    """A scheduler mode: run `job` now, then every `interval` seconds, until SIGINT or
    SIGTERM. A run that fails on the database or the network is logged and retried at the
    next interval; any other error stops the process (a bug should be seen, not looped)."""
    stop = asyncio.Event()
    _stop_on_signals(stop)
    async with service_pool(settings) as pool:
        while not stop.is_set():
            health.beat()
            try:
                await job(pool)
            except (asyncpg.PostgresError, *TRANSIENT_ERRORS):
                log.exception(f"{what} failed; retrying at the next interval")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)


async def run_api(settings: ServiceSettings, app: FastAPI) -> None:
    # httptools parses requests in C (h11, pure Python, cost the gateway about 8 % of its
    # CPU per proxied read); our middleware logs each request, so uvicorn's access log is off.
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http="httptools",
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    await uvicorn.Server(config).serve()


def serve_api(settings: ServiceSettings, app: FastAPI) -> None:
    """Serve `app` on uvloop, libuv's event loop (less CPU per request than asyncio's)."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run_api(settings, app))


async def run_setup(settings: ServiceSettings, migrations: Traversable) -> None:
    """Apply migrations, then create the Kafka topics of the namespace that are missing.
    Through a transaction pooler, also make sure the role finds its schema: a deployment
    whose role was not set up fails here, before any of its processes starts."""
    conn = await connect(settings.database)
    try:
        applied = await migrate(conn, settings.db_schema, plan(migrations))
        if settings.database.pool_mode == "transaction":
            await check_search_path(conn, settings.db_schema)
    finally:
        await conn.close()
    log.info("migrated", extra={"schema": settings.db_schema, "applied": applied})
    await ensure_topics(settings.kafka, settings.kafka_namespace.all_topics, settings.topic_layout)


@dataclass
class ServiceSpec:
    """What `python -m <service>` can run. `consumer` (from the settings) makes the
    `consume` mode; `relay` is false for a service that publishes no events (its outbox
    stays empty: no relay mode); `extra_modes` are the service's own, beside the standard
    ones. `projection` classifies the tables for `rebuild`; a service that keeps none says
    why in `no_projection`, and `rebuild` answers that."""

    name: str
    settings: Callable[[], ServiceSettings]
    app: Callable[[Any], FastAPI]
    migrations: Traversable  # inside the package: `package_migrations(name)`
    consumer: Callable[[Any], ConsumerSpec] | None = None
    extra_modes: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    relay: bool = True
    projection: rebuild.Projection | None = None
    no_projection: str = ""

    def __post_init__(self) -> None:
        standard = {"api", "migrate", "relay", "consume", "rebuild"}
        if shadowed := set(self.extra_modes) & standard:
            raise ValueError(f"{self.name}: extra modes replace standard ones: {shadowed}")
        if (self.projection is None) == (not self.no_projection):
            raise ValueError(f"{self.name}: a projection to rebuild, or why there is none")
        if self.projection is not None and self.consumer is None:
            raise ValueError(f"{self.name}: a projection is rebuilt by the service's consumer")

    @property
    def modes(self) -> list[str]:
        """What `python -m <service> <mode>` accepts: `migrate`, which runs to completion,
        and the modes of the service's long-running processes."""
        relay = ["relay"] if self.relay else []
        consume = ["consume"] if self.consumer is not None else []
        return ["api", "migrate", *relay, *consume, *self.extra_modes]


def _arguments(spec: ServiceSpec) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m {spec.name}")
    modes = parser.add_subparsers(dest="mode", required=True, metavar="mode")
    for mode in spec.modes:
        modes.add_parser(mode)
    rebuilding = modes.add_parser(
        "rebuild",
        help="rebuild the projection from the topics into a fresh schema (docs/operations.md)",
        description=rebuild.__doc__.split("\n\n")[0] if rebuild.__doc__ else None,
    )
    rebuilding.add_argument(
        "--into",
        metavar="SCHEMA",
        help="the schema to rebuild into (default: the service's schema + `_rebuild`)",
    )
    rebuilding.add_argument(
        "--switch",
        action="store_true",
        help="with every process of the service stopped: catch up, carry the service's own "
        "records over and make the rebuilt schema the live one",
    )
    rebuilding.add_argument(
        "--batch-size", type=int, metavar="N", help="events applied per transaction"
    )
    rebuilding.add_argument(
        "--progress-seconds",
        type=float,
        default=2.0,
        metavar="S",
        help="how often progress is shown on stderr (default 2)",
    )
    return parser


def main(spec: ServiceSpec, argv: Sequence[str] | None = None) -> None:
    args = _arguments(spec).parse_args(argv)
    if args.mode == "rebuild" and spec.projection is None:
        print(f"{spec.name} has nothing to rebuild: {spec.no_projection}", file=sys.stderr)
        raise SystemExit(2)
    settings = spec.settings()
    configure_logging(f"{spec.name}.{args.mode}", settings.log_level)
    if args.mode == "rebuild" and spec.projection is not None and spec.consumer is not None:
        options = rebuild.Options(
            target=args.into,
            switch=args.switch,
            batch_size=args.batch_size,
            progress_seconds=args.progress_seconds,
        )
        status = asyncio.run(
            rebuild.run(
                settings, spec.consumer(settings), spec.projection, spec.migrations, options
            )
        )
        raise SystemExit(status)
    if args.mode == "api":
        serve_api(settings, spec.app(settings))
    elif args.mode == "migrate":
        asyncio.run(run_setup(settings, spec.migrations))
    elif args.mode == "relay":
        asyncio.run(_observed(settings, args.mode, run_relay(settings)))
    elif args.mode == "consume" and spec.consumer is not None:
        consuming = run_consumer(settings, spec.consumer(settings))
        asyncio.run(_observed(settings, args.mode, consuming))
    else:
        working = spec.extra_modes[args.mode](settings)
        asyncio.run(_observed(settings, args.mode, working))


async def _observed(settings: ServiceSettings, mode: str, work: Awaitable[Any]) -> None:
    """A worker mode, with its health endpoints beside it when `health_port` is set."""
    async with health.serving(settings, mode):
        await work


__all__ = ["ServiceSpec", "create_pool", "create_service_app", "main"]
