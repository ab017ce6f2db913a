"""What benchmarks share: a fresh database with the system running on it, a lean HTTP
client, percentiles.

Like the end-to-end tests, every benchmark run gets a database of its own on the test
profile's server (`huikuan_bench_<hex>`), dropped afterwards, so dev and test data are never
touched. Process logs stay under `.run/bench/<database>/logs`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import secrets
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench.run import Context
from huikuan_dev.stack import PROCESSES, Stack, free_port
from huikuan_dev.testing import start_groups_at_end


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@dataclass(frozen=True, slots=True)
class Running:
    stack: Stack
    database_url: str
    key: str  # an API key of the benchmark's tenant (all scopes)
    tenant: str

    @property
    def host_port(self) -> tuple[str, int]:
        return "127.0.0.1", self.stack.ports["gateway"]


@contextlib.asynccontextmanager
async def running_system(
    ctx: Context, *, pipeline: bool, tenant: str, from_now: bool = False
) -> AsyncIterator[Running]:
    """A fresh database, migrated, with the service processes started on free ports.

    `pipeline=False` starts the HTTP processes only (gateway, ledger, credit, reminders
    APIs): outbox rows are written but no relay publishes them and no consumer reads them,
    so request-path figures are not diluted by downstream work on a small machine.
    `pipeline=True` starts every process, as `make run` does. `from_now=True` makes its
    consumers start at the current end of the shared topics (see `start_groups_at_end`).
    """
    name = f"huikuan_bench_{secrets.token_hex(4)}"
    await _admin(ctx.database_url, f'CREATE DATABASE "{name}"')
    database_url = with_database(ctx.database_url, name)
    stack = Stack(
        ctx.root / ".run" / "bench" / name,
        database_url=database_url,
        kafka_bootstrap_servers=ctx.kafka_bootstrap_servers,
        ports={svc: free_port() for svc in ("gateway", "ledger", "credit", "reminders")},
        operator_key=f"bench-{secrets.token_hex(8)}",
        # Throughput is measured here, not the per-key rate limiter: lift it.
        extra_env={"GATEWAY_RATE_PER_SECOND": "1000000", "GATEWAY_RATE_BURST": "1000000"},
        group_suffix=name,
    )
    try:
        ctx.progress(f"database {name}: migrating")
        await asyncio.to_thread(stack.migrate)
        if from_now:
            groups = [f"{service}-{name}" for service in ("credit", "reminders", "gateway")]
            await start_groups_at_end(ctx.kafka_bootstrap_servers, groups)
        specs = [p for p in PROCESSES if pipeline or p.is_api]
        ctx.progress(f"starting {', '.join(p.name for p in specs)}")
        for spec in specs:
            stack.start_process(spec)
        await asyncio.to_thread(stack.wait_ready)
        key = await asyncio.to_thread(stack.create_tenant_key, tenant, f"Bench {tenant}")
        yield Running(stack, database_url, key, tenant)
    finally:
        await asyncio.to_thread(stack.stop)
        if os.environ.get("BENCH_KEEP_DB"):
            ctx.progress(f"kept database {name} (BENCH_KEEP_DB)")
        else:
            await _admin(ctx.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class HttpError(RuntimeError):
    pass


class Http:
    """One keep-alive HTTP/1.1 connection with as little client-side work as possible.

    The client runs on the same cores as the system it measures; httpx spends several
    times more CPU per request than this, which the services would then not get.
    """

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(
                self.host, self.port, limit=2**24
            )
        return self._reader, self._writer

    async def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        reader, writer = await self._connect()
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self._fixed}"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        writer.write(head.encode() + b"\r\n" + (body or b""))
        await writer.drain()
        status_line = await reader.readline()
        if not status_line:
            await self.close()
            raise HttpError(f"{method} {path}: the server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length: int | None = None
        chunked = close = False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
            elif name == "connection" and value == "close":
                close = True
        if chunked:
            parts = []
            while (size := int((await reader.readline()).split(b";")[0], 16)) > 0:
                parts.append(await reader.readexactly(size))
                await reader.readline()
            await reader.readline()
            data = b"".join(parts)
        elif length is not None:
            data = await reader.readexactly(length)
        else:
            data = await reader.read()
            close = True
        if close:
            await self.close()
        return status, data

    async def json(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        raw = None if body is None else json.dumps(body).encode()
        status, data = await self.request(method, path, raw)
        return status, json.loads(data) if data else None

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None


def api_client(system: Running) -> Http:
    host, port = system.host_port
    return Http(host, port, {"Authorization": f"Bearer {system.key}"})


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process (Linux /proc), None when unreadable."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds spent over a span by each service process, by the PostgreSQL backends
    serving the benchmark's database, and by the benchmark process itself.

    CPU time is far less noisy than wall time on a shared machine, and says where the work
    goes. Needs Linux and a local PostgreSQL; what cannot be read is left out.
    """

    def __init__(self, system: Running | None, conn: asyncpg.Connection) -> None:
        self.system = system  # None: no service processes, only PostgreSQL and the bench
        self.conn = conn  # its own backend is left out
        self.totals: dict[str, float] = {}
        self._start: dict[str, float] = {}

    async def _read(self) -> dict[str, float]:
        found: dict[str, float] = {"bench": time.process_time()}
        procs = self.system.stack.procs.items() if self.system is not None else ()
        for name, proc in procs:
            if (seconds := _cpu_seconds(proc.pid)) is not None:
                found[name] = seconds
        for row in await self.conn.fetch(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ):
            if (seconds := _cpu_seconds(row["pid"])) is not None:
                found[f"pg:{row['pid']}"] = seconds
        return found

    async def start(self) -> None:
        self._start = await self._read()

    async def stop(self) -> None:
        """Add the CPU spent since `start` to `totals` (backends summed as `postgres`)."""
        for key, value in (await self._read()).items():
            before = self._start.get(key, 0.0 if key.startswith("pg:") else value)
            name = "postgres" if key.startswith("pg:") else key
            self.totals[name] = self.totals.get(name, 0.0) + max(0.0, value - before)

    def per(self, units: float, scale: float = 1000.0) -> dict[str, float]:
        """Milliseconds of CPU per `units` / `scale` (e.g. per 1,000 invoices), busy ones only."""
        return {
            name: round(seconds * 1000 / units * scale, 2)
            for name, seconds in sorted(self.totals.items())
            if seconds > 0.005
        }


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


__all__ = [
    "CpuMeter",
    "Http",
    "HttpError",
    "Running",
    "api_client",
    "median",
    "percentile",
    "running_system",
    "start_groups_at_end",
]
