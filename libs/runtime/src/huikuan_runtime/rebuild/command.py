"""The `rebuild` mode: prepare the schema, replay, and, with `--switch`, make it the live
one; a summary on stdout."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources.abc import Traversable
from typing import TextIO

import asyncpg

from huikuan_runtime.consumer import ConsumerSpec
from huikuan_runtime.kafka import make_admin
from huikuan_runtime.rebuild.replay import catch_up, group_members
from huikuan_runtime.rebuild.tables import (
    MAX_NAME,
    RUNTIME_CARRIED,
    RUNTIME_REBUILT,
    Projection,
    Refused,
    carry,
    check_classified,
    check_name,
    live_connections,
    migrations_of,
    prepare_schema,
    row_counts,
    schema_oid,
)
from huikuan_runtime.settings import ServiceSettings


@dataclass(frozen=True)
class Options:
    target: str | None = None  # default: `<schema>_rebuild`
    switch: bool = False
    batch_size: int | None = None  # default: the consumer's, at least 200
    progress_seconds: float = 2.0


async def run(
    settings: ServiceSettings,
    spec: ConsumerSpec,
    projection: Projection,
    migrations: Traversable,
    options: Options,
    *,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """The `rebuild` mode; its exit status (0 done, 1 interrupted, 2 refused)."""
    try:
        return await _run(settings, spec, projection, migrations, options, out, err)
    except Refused as exc:
        print(f"{settings.service_name} rebuild refused: {exc}", file=err, flush=True)
        return 2


async def _run(
    settings: ServiceSettings,
    spec: ConsumerSpec,
    projection: Projection,
    migrations: Traversable,
    options: Options,
    out: TextIO,
    err: TextIO,
) -> int:
    service, live = settings.service_name, check_name(settings.db_schema)
    target = check_name(options.target or f"{live}_rebuild")
    if target == live:
        raise Refused(f"the rebuild cannot go into the live schema {live}")
    if spec.admit is not None:  # what it passes over depends on the state it reads now
        raise Refused("a consumer with an `admit` hook cannot be replayed into a projection")
    conn = await asyncpg.connect(settings.database_url)
    try:
        oid, inputs = await _prepare(conn, settings, projection, migrations, target, options)
    finally:
        await conn.close()
    outcome = await catch_up(
        settings,
        spec,
        target,
        oid,
        batch_size=options.batch_size or max(spec.batch_size, 200),
        progress_seconds=options.progress_seconds,
        err=err,
    )
    lines = outcome.lines(spec.topics, settings.consumer_group)
    if outcome.interrupted:
        _summary(out, f"{service}: rebuild into {target} interrupted; run it again", lines)
        return 1
    conn = await asyncpg.connect(settings.database_url)
    try:
        counts = await row_counts(conn, target, (*projection.tables, *RUNTIME_REBUILT))
        lines.append("rebuilt         " + _written(counts))
        if not options.switch:
            lines += [
                "copied          " + _written(inputs) + f" (the service's own, from {live})"
                if projection.inputs
                else "own records     carried over at the switch, not now (the replay would "
                "apply events to them a second time)",
                f"next            run this again to catch up; to switch, stop every {service} "
                f"process and run `python -m {service} rebuild --into {target} --switch`",
            ]
            _summary(out, f"{service}: rebuilt into schema {target} (not live)", lines)
            return 0
        retired, own = await _switch(conn, settings, projection, target)
    finally:
        await conn.close()
    lines += [
        "copied          " + _written(own) + f" (the service's own, from {live})",
        f"retired         the old schema is {retired}: rename it back to undo, drop it "
        f"(DROP SCHEMA {retired} CASCADE) once the service is checked",
        f"next            start {service}'s processes; its consumer group resumes where it stopped",
    ]
    _summary(out, f"{service}: switched; schema {live} is the rebuilt one", lines)
    return 0


async def _prepare(
    conn: asyncpg.Connection,
    settings: ServiceSettings,
    projection: Projection,
    migrations: Traversable,
    target: str,
    options: Options,
) -> tuple[int, dict[str, int]]:
    """The target schema, created or taken up, migrated and checked, with the service's
    inputs copied in: its oid and what was copied. A switch is refused before anything is
    written while the service runs."""
    live = settings.db_schema
    if await schema_oid(conn, live) is None:
        raise Refused(f"the live schema {live} does not exist (run `migrate` first)")
    if options.switch:
        await _service_stopped(settings, conn, live)
    oid = await prepare_schema(conn, live, target, migrations)
    await check_classified(conn, target, projection)
    if options.switch and await migrations_of(conn, live) != await migrations_of(conn, target):
        raise Refused(
            f"{live} and {target} are not at the same migrations: run "
            f"`python -m {settings.service_name} migrate`, then the rebuild again"
        )
    async with conn.transaction():
        inputs = await carry(conn, live, target, projection.inputs)
    return oid, inputs


async def _switch(
    conn: asyncpg.Connection, settings: ServiceSettings, projection: Projection, target: str
) -> tuple[str, dict[str, int]]:
    """In one transaction: the service's own records copied into `target`, the live schema
    renamed out of the way and `target` renamed into its place. The retired schema's name
    and what was copied."""
    live = settings.db_schema
    await _service_stopped(settings, conn, live)  # nobody started it during the catch-up
    retired = f"{live}_retired_{datetime.now(UTC):%Y%m%d%H%M%S}"[:MAX_NAME]
    async with conn.transaction():
        own = await carry(
            conn, live, target, (*projection.inputs, *projection.carried, *RUNTIME_CARRIED)
        )
        await conn.execute(f"ALTER SCHEMA {live} RENAME TO {retired}")
        await conn.execute(f"ALTER SCHEMA {target} RENAME TO {live}")
        await conn.execute(f"COMMENT ON SCHEMA {live} IS NULL")
        await conn.execute(f"COMMENT ON SCHEMA {retired} IS 'huikuan: {live} before a rebuild'")
    return retired, own


async def _service_stopped(settings: ServiceSettings, conn: asyncpg.Connection, live: str) -> None:
    """Refuse the switch while the service runs: its group has members, or its processes
    are connected."""
    admin = make_admin(settings.kafka, f"{settings.consumer_group}.rebuild")
    await admin.start()
    try:
        members = await group_members(admin, settings.consumer_group)
    finally:
        await admin.close()
    if members:
        raise Refused(
            f"consumer group {settings.consumer_group} has {members} member(s): stop every "
            f"`python -m {settings.service_name} consume` first"
        )
    if sessions := await live_connections(conn, live):
        raise Refused(
            f"processes of {settings.service_name} are connected ({', '.join(sessions[:5])}): "
            "stop every one of its processes (api, relay, consume and the periodic ones) first"
        )


def _written(counts: dict[str, int]) -> str:
    return " · ".join(f"{label} {n:,}" for label, n in counts.items()) or "nothing"


def _summary(out: TextIO, head: str, lines: list[str]) -> None:
    print(head, *(f"  {line}" for line in lines), sep="\n", file=out, flush=True)
